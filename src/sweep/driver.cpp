#include "attnsweep/sweep/driver.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"

namespace attnsweep::sweep {

volatile std::sig_atomic_t g_stop_signal = 0;

namespace {
// The launcher (mpirun, slurmstepd) that started this rank. If it dies (kill -9, node
// loss) the rank is an orphan: it leaves at once. The journal is durable record by record
// and the HDF5 file is replaced atomically, so there is nothing to tidy up.
pid_t g_launcher = 0;
void leave_if_orphaned() {
  if (g_launcher != 0 && ::getppid() != g_launcher) std::_Exit(kExitStopped);
}

using Clock = std::chrono::steady_clock;

enum Tag : int { kTagTask = 1, kTagResult = 2, kTagStop = 3, kTagStopped = 4 };
constexpr int kTasksInFlightPerWorker = 2;  // one computing, one queued: no gap between tasks
constexpr int kLocalWorkerMaxRanks = 8;

extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
template <class T>
T get(const std::string& in, size_t& at) {
  if (at + sizeof(T) > in.size()) throw std::runtime_error("truncated message");
  T value;
  std::memcpy(&value, in.data() + at, sizeof value);
  at += sizeof value;
  return value;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

// Work shared between the master loop and rank 0's local compute thread.
struct LocalWork {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Task> queue;
  std::vector<TaskResult> done;
  bool finish = false;
  bool busy = false;
};
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaction(s, &action, nullptr);
}

std::set<std::int64_t> injected_failures() {
  std::set<std::int64_t> cells;
  const char* text = std::getenv("ATTNSWEEP_INJECT_FAILURE");
  if (!text) return cells;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) cells.insert(std::stoll(item));
  }
  return cells;
}

TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop) {
  TaskResult result;
  result.task = task;
  const auto start = Clock::now();
  for (std::int64_t cell : task.cells) {
    CellOutcome outcome;
    outcome.cell = cell;
    if (inject.count(cell)) {
      outcome.ok = false;
      outcome.error = "injected failure (ATTNSWEEP_INJECT_FAILURE)";
    }
    result.outcomes.push_back(std::move(outcome));
  }
  try {
    const mc::CellParams base = grid.cell(task.cells.front());
    for (std::uint64_t t = task.first_trial; t < task.first_trial + task.trial_count; ++t) {
      if (g_stop_signal || should_stop()) {
        result.abandoned = true;
        break;
      }
      std::vector<size_t> live;
      std::vector<double> gammas;
      for (size_t k = 0; k < result.outcomes.size(); ++k) {
        if (!result.outcomes[k].ok) continue;
        live.push_back(k);
        gammas.push_back(grid.cell(result.outcomes[k].cell).gamma);
      }
      if (live.empty()) break;
      std::vector<std::string> errors;
      const std::vector<mc::TrialResult> values = mc::run_trial_over_gamma(base, gammas, t, errors);
      for (size_t j = 0; j < live.size(); ++j) {
        CellOutcome& outcome = result.outcomes[live[j]];
        const mc::TrialResult& r = values[j];
        if (!errors[j].empty()) {
          outcome.ok = false;
          outcome.error = errors[j];
        } else if (!std::isfinite(r.lambda) || !std::isfinite(r.eta)) {
          outcome.ok = false;
          outcome.error = "non-finite result at trial " + std::to_string(t) + " (lambda " + std::to_string(r.lambda) +
                          ", eta " + std::to_string(r.eta) + ")";
        } else {
          outcome.samples.add(t, r);
        }
      }
    }
  } catch (const std::exception& e) {
    // Token drawing or normalisation failed: every cell of the task shares that failure.
    for (CellOutcome& outcome : result.outcomes) {
      if (outcome.ok) {
        outcome.ok = false;
        outcome.error = e.what();
      }
    }
  }
  result.seconds = seconds_since(start);
  return result;
}

std::string encode(const Task& task) {
  std::string out;
  put(out, static_cast<std::uint64_t>(task.cells.size()));
  for (std::int64_t cell : task.cells) put(out, cell);
  put(out, task.first_trial);
  put(out, task.trial_count);
  put(out, task.estimated_seconds);
  return out;
}

namespace {
Task read_task(const std::string& bytes, size_t& at) {
  Task t;
  const auto count = get<std::uint64_t>(bytes, at);
  if (count == 0 || count > bytes.size()) throw std::runtime_error("malformed task message");
  for (std::uint64_t i = 0; i < count; ++i) t.cells.push_back(get<std::int64_t>(bytes, at));
  t.first_trial = get<std::uint64_t>(bytes, at);
  t.trial_count = get<std::uint64_t>(bytes, at);
  t.estimated_seconds = get<double>(bytes, at);
  return t;
}
}  // namespace

Task decode_task(const std::string& bytes) {
  size_t at = 0;
  return read_task(bytes, at);
}

std::string encode(const TaskResult& r) {
  std::string out = encode(r.task);
  put(out, static_cast<std::uint8_t>(r.abandoned));
  put(out, r.seconds);
  for (const CellOutcome& outcome : r.outcomes) {
    put(out, outcome.cell);
    put(out, static_cast<std::uint8_t>(outcome.ok));
    put(out, static_cast<std::uint64_t>(outcome.samples.size()));
    for (const auto& [trial, value] : outcome.samples.by_trial()) {
      put(out, trial);
      put(out, value.lambda);
      put(out, value.eta);
    }
    put(out, static_cast<std::uint32_t>(outcome.error.size()));
    out += outcome.error;
  }
  return out;
}

TaskResult decode_result(const std::string& bytes) {
  TaskResult r;
  size_t at = 0;
  r.task = read_task(bytes, at);
  r.abandoned = get<std::uint8_t>(bytes, at) != 0;
  r.seconds = get<double>(bytes, at);
  for (size_t k = 0; k < r.task.cells.size(); ++k) {
    CellOutcome outcome;
    outcome.cell = get<std::int64_t>(bytes, at);
    outcome.ok = get<std::uint8_t>(bytes, at) != 0;
    const auto count = get<std::uint64_t>(bytes, at);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto trial = get<std::uint64_t>(bytes, at);
      mc::TrialResult value;
      value.lambda = get<double>(bytes, at);
      value.eta = get<double>(bytes, at);
      outcome.samples.add(trial, value);
    }
    const auto size = get<std::uint32_t>(bytes, at);
    if (at + size > bytes.size()) throw std::runtime_error("truncated message");
    outcome.error = bytes.substr(at, size);
    at += size;
    r.outcomes.push_back(std::move(outcome));
  }
  return r;
}

namespace {

// ---------------------------------------------------------------- worker ranks
int run_worker(const Grid& grid) {
  const auto inject = injected_failures();
  std::deque<Task> queue;
  bool finished = false;
  // Between trials: has the master said stop (time limit, or a signal only it received)?
  const auto stop_requested = [] {
    int flag = 0;
    parallel::check(MPI_Iprobe(0, kTagStop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
    return flag != 0;
  };
  while (!finished) {
    int source = 0, tag = 0;
    // Drain what the master sent; sleep briefly when there is nothing to do (Open MPI's
    // blocking receive spins and would steal a core from the ranks that compute).
    while (parallel::message_waiting(source, tag)) {
      const std::string bytes = parallel::receive_bytes(source, tag);
      if (tag == kTagTask) queue.push_back(decode_task(bytes));
      if (tag == kTagStop) finished = true;
    }
    if (g_stop_signal) finished = true;
    if (finished) break;
    leave_if_orphaned();
    if (queue.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const Task task = queue.front();
    queue.pop_front();
    const TaskResult result = run_task(grid, task, inject, stop_requested);
    parallel::send_bytes(encode(result), 0, kTagResult);
  }
  parallel::send_bytes("", 0, kTagStopped);
  return g_stop_signal ? kExitStopped : kExitOk;
}

// ---------------------------------------------------------------- master (rank 0)
struct CellProgress {
  mc::CellSamples samples;
  std::uint64_t trials_needed = 0;
  double seconds = 0;
  int failures = 0;
  int attempts_before = 0;
  bool given_up = false;
};

class Master {
 public:
  Master(const Grid& grid, const RunOptions& options, io::Journal& journal, io::SweepState& state,
         const std::string& output, int ranks, std::int64_t first, std::int64_t last)
      : grid_(grid),
        options_(options),
        journal_(journal),
        state_(state),
        output_(output),
        ranks_(ranks),
        first_(first),
        last_(last) {}

  int run(std::vector<std::int64_t> cells, const CostModel& cost) {
    start_ = Clock::now();
    const bool local_worker = ranks_ <= kLocalWorkerMaxRanks;
    const int workers = (ranks_ - 1) + (local_worker ? 1 : 0);
    std::deque<Task> tasks;
    for (const Task& t : plan_tasks(grid_, cells, cost, workers)) tasks.push_back(t);
    for (std::int64_t cell : cells) {
      auto& p = progress_[cell];
      p.trials_needed = grid_.config().trials;
      p.attempts_before = state_.attempts[static_cast<size_t>(cell)];
    }
    cells_total_ = static_cast<std::int64_t>(progress_.size());
    restore_journaled_trials(tasks);
    for (const Task& t : tasks) total_estimate_ += t.estimated_seconds;
    if (trials_restored_ > 0) {
      std::fprintf(stderr, "[attnsweep] %.0f finished trials of unfinished cells restored from the journal\n",
                   trials_restored_);
    }
    queue_ = std::move(tasks);

    std::thread local_thread;
    if (local_worker) local_thread = std::thread([this] { local_compute_loop(); });

    std::vector<int> in_flight(static_cast<size_t>(ranks_), 0);
    bool stopping = false;
    // A first snapshot at once: the file exists (and query/status work) from the start.
    snapshot();
    while (true) {
      const auto busy_start = Clock::now();
      bool did_something = false;
      leave_if_orphaned();
      if (g_stop_signal || time_exhausted()) stopping = true;

      // Results from remote workers.
      int source = 0, tag = 0;
      while (parallel::message_waiting(source, tag)) {
        const std::string bytes = parallel::receive_bytes(source, tag);
        did_something = true;
        if (tag == kTagResult) {
          --in_flight[static_cast<size_t>(source)];
          accept(decode_result(bytes));
        } else if (tag == kTagStopped) {
          stopped_workers_.insert(source);
        }
      }
      // Results from the local thread.
      std::vector<TaskResult> local_done;
      {
        std::lock_guard lock(local_.mutex);
        local_done.swap(local_.done);
      }
      for (auto& r : local_done) {
        accept(std::move(r));
        did_something = true;
      }

      // Hand out work: keep each remote worker two tasks deep, the local thread one.
      if (!stopping) {
        for (int w = 1; w < ranks_; ++w) {
          while (in_flight[static_cast<size_t>(w)] < kTasksInFlightPerWorker && next_task_fits()) {
            outbox_.post(encode(queue_.front()), w, kTagTask);
            queue_.pop_front();
            ++in_flight[static_cast<size_t>(w)];
            did_something = true;
          }
        }
        if (local_worker) {
          std::lock_guard lock(local_.mutex);
          if (local_.queue.empty() && !local_.busy && next_task_fits()) {
            local_.queue.push_back(queue_.front());
            queue_.pop_front();
            local_.wake.notify_one();
            did_something = true;
          }
        }
      }

      int remote_in_flight = 0;
      for (int w = 1; w < ranks_; ++w) remote_in_flight += in_flight[static_cast<size_t>(w)];
      bool local_idle = true;
      if (local_worker) {
        std::lock_guard lock(local_.mutex);
        local_idle = local_.queue.empty() && !local_.busy && local_.done.empty();
      }
      const bool nothing_in_flight = remote_in_flight == 0 && local_idle;
      if (stopping) {
        if (!stop_sent_) {
          // Abandon in-flight work: workers report what they finished, then acknowledge.
          for (int w = 1; w < ranks_; ++w) outbox_.post("", w, kTagStop);
          stop_sent_ = true;
          local_stop_ = true;
        }
        if (local_idle) break;
      } else if (nothing_in_flight && !next_task_fits()) {
        if (!queue_.empty()) stopping = true;  // the time budget cannot fit what is left
        break;
      }

      outbox_.progress();
      busy_seconds_ += seconds_since(busy_start);
      report_progress(false);
      if (seconds_since(last_snapshot_) >= options_.snapshot_every && dirty_) snapshot();
      if (!did_something) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    // Shut down: local thread, then every worker acknowledges.
    {
      std::lock_guard lock(local_.mutex);
      local_.finish = true;
      local_.wake.notify_all();
    }
    if (local_thread.joinable()) local_thread.join();
    if (!stop_sent_) {
      for (int w = 1; w < ranks_; ++w) outbox_.post("", w, kTagStop);
    }
    while (static_cast<int>(stopped_workers_.size()) < ranks_ - 1) {
      int source = 0, tag = 0;
      leave_if_orphaned();
      if (!parallel::message_waiting(source, tag)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const std::string bytes = parallel::receive_bytes(source, tag);
      if (tag == kTagResult) accept(decode_result(bytes));  // finished before it saw the stop
      if (tag == kTagStopped) stopped_workers_.insert(source);
    }
    outbox_.drain();  // every worker has stopped, so every send has been received
    snapshot();
    report_progress(true);
    const double wall = seconds_since(start_);
    std::fprintf(stderr, "[attnsweep] master busy %.2f%% of %.1f s wall time; %.0f trials in %s\n",
                 wall > 0 ? 100 * busy_seconds_ / wall : 0.0, wall, trials_done_, output_.c_str());

    std::int64_t missing = 0, failed = 0;
    for (std::int64_t i = first_; i < last_; ++i) {
      const auto status = static_cast<io::CellStatus>(state_.status[static_cast<size_t>(i)]);
      missing += status == io::CellStatus::missing;
      failed += status == io::CellStatus::failed;
    }
    if (stopping && missing > 0) {
      std::fprintf(stderr, "[attnsweep] stopped early (%s): %lld cells left; rerun the same command to resume\n",
                   g_stop_signal ? "signal" : "time limit", static_cast<long long>(missing));
      return kExitStopped;
    }
    if (failed > 0) {
      std::string list;
      int shown = 0;
      for (std::int64_t i = first_; i < last_ && shown < 10; ++i) {
        if (state_.status[static_cast<size_t>(i)] == static_cast<std::uint8_t>(io::CellStatus::failed)) {
          list += (shown++ ? ", " : "") + std::to_string(i);
        }
      }
      std::fprintf(stderr,
                   "[attnsweep] %lld cells failed (cells %s%s); see `attnsweep query %s --status failed`, "
                   "rerun them with --retry-failed\n",
                   static_cast<long long>(failed), list.c_str(), failed > 10 ? ", ..." : "", output_.c_str());
      return kExitFailedCells;
    }
    return missing > 0 ? kExitStopped : kExitOk;
  }

 private:
  bool time_exhausted() const { return options_.time_limit > 0 && seconds_since(start_) >= options_.time_limit; }

  // Under a time budget, a task is started only if its estimate fits in what is left.
  bool next_task_fits() const {
    if (queue_.empty()) return false;
    if (options_.time_limit <= 0) return true;
    return seconds_since(start_) + queue_.front().estimated_seconds * 1.5 < options_.time_limit;
  }

  void local_compute_loop() {
    const auto inject = injected_failures();
    std::unique_lock lock(local_.mutex);
    while (true) {
      local_.wake.wait(lock, [this] { return local_.finish || !local_.queue.empty(); });
      if (local_.finish) return;
      const Task task = local_.queue.front();
      local_.queue.pop_front();
      local_.busy = true;
      lock.unlock();
      TaskResult result = run_task(grid_, task, inject, [this] { return local_stop_.load(); });
      lock.lock();
      local_.busy = false;
      local_.done.push_back(std::move(result));
    }
  }

  void accept(TaskResult r) {
    // An abandoned task (stopped part-way) keeps the trials it finished; its failures are not
    // counted, since they recur deterministically when the rest of the task runs on resume.
    if (!r.abandoned) done_estimate_ += r.task.estimated_seconds;
    const double share = r.seconds / static_cast<double>(r.outcomes.size());
    for (CellOutcome& outcome : r.outcomes) {
      auto it = progress_.find(outcome.cell);
      if (it == progress_.end()) continue;
      CellProgress& p = it->second;
      if (p.given_up) continue;
      p.seconds += share;
      if (!outcome.ok && r.abandoned) continue;
      if (!outcome.ok) {
        ++p.failures;
        const int attempts = p.attempts_before + p.failures;
        if (attempts >= static_cast<int>(grid_.config().max_attempts)) {
          p.given_up = true;
          io::CellRecord record;
          record.cell = outcome.cell;
          record.status = io::CellStatus::failed;
          record.lambda_mean = record.lambda_stderr = record.eta_mean = record.eta_stderr = std::nan("");
          record.seconds = p.seconds;
          record.attempts = attempts;
          record.error = outcome.error;
          commit(record);
          std::fprintf(stderr, "[attnsweep] cell %lld failed after %d attempts: %s\n",
                       static_cast<long long>(outcome.cell), attempts, outcome.error.c_str());
        } else {
          // Retry at once, this cell alone: the task's other cells already have their trials.
          queue_.push_front({{outcome.cell}, r.task.first_trial, r.task.trial_count, share});
        }
        continue;
      }
      // A resumed run may recompute a trial the journal already holds (tasks planned with
      // other boundaries); the values are identical, so the first copy stays.
      mc::CellSamples fresh;
      for (const auto& [trial, value] : outcome.samples.by_trial()) {
        if (p.samples.add_if_absent(trial, value)) fresh.add(trial, value);
      }
      trials_done_ += static_cast<double>(fresh.size());
      if (static_cast<std::uint64_t>(p.samples.size()) < p.trials_needed) {
        if (fresh.size() > 0) journal_trials(outcome.cell, fresh, share);
      } else {
        finish(outcome.cell, p);
      }
    }
  }

  // Finished trials of an unfinished cell go to the journal, so that a stop or crash loses
  // only trials in flight.
  void journal_trials(std::int64_t cell, const mc::CellSamples& samples, double seconds) {
    io::TrialsRecord record;
    record.cell = cell;
    record.seconds = seconds;
    for (const auto& [trial, value] : samples.by_trial()) {
      record.trial.push_back(trial);
      record.lambda.push_back(value.lambda);
      record.eta.push_back(value.eta);
    }
    journal_.append(record);
  }

  // Trials the journal holds for cells about to run: they count, and tasks skip them.
  void restore_journaled_trials(std::deque<Task>& tasks) {
    for (const io::TrialsRecord& record : journal_.replayed_trials()) {
      auto it = progress_.find(record.cell);
      if (it == progress_.end()) continue;
      CellProgress& p = it->second;
      for (size_t i = 0; i < record.trial.size(); ++i) {
        if (record.trial[i] < p.trials_needed &&
            p.samples.add_if_absent(record.trial[i], {record.lambda[i], record.eta[i]}))
          ++trials_restored_;
      }
      p.seconds += record.seconds;
    }
    // Trim each task's trial range to the trials some cell of it still lacks.
    const auto all_have = [this](const Task& t, std::uint64_t trial) {
      for (std::int64_t cell : t.cells) {
        if (!progress_.at(cell).samples.by_trial().count(trial)) return false;
      }
      return true;
    };
    std::deque<Task> kept;
    for (Task t : tasks) {
      const double per_trial = t.estimated_seconds / static_cast<double>(t.trial_count);
      while (t.trial_count > 0 && all_have(t, t.first_trial)) ++t.first_trial, --t.trial_count;
      while (t.trial_count > 0 && all_have(t, t.first_trial + t.trial_count - 1)) --t.trial_count;
      t.estimated_seconds = per_trial * static_cast<double>(t.trial_count);
      if (t.trial_count > 0) kept.push_back(std::move(t));
    }
    tasks = std::move(kept);
    // A cell whose trials all came from the journal is finished now.
    for (auto& [cell, p] : progress_) {
      if (static_cast<std::uint64_t>(p.samples.size()) == p.trials_needed) finish(cell, p);
    }
  }

  void finish(std::int64_t cell, const CellProgress& p) {
    const mc::Summary lambda = p.samples.lambda(), eta = p.samples.eta();
    io::CellRecord record;
    record.cell = cell;
    record.status = io::CellStatus::done;
    record.trials = static_cast<std::int32_t>(p.samples.size());
    record.lambda_mean = lambda.mean;
    record.lambda_stderr = lambda.std_error;
    record.eta_mean = eta.mean;
    record.eta_stderr = eta.std_error;
    record.seconds = p.seconds;
    record.attempts = p.attempts_before + p.failures + 1;
    commit(record);
  }

  void commit(const io::CellRecord& record) {
    journal_.append(record);  // durable first, then visible
    state_.apply(record);
    ++cells_finished_;
    dirty_ = true;
  }

  void snapshot() {
    io::write_results_file(output_, grid_.config(), state_);
    last_snapshot_ = Clock::now();
    dirty_ = false;
  }

  void report_progress(bool final_line) {
    const bool tty = isatty(STDERR_FILENO);
    const double interval = tty ? 0.5 : 10.0;
    if (!final_line && seconds_since(last_report_) < interval) return;
    last_report_ = Clock::now();
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? trials_done_ / elapsed : 0;
    const double eta_seconds = done_estimate_ > 0 ? elapsed * (total_estimate_ - done_estimate_) / done_estimate_ : NAN;
    const double fraction =
        cells_total_ > 0 ? static_cast<double>(cells_finished_) / static_cast<double>(cells_total_) : 1;
    // The last line of a sweep that stopped early has no ETA: the rest waits for a resume.
    const std::string eta_text = !final_line                       ? duration_text(eta_seconds)
                                 : cells_finished_ == cells_total_ ? "0m00s"
                                                                   : "none (stopped)";
    char line[256];
    std::snprintf(line, sizeof line, "%lld/%lld cells (%.1f%%), %.1f trials/s, elapsed %s, ETA %s",
                  static_cast<long long>(cells_finished_), static_cast<long long>(cells_total_), 100 * fraction, rate,
                  duration_text(elapsed).c_str(), eta_text.c_str());
    if (tty) {
      const int width = 30, filled = static_cast<int>(fraction * width);
      std::fprintf(stderr, "\r[%.*s%*s] %s", filled, "##############################", width - filled, "", line);
      if (final_line) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "[attnsweep] %s\n", line);
    }
    std::fflush(stderr);
  }

  const Grid& grid_;
  const RunOptions& options_;
  io::Journal& journal_;
  io::SweepState& state_;
  std::string output_;
  int ranks_;
  std::int64_t first_, last_;
  std::deque<Task> queue_;
  std::map<std::int64_t, CellProgress> progress_;
  LocalWork local_;
  parallel::Outbox outbox_;
  std::atomic<bool> local_stop_{false};
  std::set<int> stopped_workers_;
  bool stop_sent_ = false;
  bool dirty_ = false;
  Clock::time_point start_, last_snapshot_, last_report_;
  double busy_seconds_ = 0, trials_done_ = 0, total_estimate_ = 0, done_estimate_ = 0, trials_restored_ = 0;
  std::int64_t cells_total_ = 0, cells_finished_ = 0;
};

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// Rank 0: load config and previous state; decide what to run. Throws InputError.
struct Prepared {
  io::SweepConfig config;
  std::string output;
  io::SweepState state;
  std::vector<std::int64_t> cells;
  std::int64_t first = 0, last = 0;  // this run's range of the flat index
  std::unique_ptr<io::Journal> journal;
};

Prepared prepare(const RunOptions& options) {
  Prepared p;
  p.config = io::load_config(options.config_path, options.overrides);
  p.output = options.output.empty() ? p.config.output : options.output;
  struct stat st {};
  const std::string folder = folder_of(p.output);
  if (stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw io::InputError("output folder '" + folder + "' does not exist");
  }
  if (access(folder.c_str(), W_OK) != 0) throw io::InputError("output folder '" + folder + "' is not writable");
  if (file_exists(p.output) && stat(p.output.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw io::InputError("output '" + p.output + "' is a directory");
  }
  Grid grid(p.config);
  // The largest cell must fit in this machine's memory (a sweep that dies hours in is worse).
  mc::CellParams largest = grid.cell(0);
  for (std::int64_t i = 1; i < grid.size(); ++i) {
    const mc::CellParams cell = grid.cell(i);
    if (mc::trial_memory_bytes(cell) > mc::trial_memory_bytes(largest)) largest = cell;
  }
  check_fits_in_memory(largest);
  p.state = io::SweepState(grid.size());
  const std::string journal_path = p.output + ".journal";
  // An existing output must be this sweep's (same config): refuse before touching anything.
  if (file_exists(p.output)) {
    io::ResultsFile previous = io::read_results_file(p.output);
    if (previous.config_hash != p.config.hash()) {
      throw io::InputError(p.output +
                           " holds a sweep with another config; use another --output or the original config");
    }
    p.state = previous.state;
  }
  if (file_exists(journal_path)) {
    std::uint64_t hash = 0;
    (void)io::Journal::read(journal_path, &hash);  // checks the header before we open for writing
    if (hash != p.config.hash()) {
      throw io::InputError(journal_path +
                           " belongs to a sweep with another config; use another --output or the original config");
    }
  }
  const bool journal_is_new = !file_exists(journal_path);
  p.journal = std::make_unique<io::Journal>(journal_path, p.config.hash());
  if (p.journal->dropped_bytes() > 0) {
    std::fprintf(stderr, "[attnsweep] %s: dropped a torn last record (%llu bytes)\n", journal_path.c_str(),
                 static_cast<unsigned long long>(p.journal->dropped_bytes()));
  }
  for (const auto& record : p.journal->replayed()) p.state.apply(record);
  if (journal_is_new) {
    // Results that came only from the HDF5 file (a merged or copied file) enter the journal.
    for (std::int64_t i = 0; i < p.state.size(); ++i) {
      if (p.state.status[static_cast<size_t>(i)] != 0) p.journal->append(p.state.record(i));
    }
  }
  p.first = grid.size() * options.slice_index / options.slice_count;
  p.last = grid.size() * (options.slice_index + 1) / options.slice_count;
  for (std::int64_t i = p.first; i < p.last; ++i) {
    const auto status = static_cast<io::CellStatus>(p.state.status[static_cast<size_t>(i)]);
    if (status == io::CellStatus::missing || (status == io::CellStatus::failed && options.retry_failed)) {
      p.cells.push_back(i);
    }
  }
  if (options.retry_failed) {
    for (std::int64_t cell : p.cells) {
      io::CellRecord r = p.state.record(cell);
      if (r.status == io::CellStatus::failed) p.state.attempts[static_cast<size_t>(cell)] = 0;  // a fresh budget
    }
  }
  return p;
}

}  // namespace

int run_sweep(const RunOptions& options, const parallel::Environment& mpi) {
  install_stop_handlers();
  g_launcher = ::getppid();
  // Rank 0 decides (config, resume state) and broadcasts the verdict and the canonical config.
  int verdict = kExitOk;
  std::string config_text;
  Prepared prepared;
  if (mpi.rank() == 0) {
    try {
      prepared = prepare(options);
      config_text = prepared.config.canonical_text();
    } catch (const io::InputError& e) {
      std::fprintf(stderr, "attnsweep: %s\n", e.what());
      verdict = kExitBadInput;
    }
  }
  parallel::broadcast(verdict, 0);
  if (verdict != kExitOk) return verdict;
  parallel::broadcast(config_text, 0);

  if (mpi.rank() != 0) {
    const Grid grid(io::parse_config(config_text, {}, "broadcast config"));
    return run_worker(grid);
  }
  const Grid grid(prepared.config);
  std::fprintf(stderr, "[attnsweep] %lld cells in the grid, %zu to run, %d ranks; output %s\n",
               static_cast<long long>(grid.size()), prepared.cells.size(), mpi.size(), prepared.output.c_str());
  if (options.slice_count > 1) {
    std::fprintf(stderr, "[attnsweep] slice %ld/%ld: cells [%lld, %lld)\n", options.slice_index, options.slice_count,
                 static_cast<long long>(prepared.first), static_cast<long long>(prepared.last));
  }
  const CostModel cost = CostModel::calibrate();
  Master master(grid, options, *prepared.journal, prepared.state, prepared.output, mpi.size(), prepared.first,
                prepared.last);
  return master.run(prepared.cells, cost);
}

}  // namespace attnsweep::sweep
