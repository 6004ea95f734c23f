#include "attnsweep/sweep/critical_driver.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/driver.hpp"
#include "attnsweep/sweep/master_loop.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "attnsweep/sweep/workers.hpp"

namespace attnsweep::sweep {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSnapshotEvery = 30;  // least seconds between HDF5 writes while running

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The search brackets gamma_c between the grid's smallest and largest gamma: two distinct
// values at least, or CriticalSearch would refuse the range after the journal is created.
void check_gamma_range(const io::SweepConfig& config) {
  const std::set<double> distinct(config.gamma.begin(), config.gamma.end());
  if (distinct.size() < 2) {
    throw io::InputError(
        "grid.gamma: the critical search brackets gamma_c between the smallest and the largest "
        "gamma, so it needs at least two distinct values (got " +
        io::format_real(config.gamma.front()) + " only)");
  }
  // A search is one bisection per (rho, d, n) at one value of every model parameter.
  for (const std::string& name : io::sweepable_parameters()) {
    if (io::is_swept(config, name)) {
      throw io::InputError("grid." + name + ": the critical search runs at one value of " + name + "; give mc." + name +
                           " instead (one search per value)");
    }
  }
}

// What rank 0 holds at most during the search (every search's per-trial values).
double critical_master_bytes(const Grid& grid, const CriticalJob& job) {
  long most = 0;
  for (const CriticalSettings& s : job.settings) most = std::max(most, max_evaluations(s));
  return critical_master_memory_bytes(static_cast<std::int64_t>(job.points.size()), most, grid.config().trials);
}

// Per-trial lambda of one search at one gamma, filled piece by piece.
struct PartialEvaluation {
  std::vector<double> lambda;
  long known = 0;
};
}  // namespace

CriticalJob plan_critical(const Grid& grid) {
  const io::SweepConfig& config = grid.config();
  CriticalJob job;
  for (long r = 0; r < static_cast<long>(config.rho.size()); ++r)
    for (long d = 0; d < static_cast<long>(config.d.size()); ++d)
      for (long n = 0; n < static_cast<long>(config.n.size()); ++n) {
        const double rho = config.rho[static_cast<size_t>(r)];
        CriticalSettings s;
        s.gamma_low = s.gamma_high = io::cell_gamma(config, rho, config.gamma.front());
        for (double g : config.gamma) {
          s.gamma_low = std::min(s.gamma_low, io::cell_gamma(config, rho, g));
          s.gamma_high = std::max(s.gamma_high, io::cell_gamma(config, rho, g));
        }
        s.target = config.critical_target(rho);
        s.tolerance = config.critical.tolerance;
        s.trials = config.trials;
        s.resamples = config.critical.resamples;
        s.confidence = config.critical.confidence;
        // One resampling stream per point (Philox key {seed, 0}, counter = resample).
        s.seed = config.seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(job.points.size() + 1));
        job.points.push_back({r, d, n});
        job.settings.push_back(s);
      }
  return job;
}

namespace {
// Rank 0's half of the search: the searches, their journaled trials, the dispatcher and the
// workers. Results become visible (reach a search) only once durable in the journal.
class CriticalMaster {
 public:
  CriticalMaster(const Grid& grid, const CriticalOptions& options, std::string output, io::Journal& journal,
                 std::map<std::pair<std::int64_t, double>, std::map<std::uint64_t, double>> replayed, int ranks)
      : grid_(grid), options_(options), output_(std::move(output)), journal_(journal), ranks_(ranks) {
    job_ = plan_critical(grid);
    for (const CriticalSettings& s : job_.settings) searches_.emplace_back(s);
    partial_.resize(searches_.size());
    requested_.resize(searches_.size());
    for (const auto& [key, trials] : replayed) {
      const auto [search, gamma] = key;
      if (search < 0 || search >= static_cast<std::int64_t>(searches_.size())) continue;
      PartialEvaluation& e = evaluation(static_cast<size_t>(search), gamma);
      for (const auto& [trial, lambda] : trials) {
        if (trial >= e.lambda.size() || !std::isnan(e.lambda[trial])) continue;
        e.lambda[trial] = lambda;
        ++e.known;
        ++replayed_trials_;
      }
    }
    for (const CriticalJob::Point& p : job_.points) flat_.push_back(grid.flat({p.rho, 0, p.d, p.n}));
    for (size_t s = 0; s < flat_.size(); ++s) search_of_flat_[flat_[s]] = s;
  }

  int run() {
    start_ = Clock::now();
    if (replayed_trials_ > 0) {
      std::fprintf(stderr, "[attnsweep] critical: %llu journaled trials restored\n",
                   static_cast<unsigned long long>(replayed_trials_));
    }
    cost_ = CostModel::calibrate();
    parallel::Outbox outbox;
    const std::vector<int> depth = worker_depths(ranks_);
    workers_ = static_cast<int>(depth.size());
    Dispatcher dispatcher({}, depth, options_.time_limit, static_cast<int>(grid_.config().max_attempts));
    write_file();
    MasterHooks hooks;
    hooks.before_assign = [this](Dispatcher& d) { feed(d); };
    hooks.on_results = [this](std::vector<TaskResult>& results, Dispatcher&) { accept(results); };
    hooks.each_pass = [this] {
      maybe_write_file();
      report_progress(false);
    };
    hooks.finished = [this](const Dispatcher&) { return all_finished(); };
    run_master_loop(grid_, ranks_, outbox, dispatcher, options_.started, hooks);
    write_file();
    report_progress(true);
    const int code = exit_code(dispatcher);
    send_exit_code(outbox, ranks_, code);
    outbox.drain();
    std::fputs(format_critical(grid_.config(), job_, searches_, options_.format).c_str(), stdout);
    std::fflush(stdout);
    return code;
  }

 private:
  PartialEvaluation& evaluation(size_t search, double gamma) {
    PartialEvaluation& e = partial_[search][gamma];
    if (e.lambda.empty()) e.lambda.assign(static_cast<size_t>(grid_.config().trials), kNaN);
    return e;
  }

  // Gives every search what is known, then queues tasks for the trials of wanted gammas that
  // are neither known nor asked for yet.
  void feed(Dispatcher& dispatcher) {
    long active = 0;
    for (const CriticalSearch& s : searches_) active += !s.finished();
    for (size_t s = 0; s < searches_.size(); ++s) {
      CriticalSearch& search = searches_[s];
      for (bool progressed = true; progressed && !search.finished();) {
        progressed = false;
        for (double gamma : search.wanted()) {
          const PartialEvaluation& e = evaluation(s, gamma);
          if (e.known == static_cast<long>(e.lambda.size())) {
            search.provide(gamma, e.lambda);
            progressed = true;
            break;
          }
        }
      }
      if (search.finished()) continue;
      // Gammas asked for together (the bracket's ends, the interval's points) share one task
      // per trial range: they share the token draws.
      std::vector<double> fresh;
      for (double gamma : search.wanted())
        if (requested_[s].insert(gamma).second) fresh.push_back(gamma);
      if (fresh.empty()) continue;
      std::vector<std::uint64_t> missing;
      for (std::uint64_t t = 0; t < static_cast<std::uint64_t>(grid_.config().trials); ++t) {
        bool any = false;
        for (double gamma : fresh) any = any || std::isnan(evaluation(s, gamma).lambda[t]);
        if (any) missing.push_back(t);
      }
      dispatcher.add(tasks_for(s, fresh, missing, active));
    }
  }

  // Trials `missing` (ascending) of search s at `gammas`, in contiguous runs split into pieces:
  // enough pieces that the workers share the active searches, each under the task cap.
  std::vector<Task> tasks_for(size_t s, const std::vector<double>& gammas, const std::vector<std::uint64_t>& missing,
                              long active) {
    mc::CellParams cell = grid_.cell(flat_[s]);
    cell.observe_eta = false;
    const double per_trial = cost_.trial_seconds(cell) * static_cast<double>(gammas.size());
    const double cap = options_.time_limit > 0 ? options_.time_limit / 4 : kMaxTaskSeconds;
    const long trials = grid_.config().trials;
    const long pieces = std::clamp<long>((2L * workers_ + active - 1) / std::max(1L, active), 1, trials);
    long size = (trials + pieces - 1) / pieces;
    size = std::max(1L, std::min(size, static_cast<long>(cap / std::max(per_trial, 1e-9))));
    std::vector<Task> tasks;
    for (size_t i = 0; i < missing.size();) {
      size_t j = i + 1;
      while (j < missing.size() && missing[j] == missing[j - 1] + 1 && static_cast<long>(j - i) < size) ++j;
      Task task;
      task.cells.assign(gammas.size(), flat_[s]);
      task.gammas = gammas;
      task.lambda_only = true;
      task.first_trial = missing[i];
      task.trial_count = j - i;
      task.estimated_seconds = per_trial * static_cast<double>(j - i);
      tasks.push_back(std::move(task));
      i = j;
    }
    return tasks;
  }

  // Durable first: one write and one fdatasync for everything that came back in a pass; then the
  // searches see it.
  void accept(const std::vector<TaskResult>& results) {
    if (results.empty()) return;
    io::Journal::Batch batch;
    for (const TaskResult& result : results) {
      ++tasks_done_;
      const double share = result.seconds / static_cast<double>(std::max<size_t>(1, result.outcomes.size()));
      for (size_t k = 0; k < result.outcomes.size(); ++k) {
        const CellOutcome& outcome = result.outcomes[k];
        if (outcome.samples.size() == 0) continue;
        // A critical journal's trials record: the search's index as the cell, and the gamma of
        // the evaluation where a sweep's record has eta (the critical search needs no eta).
        io::TrialsRecord record;
        record.cell = static_cast<std::int64_t>(search_of_flat_.at(outcome.cell));
        record.seconds = share;
        for (const auto& [trial, value] : outcome.samples.by_trial()) {
          record.trial.push_back(trial);
          record.lambda.push_back(value.lambda);
          record.eta.push_back(result.task.gammas[k]);
        }
        batch.add(record);
      }
    }
    if (!batch.empty()) journal_.commit(batch);
    for (const TaskResult& result : results) {
      for (size_t k = 0; k < result.outcomes.size(); ++k) {
        const CellOutcome& outcome = result.outcomes[k];
        const size_t s = search_of_flat_.at(outcome.cell);
        const double gamma = result.task.gammas[k];
        PartialEvaluation& e = evaluation(s, gamma);
        for (const auto& [trial, value] : outcome.samples.by_trial()) {
          if (!std::isnan(e.lambda[trial])) continue;
          e.lambda[trial] = value.lambda;
          ++e.known;
          ++trials_done_;
        }
        if (!outcome.ok && !searches_[s].finished()) {
          searches_[s].fail(outcome.error);
          std::fprintf(stderr, "[attnsweep] critical search %zu failed: %s\n", s, outcome.error.c_str());
        }
        // A stopped piece leaves trials to do: they are asked for again.
        if (result.abandoned) requested_[s].erase(gamma);
      }
    }
  }

  bool all_finished() const {
    for (const CriticalSearch& s : searches_)
      if (!s.finished()) return false;
    return true;
  }

  void write_file() {
    write_critical_file(output_, grid_.config(), job_, searches_);
    last_write_ = Clock::now();
    finished_written_ = finished_count();
  }
  void maybe_write_file() {
    if (finished_count() != finished_written_ && seconds_since(last_write_) >= kSnapshotEvery) write_file();
  }
  long finished_count() const {
    long c = 0;
    for (const CriticalSearch& s : searches_) c += s.finished();
    return c;
  }

  int exit_code(const Dispatcher& dispatcher) const {
    long failed = 0, unfinished = 0;
    for (const CriticalSearch& s : searches_) {
      failed += s.result().status == CriticalStatus::failed;
      unfinished += !s.finished();
    }
    if (unfinished > 0) {
      std::fprintf(stderr, "[attnsweep] stopped early (%s): %ld searches left; rerun the same command to resume\n",
                   stop_reason_name(dispatcher.stop_reason()), unfinished);
      return kExitStopped;
    }
    if (failed > 0) {
      std::fprintf(stderr, "[attnsweep] %ld searches failed (status failed in %s); rerun to try them again\n", failed,
                   output_.c_str());
      return kExitFailedCells;
    }
    return kExitOk;
  }

  void report_progress(bool final_line) {
    if (!final_line && seconds_since(last_report_) < 10) return;
    last_report_ = Clock::now();
    long evaluations = 0;
    double equivalent = 0;
    for (size_t s = 0; s < searches_.size(); ++s) {
      evaluations += static_cast<long>(searches_[s].evaluations().size());
      const double cells = grid_equivalent(job_.settings[s], searches_[s].result());
      if (std::isfinite(cells)) equivalent += cells;
    }
    std::fprintf(stderr, "[attnsweep] critical: %ld/%zu searches finished, %ld evaluations, %llu trials in %.1f s\n",
                 finished_count(), searches_.size(), evaluations, static_cast<unsigned long long>(trials_done_),
                 seconds_since(start_));
    if (final_line) {
      std::fprintf(stderr,
                   "[attnsweep] critical: %ld evaluations of %ld trials each, where a uniform gamma grid at the same "
                   "resolution needs %.0f cells (%.0fx more); %llu tasks; output %s\n",
                   evaluations, grid_.config().trials, equivalent, evaluations > 0 ? equivalent / evaluations : 0.0,
                   static_cast<unsigned long long>(tasks_done_), output_.c_str());
    }
    std::fflush(stderr);
  }

  const Grid& grid_;
  const CriticalOptions& options_;
  std::string output_;
  io::Journal& journal_;
  int ranks_, workers_ = 1;
  CostModel cost_;
  CriticalJob job_;
  std::vector<CriticalSearch> searches_;
  std::vector<std::map<double, PartialEvaluation>> partial_;
  std::vector<std::set<double>> requested_;
  std::vector<std::int64_t> flat_;
  std::map<std::int64_t, size_t> search_of_flat_;
  std::uint64_t replayed_trials_ = 0, trials_done_ = 0, tasks_done_ = 0;
  long finished_written_ = -1;
  Clock::time_point start_, last_write_, last_report_;
};
}  // namespace

int run_critical(const CriticalOptions& options, const parallel::Environment& mpi) {
  remember_launcher();
  const auto agree = [&mpi](const std::function<void()>& step) { return rank0_decides(mpi, step); };
  io::SweepConfig config;
  std::string output, journal_path, config_text;
  if (const int verdict = agree([&] {
        config = io::load_config(options.config_path, options.overrides);
        check_gamma_range(config);
        output = io::resolve_output_path(options.output.empty() ? config.critical_output() : options.output);
        journal_path = io::journal_path_of(output);
        io::check_output_path(output);
        if (file_exists(output)) {
          std::string stored;
          try {
            namespace h = io::h5;
            h::quiet_errors();
            const h::Handle file = h::open_file_readonly(output);
            if (!h::has_attribute(file, "/", "kind") || h::get_string_attribute(file, "/", "kind") != "critical")
              throw io::InputError("");
            stored = h::read_string(h::open_group(file, "meta"), "config_hash");
          } catch (const std::exception&) {
            throw io::InputError(output +
                                 " is not an attnsweep critical-search file; move it away or choose "
                                 "another --output");
          }
          if (stored != critical_hash_text(config.critical_hash()))
            throw io::InputError(output +
                                 " holds a critical search with another config; use another --output or "
                                 "the original config");
        }
        io::Journal::require_owner(journal_path, config.critical_hash(), "critical search");
        config_text = config.canonical_text() + "[run]\nthreads = " + std::to_string(config.threads) + "\n";
      });
      verdict != kExitOk)
    return verdict;
  parallel::broadcast(config_text, 0);
  const Grid grid(mpi.rank() == 0 ? config : io::parse_config(config_text, {}, "broadcast config"));
  const std::vector<parallel::NodeShare> nodes = parallel::gather_nodes(available_memory_bytes());
  std::unique_ptr<io::Journal> journal;
  std::map<std::pair<std::int64_t, double>, std::map<std::uint64_t, double>> replayed;
  if (const int verdict = agree([&] {
        check_nodes_fit(nodes, grid, mpi.size(), critical_master_bytes(grid, plan_critical(grid)));
        io::JournalVisitor visitor;
        visitor.on_trials = [&replayed](const io::TrialsRecord& r) {
          for (size_t i = 0; i < r.trial.size(); ++i) replayed[{r.cell, r.eta[i]}][r.trial[i]] = r.lambda[i];
        };
        journal = std::make_unique<io::Journal>(journal_path, config.critical_hash(), visitor);
        if (journal->damaged_bytes() > 0 || journal->dropped_bytes() > 0) {
          std::fprintf(stderr, "[attnsweep] %s: %llu damaged and %llu torn bytes skipped (their trials are redone)\n",
                       journal_path.c_str(), static_cast<unsigned long long>(journal->damaged_bytes()),
                       static_cast<unsigned long long>(journal->dropped_bytes()));
        }
        remove_stale_snapshots(output);
      });
      verdict != kExitOk)
    return verdict;
  if (mpi.rank() != 0) return run_worker_rank(grid);
  std::fprintf(stderr, "[attnsweep] critical: %zu searches (rho x d x n), %ld trials each, %d ranks on %s; output %s\n",
               grid.config().rho.size() * grid.config().d.size() * grid.config().n.size(), grid.config().trials,
               mpi.size(), node_summary(nodes).c_str(), output.c_str());
  CriticalMaster master(grid, options, output, *journal, std::move(replayed), mpi.size());
  return master.run();
}

}  // namespace attnsweep::sweep
