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

// The paper's gamma_c = 1/(1 - rho) is proved for one layer without residual (alpha = 0), full
// attention and beta = gamma ln n only.
double theory_gamma(const io::SweepConfig& config, double rho) {
  const bool applies = config.scaling == model::ScalingLaw::log && config.layers == 1 && config.alpha == 0 &&
                       config.mask == model::Mask::none;
  return applies ? model::critical_gamma(rho) : kNaN;
}

// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r) {
  if (!std::isfinite(r.gamma_c) || r.gamma_c <= 0) return kNaN;
  return std::ceil((s.gamma_high - s.gamma_low) / (s.tolerance * r.gamma_c)) + 1;
}

namespace {
// Where point p of the job lands in the file's arrays: C order over (rho, d, n[, position]).
size_t box_index(const io::SweepConfig& config, const CriticalJob& job, const CriticalJob::Point& point) {
  const size_t D = config.d.size(), N = config.n.size(), P = static_cast<size_t>(std::max(job.positions, 1));
  const size_t rdn =
      (static_cast<size_t>(point.rho) * D + static_cast<size_t>(point.d)) * N + static_cast<size_t>(point.n);
  return rdn * P + static_cast<size_t>(std::max(point.position, 0));
}

io::CriticalArrays sized_arrays(const io::SweepConfig& config, const CriticalJob& job,
                                const std::vector<CriticalSearch>& searches) {
  io::CriticalArrays a;
  a.K = 1;
  for (const CriticalSearch& s : searches)
    a.K = std::max<std::int64_t>(a.K, static_cast<std::int64_t>(s.evaluations().size()));
  a.T = config.trials;
  a.P = job.positions;
  const size_t points =
      config.rho.size() * config.d.size() * config.n.size() * static_cast<size_t>(std::max(a.P, std::int64_t{1}));
  for (auto* v : {&a.gamma_c, &a.low, &a.high, &a.target, &a.theory, &a.spread, &a.equivalent, &a.gamma_c_median})
    v->assign(points, kNaN);
  a.evaluations.assign(points, 0);
  a.steps.assign(points, 0);
  a.status.assign(points, static_cast<std::uint8_t>(CriticalStatus::absent));
  a.errors.resize(points);
  a.eval_gamma.assign(points * static_cast<size_t>(a.K), kNaN);
  a.eval_mean = a.eval_stderr = a.eval_gamma;
  a.eval_trial.assign(points * static_cast<size_t>(a.K * a.T), kNaN);
  a.eval_quantile.assign(points * static_cast<size_t>(a.K) * mc::kQuantileLevels.size(), kNaN);
  for (std::uint8_t k = 0; k <= static_cast<std::uint8_t>(CriticalStatus::absent); ++k)
    a.status_meanings.push_back(critical_status_name(static_cast<CriticalStatus>(k)));
  return a;
}

io::CriticalArrays gather_searches(const io::SweepConfig& config, const CriticalJob& job,
                                   const std::vector<CriticalSearch>& searches) {
  io::CriticalArrays a = sized_arrays(config, job, searches);
  const std::int64_t K = a.K, T = a.T;
  constexpr size_t levels = mc::kQuantileLevels.size();
  for (size_t s = 0; s < job.points.size(); ++s) {
    const size_t p = box_index(config, job, job.points[s]);
    const CriticalResult& r = searches[s].result();
    a.gamma_c[p] = r.gamma_c;
    a.low[p] = r.low;
    a.high[p] = r.high;
    a.target[p] = job.settings[s].target;
    a.theory[p] = theory_gamma(config, config.rho[static_cast<size_t>(job.points[s].rho)]);
    a.spread[p] = r.spread;
    a.equivalent[p] = grid_equivalent(job.settings[s], r);
    a.gamma_c_median[p] = median_crossing(searches[s].evaluations(), a.target[p], r.gamma_c);
    a.evaluations[p] = static_cast<std::int32_t>(searches[s].evaluations().size());
    a.steps[p] = static_cast<std::int32_t>(r.bisection_steps);
    a.status[p] = static_cast<std::uint8_t>(r.status);
    a.errors[p] = r.error;
    const auto& evals = searches[s].evaluations();
    for (size_t k = 0; k < evals.size(); ++k) {
      const size_t at = p * static_cast<size_t>(K) + k;
      a.eval_gamma[at] = evals[k].gamma;
      a.eval_mean[at] = evals[k].mean();
      a.eval_stderr[at] = evals[k].std_error();
      std::copy(evals[k].lambda.begin(), evals[k].lambda.end(),
                a.eval_trial.begin() + static_cast<std::ptrdiff_t>(at * T));
      const mc::Quantiles q = mc::quantiles(evals[k].lambda);
      std::copy(q.begin(), q.end(), a.eval_quantile.begin() + static_cast<std::ptrdiff_t>(at * levels));
    }
  }
  return a;
}

}  // namespace

void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches) {
  io::write_critical_file(path, config, gather_searches(config, job, searches));
}

}  // namespace attnsweep::sweep
