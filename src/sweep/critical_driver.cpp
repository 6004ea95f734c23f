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
constexpr std::int64_t kCriticalSchema = 1;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string hash_text(std::uint64_t hash) {
  char text[32];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// The paper's gamma_c = 1/(1 - rho) applies to one layer with beta = gamma ln n only.
double theory_gamma(const io::SweepConfig& config, double rho) {
  return config.scaling == model::ScalingLaw::log && config.layers == 1 ? model::critical_gamma(rho) : kNaN;
}

// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r) {
  if (!std::isfinite(r.gamma_c) || r.gamma_c <= 0) return kNaN;
  return std::ceil((s.gamma_high - s.gamma_low) / (s.tolerance * r.gamma_c)) + 1;
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

void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches) {
  namespace h = io::h5;
  const auto R = static_cast<std::int64_t>(config.rho.size()), D = static_cast<std::int64_t>(config.d.size()),
             N = static_cast<std::int64_t>(config.n.size());
  const std::vector<std::int64_t> shape = {R, D, N};
  std::int64_t K = 1;
  for (const CriticalSearch& s : searches)
    K = std::max<std::int64_t>(K, static_cast<std::int64_t>(s.evaluations().size()));
  const std::int64_t T = config.trials;
  const size_t points = job.points.size();
  std::vector<double> gamma_c(points), low(points), high(points), target(points), theory(points), spread(points),
      equivalent(points);
  std::vector<std::int32_t> evaluations(points), steps(points);
  std::vector<std::uint8_t> status(points);
  std::vector<std::string> errors(points);
  std::vector<double> eval_gamma(points * static_cast<size_t>(K), kNaN), eval_mean = eval_gamma,
                                                                         eval_stderr = eval_gamma;
  std::vector<double> eval_trial(points * static_cast<size_t>(K * T), kNaN);
  for (size_t p = 0; p < points; ++p) {
    const CriticalResult& r = searches[p].result();
    gamma_c[p] = r.gamma_c;
    low[p] = r.low;
    high[p] = r.high;
    target[p] = job.settings[p].target;
    theory[p] = theory_gamma(config, config.rho[static_cast<size_t>(job.points[p].rho)]);
    spread[p] = r.spread;
    equivalent[p] = grid_equivalent(job.settings[p], r);
    evaluations[p] = static_cast<std::int32_t>(searches[p].evaluations().size());
    steps[p] = static_cast<std::int32_t>(r.bisection_steps);
    status[p] = static_cast<std::uint8_t>(r.status);
    errors[p] = r.error;
    const auto& evals = searches[p].evaluations();
    for (size_t k = 0; k < evals.size(); ++k) {
      const size_t at = p * static_cast<size_t>(K) + k;
      eval_gamma[at] = evals[k].gamma;
      eval_mean[at] = evals[k].mean();
      eval_stderr[at] = evals[k].std_error();
      std::copy(evals[k].lambda.begin(), evals[k].lambda.end(),
                eval_trial.begin() + static_cast<std::ptrdiff_t>(at * T));
    }
  }
  io::write_hdf5_atomically(path, [&](const h::Handle& file) {
    h::write_doubles(file, "rho", {R}, config.rho);
    h::write_int64(file, "d", {D}, {config.d.begin(), config.d.end()});
    h::write_int64(file, "n", {N}, {config.n.begin(), config.n.end()});
    std::vector<std::int64_t> index(static_cast<size_t>(std::max(K, T)));
    for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<std::int64_t>(i);
    h::write_int64(file, "evaluation", {K}, {index.begin(), index.begin() + K});
    h::write_int64(file, "trial", {T}, {index.begin(), index.begin() + T});
    h::write_doubles(file, "gamma_c", shape, gamma_c);
    h::write_doubles(file, "gamma_c_low", shape, low);
    h::write_doubles(file, "gamma_c_high", shape, high);
    h::write_doubles(file, "gamma_c_spread", shape, spread);
    h::write_doubles(file, "lambda_target", shape, target);
    h::write_doubles(file, "gamma_theory", shape, theory);
    h::write_doubles(file, "grid_equivalent", shape, equivalent);
    h::write_int32(file, "evaluations", shape, evaluations);
    h::write_int32(file, "bisection_steps", shape, steps);
    h::write_uint8(file, "status", shape, status);
    std::vector<const char*> error_texts(points);
    for (size_t p = 0; p < points; ++p) error_texts[p] = errors[p].c_str();
    h::write_strings(file, "error", shape, error_texts);
    const std::vector<std::int64_t> shape4 = {R, D, N, K}, shape5 = {R, D, N, K, T};
    h::write_doubles(file, "eval_gamma", shape4, eval_gamma);
    h::write_doubles(file, "eval_lambda_mean", shape4, eval_mean);
    h::write_doubles(file, "eval_lambda_stderr", shape4, eval_stderr);
    h::write_doubles(file, "eval_lambda_trial", shape5, eval_trial);
    h::Handle meta = h::create_group(file, "meta");
    h::write_string(meta, "config", config.critical_text());
    h::write_string(meta, "config_hash", hash_text(config.critical_hash()));
    h::write_string(meta, "build", io::build_description());
    const char* const axes[] = {"/rho", "/d", "/n", "/evaluation", "/trial"};
    for (const char* axis : axes) h::make_scale(file, axis, axis + 1);
    const auto attach = [&](const char* array, unsigned rank) {
      for (unsigned a = 0; a < rank; ++a) h::attach_scale(file, array, axes[a], a);
    };
    for (const char* array :
         {"/gamma_c", "/gamma_c_low", "/gamma_c_high", "/gamma_c_spread", "/lambda_target", "/gamma_theory",
          "/grid_equivalent", "/evaluations", "/bisection_steps", "/status", "/error"})
      attach(array, 3);
    for (const char* array : {"/eval_gamma", "/eval_lambda_mean", "/eval_lambda_stderr"}) attach(array, 4);
    attach("/eval_lambda_trial", 5);
    h::set_attribute(file, "/", "schema_version", kCriticalSchema);
    h::set_attribute(file, "/", "kind", std::string("critical"));
    h::set_attribute(file, "/", "engine_version", io::engine_version());
    h::set_attribute(file, "/", "created_utc", io::utc_now());
    h::set_attribute(file, "/", "title",
                     std::string("attnsweep critical-point search: gamma where lambda crosses its target"));
    char interval[96];
    std::snprintf(interval, sizeof interval, "%.4g%% bootstrap over trials, %ld resamples",
                  100 * config.critical.confidence, config.critical.resamples);
    const std::pair<const char*, std::string> names[] = {
        {"/rho", "input pairwise cosine rho"},
        {"/d", "token dimension d"},
        {"/n", "number of tokens n"},
        {"/evaluation", "evaluation index (in the order the search asked for them)"},
        {"/trial", "trial index (its random draws)"},
        {"/gamma_c", "gamma where the trial-averaged lambda crosses lambda_target"},
        {"/gamma_c_low", std::string("lower end of gamma_c's interval (") + interval + ")"},
        {"/gamma_c_high", std::string("upper end of gamma_c's interval (") + interval + ")"},
        {"/gamma_c_spread", "delta-method spread of gamma_c: stderr of lambda over its slope"},
        {"/lambda_target", "the lambda crossed (paper: 1 / (1 + 3 rho))"},
        {"/gamma_theory", "the paper's gamma_c = 1 / (1 - rho) (NaN unless beta = gamma ln n and one layer)"},
        {"/grid_equivalent", "cells of a uniform gamma grid over the range at the same resolution"},
        {"/evaluations", "gammas evaluated (each with every trial)"},
        {"/bisection_steps", "bisection steps"},
        {"/status", "search status"},
        {"/error", "error text of a failed search"},
        {"/eval_gamma", "gamma of each evaluation (NaN: none)"},
        {"/eval_lambda_mean", "lambda averaged over trials at each evaluation"},
        {"/eval_lambda_stderr", "standard error of eval_lambda_mean"},
        {"/eval_lambda_trial", "lambda of each trial at each evaluation"}};
    for (const auto& [array, text] : names) h::set_attribute(file, array, "long_name", text);
    h::set_attribute(file, "/status", "meaning",
                     std::string("0 missing, 1 done, 2 failed, 3 below (lambda < target "
                                 "over the whole range), 4 above (lambda > target)"));
  });
}

std::string format_critical(const io::SweepConfig& config, const CriticalJob& job,
                            const std::vector<CriticalSearch>& searches, const std::string& format) {
  std::ostringstream out;
  const auto number = [](double v, const char* spec = "%.8g") {
    if (!std::isfinite(v)) return std::string("nan");
    char buf[64];
    std::snprintf(buf, sizeof buf, spec, v);
    return std::string(buf);
  };
  const auto json = [&](double v) { return std::isfinite(v) ? number(v, "%.17g") : std::string("null"); };
  if (format == "csv") {
    out << "rho,d,n,lambda_target,gamma_c,gamma_c_low,gamma_c_high,gamma_theory,relative_difference,relative_low,"
           "relative_high,status,evaluations,grid_equivalent\n";
  } else if (format == "json") {
    out << "[";
  } else {
    out << "  rho      d      n   target      gamma_c  interval                  theory   rel.diff  evals  grid "
           "cells  status\n";
  }
  for (size_t p = 0; p < job.points.size(); ++p) {
    const CriticalResult& r = searches[p].result();
    const double rho = config.rho[static_cast<size_t>(job.points[p].rho)];
    const long d = config.d[static_cast<size_t>(job.points[p].d)], n = config.n[static_cast<size_t>(job.points[p].n)];
    const double theory = theory_gamma(config, rho), target = job.settings[p].target;
    const double rel = (r.gamma_c - theory) / theory, rel_low = (r.low - theory) / theory,
                 rel_high = (r.high - theory) / theory;
    const double cells = grid_equivalent(job.settings[p], r);
    const auto evals = static_cast<long>(searches[p].evaluations().size());
    const char* status = critical_status_name(r.status);
    if (format == "csv") {
      out << number(rho) << "," << d << "," << n << "," << number(target) << "," << number(r.gamma_c) << ","
          << number(r.low) << "," << number(r.high) << "," << number(theory) << "," << number(rel) << ","
          << number(rel_low) << "," << number(rel_high) << "," << status << "," << evals << "," << number(cells, "%.0f")
          << "\n";
    } else if (format == "json") {
      out << (p ? ", " : "") << "{\"rho\": " << json(rho) << ", \"d\": " << d << ", \"n\": " << n
          << ", \"lambda_target\": " << json(target) << ", \"gamma_c\": " << json(r.gamma_c)
          << ", \"gamma_c_low\": " << json(r.low) << ", \"gamma_c_high\": " << json(r.high)
          << ", \"gamma_theory\": " << json(theory) << ", \"relative_difference\": " << json(rel) << ", \"status\": \""
          << status << "\", \"evaluations\": " << evals << ", \"grid_equivalent\": " << json(cells) << "}";
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "%5.3g %6ld %6ld %8.5f %12.6g  [%10.6g, %10.6g] %10.6g %9s %6ld %11s  %s\n", rho,
                    d, n, target, r.gamma_c, r.low, r.high, theory,
                    std::isfinite(rel) ? number(100 * rel, "%+.2f%%").c_str() : "n/a", evals,
                    number(cells, "%.0f").c_str(), status);
      out << line;
    }
  }
  if (format == "json") out << "]\n";
  return out.str();
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
          if (stored != hash_text(config.critical_hash()))
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
