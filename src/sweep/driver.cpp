#include "attnsweep/sweep/driver.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/growth.hpp"
#include "attnsweep/sweep/master_loop.hpp"
#include "attnsweep/sweep/run_store.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "attnsweep/sweep/workers.hpp"

namespace attnsweep::sweep {

// The cell whose trial needs the most memory (the same for every cell of a cost class).
static mc::CellParams largest_cell(const Grid& grid) {
  mc::CellParams largest = grid.cell(0);
  for (std::int64_t k = 1; k < grid.cost_classes(); ++k) {
    const mc::CellParams cell = grid.cell(k);
    if (mc::trial_memory_bytes(cell) > mc::trial_memory_bytes(largest)) largest = cell;
  }
  return largest;
}

// Refuses (InputError) a job whose nodes cannot hold one trial of the largest cell in every
// computing slot at once, plus rank 0's `master_bytes` on its node.
void check_nodes_fit(const std::vector<parallel::NodeShare>& nodes, const Grid& grid, int ranks, double master_bytes) {
  const mc::CellParams largest = largest_cell(grid);
  const double trial = mc::trial_memory_bytes(largest);
  const bool local_worker = ranks <= kLocalWorkerMaxRanks;
  for (const parallel::NodeShare& node : nodes) {
    const int slots = node.ranks - (node.has_rank0 ? 1 : 0) + (node.has_rank0 && local_worker ? 1 : 0);
    const double master = node.has_rank0 ? master_bytes : 0.0;
    const double need = node_memory_bytes(slots, trial, master);
    if (need <= 0.9 * node.available_bytes) continue;
    char msg[512];
    if (master > 0.5 * node.available_bytes) {
      std::snprintf(msg, sizeof msg,
                    "rank 0 would keep %.1f GiB of results and per-trial values, but node %s has %.1f GiB "
                    "available: use fewer cells, searches or trials, or split the grid",
                    master / (1 << 30), node.host.c_str(), node.available_bytes / (1 << 30));
      throw io::InputError(msg);
    }
    const long fits = trial > 0 ? static_cast<long>(std::max(0.0, 0.9 * node.available_bytes - master) / trial) : 0;
    std::snprintf(msg, sizeof msg,
                  "the largest cell (d = %ld, n = %ld) needs %.2f GiB per trial; node %s runs %d computing ranks "
                  "and needs %.1f GiB but has %.1f GiB available: run at most %ld computing ranks per node, or "
                  "drop n = %ld from the grid",
                  largest.d, largest.n, trial / (1 << 30), node.host.c_str(), slots, need / (1 << 30),
                  node.available_bytes / (1 << 30), fits, largest.n);
    throw io::InputError(msg);
  }
}

std::string node_summary(const std::vector<parallel::NodeShare>& nodes) {
  std::string text = std::to_string(nodes.size()) + (nodes.size() == 1 ? " node (" : " nodes (");
  for (size_t i = 0; i < nodes.size(); ++i) {
    text += (i ? ", " : "") + nodes[i].host + ": " + std::to_string(nodes[i].ranks);
    if (i == 4 && nodes.size() > 6) return text + ", ... " + std::to_string(nodes.size() - 5) + " more)";
  }
  return text + ")";
}

// Snapshots are written to OUTPUT.tmp.PID and renamed; one left by a killed run is garbage.
// Only called while holding the journal lock, so no other run of this output is writing one.
void remove_stale_snapshots(const std::string& output) {
  const std::filesystem::path path(output);
  const std::string prefix = path.filename().string() + io::kTemporaryInfix;
  std::error_code error;
  const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      std::filesystem::remove(entry.path(), error);
      std::fprintf(stderr, "[attnsweep] removed %s, a snapshot left unfinished by a killed run\n",
                   entry.path().c_str());
    }
  }
}

namespace {
using Clock = std::chrono::steady_clock;

double peak_rss_megabytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

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

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool journal_is_this_sweeps(const std::string& journal, std::uint64_t config_hash) {
  try {
    return file_exists(journal) && io::Journal::read_hash(journal) == config_hash;
  } catch (const std::exception&) {
    return false;
  }
}

// Rank 0, step 1: the config, the output, and that an existing output is this sweep's.
// Touches no file. Throws InputError.
struct Prepared {
  io::SweepConfig config;
  std::string output, journal_path;
  io::SweepState state;
  PartialCells partials;
  std::vector<std::int64_t> cells;
  std::int64_t first = 0, last = 0;  // this run's range of the flat index
  std::unique_ptr<io::Journal> journal;
  std::optional<Growth> growth;  // the file holds a smaller study this run grows
  bool journal_grown = false;    // ... and its journal is the grown one already
};

Prepared check_inputs(const RunOptions& options) {
  Prepared p;
  p.config = io::load_config(options.config_path, options.overrides);
  p.output = options.output.empty() ? p.config.output : options.output;
  // The real file behind the name: a symlinked output stays a symlink (its target is what is
  // replaced), and two names of one file share one journal, so one run locks out the other.
  p.output = io::resolve_output_path(p.output);
  p.journal_path = io::journal_path_of(p.output);
  io::check_output_path(p.output);
  // An existing output must be this sweep's (same config): refuse before touching anything.
  if (file_exists(p.output)) {
    // An unreadable output is never overwritten; say how to go on (the journal rebuilds it only
    // if the journal is this sweep's).
    const std::string hint = journal_is_this_sweeps(p.journal_path, p.config.hash())
                                 ? "; move it away and rerun: the state is rebuilt from " + p.journal_path
                                 : "; move it away or choose another --output";
    std::string stored_text;
    try {
      stored_text = io::ResultsReader(p.output).header().config.canonical_text();
    } catch (const io::WrongKindOfFile& e) {
      throw io::InputError(e.what() + std::string("; choose another --output for this sweep"));
    } catch (const io::InputError& e) {
      throw io::InputError(e.what() + hint);
    }
    // Another config is refused unless it grows the file's study (sweep/growth.hpp).
    p.growth = plan_growth(io::parse_config(stored_text, {}, p.output), p.config, p.output);
    // Resume only from a sound file (what `verify` checks); the journal alone can rebuild it.
    const std::vector<std::string> problems = io::verify_results_file(p.output);
    if (!problems.empty()) {
      throw io::InputError(p.output + " fails verification (" + problems.front() +
                           "); move it away and rerun: the state is rebuilt from " + p.journal_path);
    }
  }
  // A growth killed after its new journal was in place goes on from that journal.
  p.journal_grown = p.growth && journal_is_this_sweeps(p.journal_path, p.config.hash());
  if (!p.journal_grown)
    io::Journal::require_owner(p.journal_path, p.growth ? p.growth->from().hash() : p.config.hash(), "sweep");
  return p;
}

// Rank 0, step 2: the previous state (results file, then the journal streamed over it) and the
// cells to run.
void open_state(Prepared& p, const RunOptions& options, const Grid& grid) {
  const auto start = Clock::now();
  if (p.growth && !p.journal_grown)
    std::fprintf(stderr, "[attnsweep] %s\n", grow_journal(*p.growth, p.output, p.journal_path, grid).c_str());
  // A grown study's state is all in its new journal (the file still holds the smaller one).
  p.state = file_exists(p.output) && !p.growth ? io::read_results_file(p.output).state : io::SweepState(grid.size());
  // Per-trial values kept from now on (those of a file without them stay unknown, NaN).
  p.state.keep_trials(static_cast<std::int32_t>(grid.config().trials));
  const bool journal_is_new = !file_exists(p.journal_path);
  p.journal = std::make_unique<io::Journal>(p.journal_path, p.config.hash(), replay_into(p.state, p.partials));
  if (p.journal->dropped_bytes() > 0) {
    std::fprintf(stderr, "[attnsweep] %s: dropped a torn last record (%llu bytes)\n", p.journal_path.c_str(),
                 static_cast<unsigned long long>(p.journal->dropped_bytes()));
  }
  if (p.journal->damaged_bytes() > 0) {
    std::fprintf(stderr,
                 "[attnsweep] %s: skipped %llu damaged bytes in the middle (the records there are lost and "
                 "their cells or trials are computed again; every later record is kept)\n",
                 p.journal_path.c_str(), static_cast<unsigned long long>(p.journal->damaged_bytes()));
  }
  remove_stale_snapshots(p.output);
  if (journal_is_new) {
    // Results that came only from the HDF5 file (a merged or copied file) enter the journal:
    // one batch, one fdatasync.
    io::Journal::Batch batch;
    for (std::int64_t i = 0; i < p.state.size(); ++i) {
      if (p.state.status[static_cast<size_t>(i)] != 0) batch.add(p.state.record(i));
    }
    p.journal->commit(batch);
  }
  p.first = grid.size() * options.slice_index / options.slice_count;
  p.last = grid.size() * (options.slice_index + 1) / options.slice_count;
  for (std::int64_t i = p.first; i < p.last; ++i) {
    const auto status = static_cast<io::CellStatus>(p.state.status[static_cast<size_t>(i)]);
    if (status == io::CellStatus::missing || (status == io::CellStatus::failed && options.retry_failed)) {
      p.cells.push_back(i);
      if (status == io::CellStatus::failed) p.state.attempts[static_cast<size_t>(i)] = 0;  // a fresh budget
    }
  }
  if (p.journal->replayed_records() > 0) {
    std::fprintf(stderr, "[attnsweep] resumed from %s: %llu journal records replayed in %.2f s\n", p.output.c_str(),
                 static_cast<unsigned long long>(p.journal->replayed_records()), seconds_since(start));
  }
}

// ---------------------------------------------------------------- master (rank 0)
class Master {
 public:
  Master(const Grid& grid, const RunOptions& options, RunStore& store, std::string output, int ranks,
         std::int64_t first, std::int64_t last, std::int64_t cells_to_run)
      : grid_(grid),
        options_(options),
        store_(store),
        output_(std::move(output)),
        ranks_(ranks),
        first_(first),
        last_(last),
        cells_total_(cells_to_run) {}

  int run(std::vector<Task> tasks) {
    start_ = Clock::now();
    const std::uint64_t restored = store_.restore(tasks);
    if (restored > 0) {
      std::fprintf(stderr, "[attnsweep] %llu finished trials of unfinished cells restored from the journal\n",
                   static_cast<unsigned long long>(restored));
    }
    for (const Task& t : tasks) total_estimate_ += t.estimated_seconds;

    parallel::Outbox outbox;
    Dispatcher dispatcher(std::move(tasks), worker_depths(ranks_), options_.time_limit,
                          static_cast<int>(grid_.config().max_attempts));
    MasterHooks hooks;
    hooks.on_results = [this](std::vector<TaskResult>& results, Dispatcher& d) { accept(results, d); };
    hooks.each_pass = [this] {
      store_.maybe_snapshot();
      report_progress(false);
    };
    hooks.finished = [](const Dispatcher& d) { return d.queued() == 0; };
    busy_seconds_ = run_master_loop(grid_, ranks_, outbox, dispatcher, options_.started, hooks).busy_seconds;
    // The final snapshot before the worker ranks are released: 63 ranks finalising MPI on two
    // cores would otherwise compete with it.
    store_.final_snapshot();
    report_progress(true);
    const int code = exit_code(dispatcher);
    send_exit_code(outbox, ranks_, code);
    outbox.drain();
    return code;
  }

 private:
  // Results and their effects; one journal commit for all results received in a pass.
  void accept(std::vector<TaskResult>& results, Dispatcher& dispatcher) {
    for (TaskResult& result : results) {
      ++tasks_done_;
      if (!result.abandoned) done_estimate_ += result.task.estimated_seconds;
      for (const FailedCell& failed : store_.accept(std::move(result))) {
        if (dispatcher.retry_failed_cell(failed.cell, failed.task, failed.seconds, failed.attempts)) continue;
        store_.give_up(failed);
        std::fprintf(stderr, "[attnsweep] cell %lld failed after %d attempts: %s\n",
                     static_cast<long long>(failed.cell), failed.attempts, failed.error.c_str());
      }
    }
    store_.commit();
  }

  int exit_code(const Dispatcher& dispatcher) const {
    const io::SweepState& state = store_.state();
    std::int64_t missing = 0, failed = 0, undefined = 0;
    for (std::int64_t i = first_; i < last_; ++i) {
      const auto status = static_cast<io::CellStatus>(state.status[static_cast<size_t>(i)]);
      missing += status == io::CellStatus::missing;
      failed += status == io::CellStatus::failed;
      undefined += status == io::CellStatus::undefined;
    }
    if (undefined > 0) {
      // Not a failure: the model leaves an observable undefined in every trial of these cells.
      std::fprintf(stderr,
                   "[attnsweep] %lld cells undefined: an observable is undefined in all their trials (no pair of "
                   "distinct input directions, or a zero-length output token); see `attnsweep query %s --status "
                   "undefined`\n",
                   static_cast<long long>(undefined), output_.c_str());
    }
    if (dispatcher.stopping() && missing > 0) {
      std::fprintf(stderr, "[attnsweep] stopped early (%s): %lld cells left; rerun the same command to resume\n",
                   stop_reason_name(dispatcher.stop_reason()), static_cast<long long>(missing));
      return kExitStopped;
    }
    if (failed > 0) {
      std::string list;
      int shown = 0;
      for (std::int64_t i = first_; i < last_ && shown < 10; ++i) {
        if (state.status[static_cast<size_t>(i)] == static_cast<std::uint8_t>(io::CellStatus::failed)) {
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

  void report_progress(bool final_line) {
    const bool tty = isatty(STDERR_FILENO);
    const double interval = tty ? 0.5 : 10.0;
    if (!final_line && seconds_since(last_report_) < interval) return;
    last_report_ = Clock::now();
    const double elapsed = seconds_since(start_);
    const double trials = static_cast<double>(store_.trials_done());
    const double rate = elapsed > 0 ? trials / elapsed : 0;
    const double eta_seconds = done_estimate_ > 0 ? elapsed * (total_estimate_ - done_estimate_) / done_estimate_ : NAN;
    const std::int64_t finished = store_.cells_finished();
    const double fraction = cells_total_ > 0 ? static_cast<double>(finished) / static_cast<double>(cells_total_) : 1;
    // The last line of a sweep that stopped early has no ETA: the rest waits for a resume.
    const std::string eta_text = !final_line                ? duration_text(eta_seconds)
                                 : finished >= cells_total_ ? "0m00s"
                                                            : "none (stopped)";
    char line[256];
    std::snprintf(line, sizeof line, "%lld/%lld cells (%.1f%%), %.1f trials/s, elapsed %s, ETA %s",
                  static_cast<long long>(finished), static_cast<long long>(cells_total_), 100 * fraction, rate,
                  duration_text(elapsed).c_str(), eta_text.c_str());
    if (tty) {
      const int width = 30, filled = static_cast<int>(fraction * width);
      std::fprintf(stderr, "\r[%.*s%*s] %s", filled, "##############################", width - filled, "", line);
      if (final_line) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "[attnsweep] %s\n", line);
    }
    if (final_line) {
      const double wall = seconds_since(start_);
      const double percent = wall > 0 ? 100 / wall : 0.0;  // of the wall time, per second
      std::fprintf(stderr,
                   "[attnsweep] master busy (CPU) %.2f%% of %.1f s wall time; %.0f trials in %s; %llu tasks (%.0f/s); "
                   "%d snapshots took %.2f s (%.2f%% of wall); journal %.1f MB in %llu commits; rank 0 peak RSS "
                   "%.0f MB\n",
                   percent * busy_seconds_, wall, trials, output_.c_str(), static_cast<unsigned long long>(tasks_done_),
                   wall > 0 ? static_cast<double>(tasks_done_) / wall : 0.0, store_.snapshots(),
                   store_.snapshot_seconds(), percent * store_.snapshot_seconds(),
                   static_cast<double>(store_.journal_bytes()) / 1e6,
                   static_cast<unsigned long long>(store_.journal_commits()), peak_rss_megabytes());
    }
    std::fflush(stderr);
  }

  const Grid& grid_;
  const RunOptions& options_;
  RunStore& store_;
  std::string output_;
  int ranks_;
  std::int64_t first_, last_, cells_total_;
  std::uint64_t tasks_done_ = 0;
  Clock::time_point start_, last_report_;
  double busy_seconds_ = 0, total_estimate_ = 0, done_estimate_ = 0;
};

}  // namespace

namespace {
// CPUs this process may run on (its affinity mask, which mpirun sets when it binds ranks).
int cpus_of_this_rank() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1024;
  return CPU_COUNT(&set);
}
}  // namespace

int rank0_decides(const parallel::Environment& mpi, const std::function<void()>& step) {
  int verdict = kExitOk;
  if (mpi.rank() == 0) {
    try {
      step();
    } catch (const io::InputError& e) {
      std::fprintf(stderr, "attnsweep: %s\n", e.what());
      verdict = kExitBadInput;
    }
  }
  parallel::broadcast(verdict, 0);
  return verdict;
}

int run_sweep(const RunOptions& options, const parallel::Environment& mpi) {
  remember_launcher();
  // Rank 0 decides (config, output, memory, resume state) and broadcasts each verdict; the
  // other ranks wait for it, so a refused run leaves every rank with exit code 2.
  const auto agree = [&mpi](const std::function<void()>& step) { return rank0_decides(mpi, step); };
  Prepared prepared;
  std::string config_text;
  if (const int verdict = agree([&] {
        prepared = check_inputs(options);
        // The canonical text is the sweep's identity; how a rank computes travels beside it.
        config_text =
            prepared.config.canonical_text() + "[run]\nthreads = " + std::to_string(prepared.config.threads) + "\n";
      });
      verdict != kExitOk)
    return verdict;
  parallel::broadcast(config_text, 0);
  const Grid grid(mpi.rank() == 0 ? prepared.config : io::parse_config(config_text, {}, "broadcast config"));
  // Every node must hold one trial of the largest cell in each of its computing slots.
  const std::vector<parallel::NodeShare> nodes = parallel::gather_nodes(available_memory_bytes());
  if (const int verdict = agree([&] {
        (void)injected_failures(grid.size());  // a malformed list is refused here, not on a worker
        check_nodes_fit(nodes, grid, mpi.size(), master_memory_bytes(grid.size(), grid.config().trials));
        open_state(prepared, options, grid);
      });
      verdict != kExitOk)
    return verdict;
  if (mpi.rank() != 0) return run_worker_rank(grid);

  std::fprintf(stderr, "[attnsweep] %lld cells in the grid, %zu to run, %d ranks on %s; output %s\n",
               static_cast<long long>(grid.size()), prepared.cells.size(), mpi.size(), node_summary(nodes).c_str(),
               prepared.output.c_str());
  if (options.slice_count > 1) {
    std::fprintf(stderr, "[attnsweep] slice %ld/%ld: cells [%lld, %lld)\n", options.slice_index, options.slice_count,
                 static_cast<long long>(prepared.first), static_cast<long long>(prepared.last));
  }
  if (const int cpus = cpus_of_this_rank(); grid.config().threads > cpus) {
    std::fprintf(stderr,
                 "[attnsweep] run.threads = %d but rank 0 may run on %d CPU(s) (its affinity): launch with "
                 "mpirun --map-by slot:PE=%d (or --bind-to none) so that the threads get cores of their own\n",
                 grid.config().threads, cpus, grid.config().threads);
  }
  const CostModel cost = CostModel::calibrate();
  const int workers = (mpi.size() - 1) + (mpi.size() <= kLocalWorkerMaxRanks ? 1 : 0);
  const double max_task = options.time_limit > 0 ? options.time_limit / 4 : kMaxTaskSeconds;
  std::vector<Task> tasks = plan_tasks(grid, prepared.cells, cost, workers, max_task);
  const auto cells_to_run = static_cast<std::int64_t>(prepared.cells.size());
  RunStore store(grid, prepared.output, std::move(prepared.state), std::move(prepared.partials),
                 std::move(prepared.journal), prepared.cells, options.snapshot_every);
  Master master(grid, options, store, prepared.output, mpi.size(), prepared.first, prepared.last, cells_to_run);
  return master.run(std::move(tasks));
}

}  // namespace attnsweep::sweep
