// The critical-point search's logic (sweep/critical.hpp) on curves with known crossings: the
// exact simplex's lambda(gamma) in closed form at finite n, linear per-trial curves whose
// bootstrap interval has a known width, and the statuses of curves that never cross.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/critical.hpp"

namespace sweep = attnsweep::sweep;
namespace model = attnsweep::model;

namespace {
// Runs a search to the end, answering each wanted gamma with curve(gamma) (one value per trial).
sweep::CriticalSearch run_search(const sweep::CriticalSettings& settings,
                                 const std::function<std::vector<double>(double)>& curve, bool reversed = false) {
  sweep::CriticalSearch search(settings);
  for (int guard = 0; !search.finished() && guard < 1000; ++guard) {
    std::vector<double> wanted = search.wanted();
    if (reversed) std::reverse(wanted.begin(), wanted.end());  // answers in another order
    for (double gamma : wanted)
      if (!search.finished()) search.provide(gamma, curve(gamma));
  }
  return search;
}

// An independent root of f on [lo, hi] (f(lo) < 0 < f(hi)) to full precision.
double root(const std::function<double(double)>& f, double lo, double hi) {
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (f(mid) < 0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}
}  // namespace

// The simplex's lambda(gamma) at finite n (MODEL.md section 5) crosses 1/(1 + 3 rho) where the
// closed form says, to the search's relative tolerance.
TEST(CriticalSearch, FindsTheSimplexCrossingToItsTolerance) {
  for (const double rho : {0.1, 0.5, 0.8})
    for (const double n : {16.0, 1024.0})
      for (const double tolerance : {1e-3, 1e-6}) {
        const double d = n + 1, target = 1 / (1 + 3 * rho);
        const auto lambda = [&](double gamma) { return model::simplex_theory(rho, gamma, n, d, 0.0).lambda; };
        sweep::CriticalSettings s;
        s.gamma_low = 0.25;
        s.gamma_high = 40;
        s.target = target;
        s.tolerance = tolerance;
        s.trials = 1;
        const auto search = run_search(s, [&](double g) { return std::vector<double>{lambda(g)}; });
        ASSERT_EQ(search.result().status, sweep::CriticalStatus::done);
        const double exact = root([&](double g) { return lambda(g) - target; }, s.gamma_low, s.gamma_high);
        EXPECT_LT(std::abs(search.result().gamma_c - exact), tolerance * exact)
            << "rho " << rho << " n " << n << " tol " << tolerance;
        // Bisection halves the bracket each step: the steps are those of the tolerance.
        const double steps = std::ceil(std::log2((s.gamma_high - s.gamma_low) / (tolerance * exact)));
        EXPECT_LE(std::abs(search.result().bisection_steps - steps), 1) << search.result().bisection_steps;
        // One trial: no standard error, so no interval.
        EXPECT_TRUE(std::isnan(search.result().low));
      }
}

// Per-trial curves lambda_t(gamma) = a_t + b gamma: the mean crosses at (target - mean a) / b
// and, over resamples of the trials, the crossing is the resampled mean of a mapped the same
// way, so the 95% interval is about +- 1.96 stderr(a) / b around it.
TEST(CriticalSearch, BootstrapIntervalHasTheWidthOfTheStandardError) {
  const long trials = 400;
  std::vector<double> a(static_cast<size_t>(trials));
  attnsweep::mc::RandomStream stream(3, 0, 0, attnsweep::mc::Purpose::tokens);
  double mean = 0;
  for (double& v : a) mean += (v = 0.2 + 0.05 * stream.normal());
  mean /= trials;
  double var = 0;
  for (double v : a) var += (v - mean) * (v - mean);
  const double se = std::sqrt(var / (trials - 1) / trials), b = 0.1;
  sweep::CriticalSettings s;
  s.gamma_low = 0;
  s.gamma_high = 10;
  s.target = 0.5;
  s.tolerance = 1e-8;
  s.trials = trials;
  s.resamples = 4000;
  s.seed = 11;
  const auto curve = [&](double g) {
    std::vector<double> values(a);
    for (double& v : values) v += b * g;
    return values;
  };
  const auto search = run_search(s, curve);
  const auto& r = search.result();
  ASSERT_EQ(r.status, sweep::CriticalStatus::done);
  EXPECT_NEAR(r.gamma_c, (s.target - mean) / b, 1e-6);
  EXPECT_NEAR(r.spread, se / b, 1e-3 * se / b);
  // The quantiles of 4000 resamples: the half-width within 10% of 1.96 se / b.
  EXPECT_NEAR(0.5 * (r.high - r.low), 1.96 * se / b, 0.1 * 1.96 * se / b);
  EXPECT_LT(r.low, r.gamma_c);
  EXPECT_GT(r.high, r.gamma_c);
  // 2 ends + bisection + 4 interval points.
  EXPECT_EQ(r.evaluations, 2 + r.bisection_steps + 4);
  // Answering the gammas in another order takes the same path to the same bits.
  const auto again = run_search(s, curve, true);
  EXPECT_EQ(again.result().gamma_c, r.gamma_c);
  EXPECT_EQ(again.result().low, r.low);
  EXPECT_EQ(again.result().high, r.high);
}

TEST(CriticalSearch, CurvesThatNeverCrossAndFailures) {
  sweep::CriticalSettings s;
  s.gamma_low = 1;
  s.gamma_high = 2;
  s.target = 0.5;
  s.trials = 2;
  EXPECT_EQ(run_search(s,
                       [](double) {
                         return std::vector<double>{0.1, 0.2};
                       })
                .result()
                .status,
            sweep::CriticalStatus::below);
  EXPECT_EQ(run_search(s,
                       [](double) {
                         return std::vector<double>{0.8, 0.9};
                       })
                .result()
                .status,
            sweep::CriticalStatus::above);
  const auto nan = run_search(s, [](double) { return std::vector<double>{NAN, 0.2}; });
  EXPECT_EQ(nan.result().status, sweep::CriticalStatus::failed);
  EXPECT_FALSE(nan.result().error.empty());
  sweep::CriticalSearch search(s);
  EXPECT_THROW(search.provide(1.5, {0.1, 0.2}), std::logic_error);  // not asked for
  EXPECT_THROW(search.provide(1.0, {0.1}), std::logic_error);       // wrong trial count
  s.gamma_high = 0.5;                                               // low >= high
  EXPECT_THROW(sweep::CriticalSearch{s}, std::invalid_argument);
}
