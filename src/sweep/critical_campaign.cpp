#include "attnsweep/sweep/critical_campaign.hpp"

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

#include "attnsweep/io/critical_file.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/exit_codes.hpp"
#include "attnsweep/sweep/startup.hpp"
#include "attnsweep/sweep/stop.hpp"

namespace attnsweep::sweep {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSnapshotEvery = 30;  // least seconds between HDF5 writes while running

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

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
  if (io::is_swept(config, "position") || config.position != model::kWholeSequence) {
    throw io::InputError(std::string(io::is_swept(config, "position") ? "grid" : "mc") +
                         ".position: the critical search follows a position bucket with critical.position "
                         "(whole, last or all), not a sweep's position");
  }
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

namespace {
// The position buckets searched at n tokens: none (-1: all pairs), the last, or every one.
std::vector<int> searched_positions(const io::SweepConfig& config, long n) {
  const int buckets = model::position_buckets(n);
  switch (config.critical.positions) {
    case io::CriticalConfig::Positions::last:
      return {buckets - 1};
    case io::CriticalConfig::Positions::all: {
      std::vector<int> all(static_cast<size_t>(buckets));
      for (int b = 0; b < buckets; ++b) all[static_cast<size_t>(b)] = b;
      return all;
    }
    case io::CriticalConfig::Positions::whole:
      break;
  }
  return {-1};
}
}  // namespace

CriticalJob plan_critical(const Grid& grid) {
  const io::SweepConfig& config = grid.config();
  CriticalJob job;
  if (config.critical.positions != io::CriticalConfig::Positions::whole)
    job.positions = model::position_buckets(*std::max_element(config.n.begin(), config.n.end()));
  for (long r = 0; r < static_cast<long>(config.rho.size()); ++r)
    for (long d = 0; d < static_cast<long>(config.d.size()); ++d)
      for (long n = 0; n < static_cast<long>(config.n.size()); ++n)
        for (const int position : searched_positions(config, config.n[static_cast<size_t>(n)])) {
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
          job.points.push_back({r, d, n, position});
          job.settings.push_back(s);
        }
  return job;
}

namespace {
// Rank 0's half of the search: the searches, their journaled trials, and what to compute next.
// Results become visible (reach a search) only once durable in the journal.
class CriticalCampaign final : public Campaign {
 public:
  explicit CriticalCampaign(const CriticalOptions& options) : options_(options) {}

  io::SweepConfig prepare() override {
    config_ = io::load_config(options_.config_path, options_.overrides);
    check_gamma_range(config_);
    output_ = io::resolve_output_path(options_.output.empty() ? config_.critical_output() : options_.output);
    journal_path_ = io::journal_path_of(output_);
    io::check_output_path(output_);
    if (file_exists(output_)) io::require_same_critical_search(output_, config_.critical_hash());
    io::Journal::require_owner(journal_path_, config_.critical_hash(), "critical search");
    return config_;
  }
  double master_bytes(const Grid& grid) const override { return critical_master_bytes(grid, plan_critical(grid)); }
  void open(const Grid& grid) override;
  void announce(const std::string& nodes, int ranks) const override {
    std::fprintf(stderr,
                 "[attnsweep] critical: %zu searches (rho x d x n%s), %ld trials each, %d ranks on %s; output %s\n",
                 searches_.size(), job_.positions > 0 ? " x position" : "", grid_->config().trials, ranks,
                 nodes.c_str(), output_.c_str());
  }

  std::vector<Task> start(const CostModel& cost, int workers, double max_task_seconds) override {
    cost_ = cost;
    workers_ = workers;
    max_task_seconds_ = max_task_seconds;
    if (replayed_trials_ > 0) {
      std::fprintf(stderr, "[attnsweep] critical: %llu journaled trials restored\n",
                   static_cast<unsigned long long>(replayed_trials_));
    }
    write_file();
    return {};  // every task comes from feed(): what the searches want next
  }
  void feed(Dispatcher& dispatcher) override;
  void accept(std::vector<TaskResult>& results, Dispatcher& dispatcher) override;
  bool finished(const Dispatcher&) const override { return finished_count() == static_cast<long>(searches_.size()); }
  void checkpoint() override {
    if (finished_count() != finished_written_ && seconds_since(last_write_) >= kSnapshotEvery) write_file();
  }
  void final_checkpoint() override { write_file(); }
  ProgressCounts progress() const override;
  void summarise(double wall, double busy) const override;
  int exit_code(const Dispatcher& dispatcher) const override;
  void publish() const override {
    if (options_.publish) options_.publish(grid_->config(), job_, searches_);
  }

 private:
  PartialEvaluation& evaluation(size_t search, double gamma) {
    PartialEvaluation& e = partial_[search][gamma];
    if (e.lambda.empty()) e.lambda.assign(static_cast<size_t>(grid_->config().trials), kNaN);
    return e;
  }
  void restore(std::int64_t search, double gamma, std::uint64_t trial, double lambda);
  std::vector<Task> tasks_for(size_t s, const std::vector<double>& gammas, const std::vector<std::uint64_t>& missing,
                              long active) const;
  void journal_results(const std::vector<TaskResult>& results);
  void write_file() {
    write_critical_file(output_, grid_->config(), job_, searches_);
    last_write_ = Clock::now();
    finished_written_ = finished_count();
  }
  long finished_count() const {
    long c = 0;
    for (const CriticalSearch& s : searches_) c += s.finished();
    return c;
  }

  const CriticalOptions& options_;
  io::SweepConfig config_;
  std::string output_, journal_path_;
  const Grid* grid_ = nullptr;
  std::unique_ptr<io::Journal> journal_;
  int workers_ = 1;
  double max_task_seconds_ = kMaxTaskSeconds;
  CostModel cost_;
  CriticalJob job_;
  std::vector<CriticalSearch> searches_;
  std::vector<std::map<double, PartialEvaluation>> partial_;
  std::vector<std::set<double>> requested_;
  std::vector<std::int64_t> flat_;
  std::map<std::pair<std::int64_t, int>, size_t> search_of_;  // (cell, position) -> search
  size_t search_of(std::int64_t cell, int position) const { return search_of_.at({cell, position}); }
  std::uint64_t replayed_trials_ = 0, trials_done_ = 0, tasks_done_ = 0;
  long finished_written_ = -1;
  Clock::time_point last_write_;
};

void CriticalCampaign::open(const Grid& grid) {
  grid_ = &grid;
  job_ = plan_critical(grid);
  for (const CriticalSettings& s : job_.settings) searches_.emplace_back(s);
  partial_.resize(searches_.size());
  requested_.resize(searches_.size());
  for (const CriticalJob::Point& p : job_.points) {
    std::vector<std::int64_t> index(grid.axes().size(), 0);
    index[kRhoAxis] = p.rho;
    index[kDAxis] = p.d;
    index[kNAxis] = p.n;
    flat_.push_back(grid.flat(index));
  }
  for (size_t s = 0; s < flat_.size(); ++s) search_of_[{flat_[s], job_.points[s].position}] = s;
  io::JournalVisitor visitor;
  visitor.on_evaluation = [this](const io::EvaluationRecord& r) {
    for (size_t i = 0; i < r.trial.size(); ++i) restore(r.search, r.gamma, r.trial[i], r.lambda[i]);
  };
  // 0.2's critical journals: trials records with the search as the cell and the gamma as eta.
  visitor.on_trials = [this](const io::TrialsRecord& r) {
    const std::vector<double>&lambda = r.values[mc::kLambda], &gamma = r.values[mc::kEta];
    for (size_t i = 0; i < r.trial.size(); ++i) restore(r.cell, gamma[i], r.trial[i], lambda[i]);
  };
  journal_ = std::make_unique<io::Journal>(journal_path_, config_.critical_hash(), visitor);
  if (journal_->damaged_bytes() > 0 || journal_->dropped_bytes() > 0) {
    std::fprintf(stderr, "[attnsweep] %s: %llu damaged and %llu torn bytes skipped (their trials are redone)\n",
                 journal_path_.c_str(), static_cast<unsigned long long>(journal_->damaged_bytes()),
                 static_cast<unsigned long long>(journal_->dropped_bytes()));
  }
  remove_stale_snapshots(output_);
}

void CriticalCampaign::restore(std::int64_t search, double gamma, std::uint64_t trial, double lambda) {
  if (search < 0 || search >= static_cast<std::int64_t>(searches_.size())) return;
  PartialEvaluation& e = evaluation(static_cast<size_t>(search), gamma);
  if (trial >= e.lambda.size() || !std::isnan(e.lambda[trial])) return;
  e.lambda[trial] = lambda;
  ++e.known;
  ++replayed_trials_;
}

// Gives every search what is known, then queues tasks for the trials of wanted gammas that are
// neither known nor asked for yet.
void CriticalCampaign::feed(Dispatcher& dispatcher) {
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
    for (std::uint64_t t = 0; t < static_cast<std::uint64_t>(grid_->config().trials); ++t) {
      bool any = false;
      for (double gamma : fresh) any = any || std::isnan(evaluation(s, gamma).lambda[t]);
      if (any) missing.push_back(t);
    }
    dispatcher.add(tasks_for(s, fresh, missing, active));
  }
}

// Trials `missing` (ascending) of search s at `gammas`, in contiguous runs split into pieces:
// enough pieces that the workers share the active searches, each under the task cap.
std::vector<Task> CriticalCampaign::tasks_for(size_t s, const std::vector<double>& gammas,
                                              const std::vector<std::uint64_t>& missing, long active) const {
  mc::CellParams cell = grid_->cell(flat_[s]);
  cell.observe_eta = false;
  const double per_trial = cost_.trial_seconds(cell) * static_cast<double>(gammas.size());
  const long trials = grid_->config().trials;
  const long pieces = std::clamp<long>((2L * workers_ + active - 1) / std::max(1L, active), 1, trials);
  long size = (trials + pieces - 1) / pieces;
  size = std::max(1L, std::min(size, static_cast<long>(max_task_seconds_ / std::max(per_trial, 1e-9))));
  std::vector<Task> tasks;
  for (size_t i = 0; i < missing.size();) {
    size_t j = i + 1;
    while (j < missing.size() && missing[j] == missing[j - 1] + 1 && static_cast<long>(j - i) < size) ++j;
    Task task;
    task.cells.assign(gammas.size(), flat_[s]);
    task.gammas = gammas;
    task.lambda_only = true;
    task.position = job_.points[s].position;
    task.first_trial = missing[i];
    task.trial_count = j - i;
    task.estimated_seconds = per_trial * static_cast<double>(j - i);
    tasks.push_back(std::move(task));
    i = j;
  }
  return tasks;
}

// One write and one fdatasync for everything that came back in a pass.
void CriticalCampaign::journal_results(const std::vector<TaskResult>& results) {
  io::Journal::Batch batch;
  for (const TaskResult& result : results) {
    const double share = result.seconds / static_cast<double>(std::max<size_t>(1, result.outcomes.size()));
    for (size_t k = 0; k < result.outcomes.size(); ++k) {
      const CellOutcome& outcome = result.outcomes[k];
      if (outcome.samples.size() == 0) continue;
      io::EvaluationRecord record;
      record.search = static_cast<std::int64_t>(search_of(outcome.cell, result.task.position));
      record.gamma = result.task.gammas[k];
      record.seconds = share;
      for (const auto& [trial, value] : outcome.samples.by_trial()) {
        record.trial.push_back(trial);
        record.lambda.push_back(value[mc::kLambda]);
      }
      batch.add(record);
    }
  }
  if (!batch.empty()) journal_->commit(batch);
}

// Durable first, then the searches see it.
void CriticalCampaign::accept(std::vector<TaskResult>& results, Dispatcher&) {
  if (results.empty()) return;
  journal_results(results);
  for (const TaskResult& result : results) {
    ++tasks_done_;
    for (size_t k = 0; k < result.outcomes.size(); ++k) {
      const CellOutcome& outcome = result.outcomes[k];
      const size_t s = search_of(outcome.cell, result.task.position);
      const double gamma = result.task.gammas[k];
      PartialEvaluation& e = evaluation(s, gamma);
      for (const auto& [trial, value] : outcome.samples.by_trial()) {
        if (!std::isnan(e.lambda[trial])) continue;
        e.lambda[trial] = value[mc::kLambda];
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

// The trials still to come are bounded by every search's most evaluations (max_evaluations).
ProgressCounts CriticalCampaign::progress() const {
  ProgressCounts c;
  c.unit = "searches";
  c.total = static_cast<std::int64_t>(searches_.size());
  c.trials_done = trials_done_;
  c.trials_total_is_bound = true;
  for (size_t s = 0; s < searches_.size(); ++s) {
    const CriticalSearch& search = searches_[s];
    c.done += search.finished();
    c.failed += search.result().status == CriticalStatus::failed;
    const long evaluations = static_cast<long>(search.evaluations().size());
    const long bound = search.finished() ? evaluations : std::max(evaluations, max_evaluations(job_.settings[s]));
    c.trials_total += static_cast<std::uint64_t>(bound * grid_->config().trials);
  }
  c.trials_total = std::max<std::uint64_t>(c.trials_total - std::min(c.trials_total, replayed_trials_), trials_done_);
  return c;
}

void CriticalCampaign::summarise(double wall, double) const {
  long evaluations = 0;
  double equivalent = 0;
  for (size_t s = 0; s < searches_.size(); ++s) {
    evaluations += static_cast<long>(searches_[s].evaluations().size());
    const double cells = grid_equivalent(job_.settings[s], searches_[s].result());
    if (std::isfinite(cells)) equivalent += cells;
  }
  std::fprintf(stderr,
               "[attnsweep] critical: %ld evaluations of %ld trials each, where a uniform gamma grid at the same "
               "resolution needs %.0f cells (%.0fx more); %llu trials and %llu tasks in %.1f s; output %s\n",
               evaluations, grid_->config().trials, equivalent, evaluations > 0 ? equivalent / evaluations : 0.0,
               static_cast<unsigned long long>(trials_done_), static_cast<unsigned long long>(tasks_done_), wall,
               output_.c_str());
  std::fflush(stderr);
}

int CriticalCampaign::exit_code(const Dispatcher& dispatcher) const {
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
}  // namespace

int run_critical(const CriticalOptions& options, const CampaignLimits& limits, const parallel::Environment& mpi) {
  CriticalCampaign campaign(options);
  return run_campaign(campaign, limits, mpi);
}

}  // namespace attnsweep::sweep
