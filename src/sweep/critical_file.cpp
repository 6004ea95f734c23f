// The critical search's HDF5 file and its table: what a finished (or stopped) search writes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/critical_driver.hpp"

namespace attnsweep::sweep {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kCriticalSchema = 1;

// The paper's gamma_c = 1/(1 - rho) applies to one layer with beta = gamma ln n only.
double theory_gamma(const io::SweepConfig& config, double rho) {
  return config.scaling == model::ScalingLaw::log && config.layers == 1 ? model::critical_gamma(rho) : kNaN;
}

}  // namespace

std::string critical_hash_text(std::uint64_t hash) {
  char text[32];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r) {
  if (!std::isfinite(r.gamma_c) || r.gamma_c <= 0) return kNaN;
  return std::ceil((s.gamma_high - s.gamma_low) / (s.tolerance * r.gamma_c)) + 1;
}

namespace {
// The arrays of a search's file, one entry per point (and per evaluation and trial).
struct SearchArrays {
  std::int64_t K = 1, T = 1;
  std::vector<double> gamma_c, low, high, target, theory, spread, equivalent;
  std::vector<std::int32_t> evaluations, steps;
  std::vector<std::uint8_t> status;
  std::vector<std::string> errors;
  std::vector<double> eval_gamma, eval_mean, eval_stderr, eval_trial;
};

SearchArrays gather_searches(const io::SweepConfig& config, const CriticalJob& job,
                             const std::vector<CriticalSearch>& searches) {
  SearchArrays a;
  std::int64_t& K = a.K;
  K = 1;
  for (const CriticalSearch& s : searches)
    K = std::max<std::int64_t>(K, static_cast<std::int64_t>(s.evaluations().size()));
  a.T = config.trials;
  const std::int64_t T = a.T;
  const size_t points = job.points.size();
  for (auto* v : {&a.gamma_c, &a.low, &a.high, &a.target, &a.theory, &a.spread, &a.equivalent}) v->resize(points);
  a.evaluations.resize(points);
  a.steps.resize(points);
  a.status.resize(points);
  a.errors.resize(points);
  a.eval_gamma.assign(points * static_cast<size_t>(K), kNaN);
  a.eval_mean = a.eval_stderr = a.eval_gamma;
  a.eval_trial.assign(points * static_cast<size_t>(K * T), kNaN);
  auto& [k_, t_, gamma_c, low, high, target, theory, spread, equivalent, evaluations, steps, status, errors, eval_gamma,
         eval_mean, eval_stderr, eval_trial] = a;
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
  return a;
}

// The file's kind, provenance and what each variable is.
void describe_search_file(const io::h5::Handle& file, const io::SweepConfig& config) {
  namespace h = io::h5;
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
}

}  // namespace

void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches) {
  namespace h = io::h5;
  const auto R = static_cast<std::int64_t>(config.rho.size()), D = static_cast<std::int64_t>(config.d.size()),
             N = static_cast<std::int64_t>(config.n.size());
  const std::vector<std::int64_t> shape = {R, D, N};
  // The search's arrays, point by point (K evaluations of T trials at most).
  const auto [K, T, gamma_c, low, high, target, theory, spread, equivalent, evaluations, steps, status, errors,
              eval_gamma, eval_mean, eval_stderr, eval_trial] = gather_searches(config, job, searches);
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
    std::vector<const char*> error_texts(errors.size());
    for (size_t p = 0; p < errors.size(); ++p) error_texts[p] = errors[p].c_str();
    h::write_strings(file, "error", shape, error_texts);
    const std::vector<std::int64_t> shape4 = {R, D, N, K}, shape5 = {R, D, N, K, T};
    h::write_doubles(file, "eval_gamma", shape4, eval_gamma);
    h::write_doubles(file, "eval_lambda_mean", shape4, eval_mean);
    h::write_doubles(file, "eval_lambda_stderr", shape4, eval_stderr);
    h::write_doubles(file, "eval_lambda_trial", shape5, eval_trial);
    h::Handle meta = h::create_group(file, "meta");
    h::write_string(meta, "config", config.critical_text());
    h::write_string(meta, "config_hash", critical_hash_text(config.critical_hash()));
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
    describe_search_file(file, config);
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

}  // namespace attnsweep::sweep
