// What the critical search's file holds, gathered from its searches (io/critical_file.cpp writes
// it), and the figures its table and file share.
#include "attnsweep/io/critical_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "attnsweep/io/results_file.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/critical_campaign.hpp"

namespace attnsweep::sweep {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

// The paper's gamma_c = 1/(1 - rho) is proved for one layer without residual (alpha = 0) and
// beta = gamma ln n only.
double theory_gamma(const io::SweepConfig& config, double rho) {
  const bool applies = config.scaling == model::ScalingLaw::log && config.layers == 1 && config.alpha == 0;
  return applies ? model::critical_gamma(rho) : kNaN;
}

// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r) {
  if (!std::isfinite(r.gamma_c) || r.gamma_c <= 0) return kNaN;
  return std::ceil((s.gamma_high - s.gamma_low) / (s.tolerance * r.gamma_c)) + 1;
}

namespace {
io::CriticalArrays gather_searches(const io::SweepConfig& config, const CriticalJob& job,
                                   const std::vector<CriticalSearch>& searches) {
  io::CriticalArrays a;
  std::int64_t& K = a.K;
  K = 1;
  for (const CriticalSearch& s : searches)
    K = std::max<std::int64_t>(K, static_cast<std::int64_t>(s.evaluations().size()));
  a.T = config.trials;
  const std::int64_t T = a.T;
  const size_t points = job.points.size();
  for (auto* v : {&a.gamma_c, &a.low, &a.high, &a.target, &a.theory, &a.spread, &a.equivalent, &a.gamma_c_median})
    v->resize(points);
  a.evaluations.resize(points);
  a.steps.resize(points);
  a.status.resize(points);
  a.errors.resize(points);
  a.eval_gamma.assign(points * static_cast<size_t>(K), kNaN);
  a.eval_mean = a.eval_stderr = a.eval_gamma;
  a.eval_trial.assign(points * static_cast<size_t>(K * T), kNaN);
  constexpr size_t levels = mc::kQuantileLevels.size();
  a.eval_quantile.assign(points * static_cast<size_t>(K) * levels, kNaN);
  auto& [k_, t_, gamma_c, low, high, target, theory, spread, equivalent, gamma_c_median, evaluations, steps, status,
         errors, eval_gamma, eval_mean, eval_stderr, eval_trial, eval_quantile, meanings_] = a;
  for (size_t p = 0; p < points; ++p) {
    const CriticalResult& r = searches[p].result();
    gamma_c[p] = r.gamma_c;
    low[p] = r.low;
    high[p] = r.high;
    target[p] = job.settings[p].target;
    theory[p] = theory_gamma(config, config.rho[static_cast<size_t>(job.points[p].rho)]);
    spread[p] = r.spread;
    equivalent[p] = grid_equivalent(job.settings[p], r);
    gamma_c_median[p] = median_crossing(searches[p].evaluations(), target[p], r.gamma_c);
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
      const mc::Quantiles q = mc::quantiles(evals[k].lambda);
      std::copy(q.begin(), q.end(), eval_quantile.begin() + static_cast<std::ptrdiff_t>(at * levels));
    }
  }
  for (std::uint8_t k = 0; k <= static_cast<std::uint8_t>(CriticalStatus::above); ++k)
    a.status_meanings.push_back(critical_status_name(static_cast<CriticalStatus>(k)));
  return a;
}

}  // namespace

void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches) {
  io::write_critical_file(path, config, gather_searches(config, job, searches));
}

}  // namespace attnsweep::sweep
