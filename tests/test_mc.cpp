// Counter-based random streams and the mergeable per-cell samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/samples.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/dense.hpp"
#include "attnsweep/model/theory.hpp"

namespace mc = attnsweep::mc;

TEST(Rng, PhiloxKnownAnswers) {
  // Random123's published known-answer vectors for Philox4x64-10.
  using G = r123::Philox4x64;
  G::ctr_type zero_ctr = {{0, 0, 0, 0}};
  G::key_type zero_key = {{0, 0}};
  G::ctr_type out = G{}(zero_ctr, zero_key);
  EXPECT_EQ(out.v[0], 0x16554d9eca36314cull);
  EXPECT_EQ(out.v[1], 0xdb20fe9d672d0fdcull);
  EXPECT_EQ(out.v[2], 0xd7e772cee186176bull);
  EXPECT_EQ(out.v[3], 0x7e68b68aec7ba23bull);
  G::ctr_type pi_ctr = {{0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull}};
  G::key_type pi_key = {{0x452821e638d01377ull, 0xbe5466cf34e90c6cull}};
  out = G{}(pi_ctr, pi_key);
  EXPECT_EQ(out.v[0], 0xa528f45403e61d95ull);
  EXPECT_EQ(out.v[1], 0x38c72dbd566e9788ull);
  EXPECT_EQ(out.v[2], 0xa5a1610e72fd18b5ull);
  EXPECT_EQ(out.v[3], 0x57bd43b5e52b7fe6ull);
}

TEST(Rng, StreamIsTheFirstBlockOfItsCounter) {
  // RandomStream(seed, stream, trial, purpose) starts at counter {trial, purpose, 0, 0}.
  mc::RandomStream s(7, 9, 3, mc::Purpose::probes);
  const auto expected = r123::Philox4x64{}({{3, 1, 0, 0}}, {{7, 9}});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.next_u64(), expected.v[i]);
  const auto second = r123::Philox4x64{}({{3, 1, 1, 0}}, {{7, 9}});
  EXPECT_EQ(s.next_u64(), second.v[0]);
}

TEST(Rng, SameKeySameStreamDifferentKeysDiffer) {
  auto first_values = [](std::uint64_t seed, std::uint64_t stream, std::uint64_t trial, mc::Purpose purpose) {
    mc::RandomStream s(seed, stream, trial, purpose);
    std::vector<std::uint64_t> v(16);
    for (auto& x : v) x = s.next_u64();
    return v;
  };
  EXPECT_EQ(first_values(1, 2, 3, mc::Purpose::tokens), first_values(1, 2, 3, mc::Purpose::tokens));
  std::set<std::vector<std::uint64_t>> distinct;
  for (auto key : {std::tuple{1ull, 2ull, 3ull}, std::tuple{2ull, 2ull, 3ull}, std::tuple{1ull, 3ull, 3ull},
                   std::tuple{1ull, 2ull, 4ull}}) {
    distinct.insert(first_values(std::get<0>(key), std::get<1>(key), std::get<2>(key), mc::Purpose::tokens));
  }
  distinct.insert(first_values(1, 2, 3, mc::Purpose::probes));
  EXPECT_EQ(distinct.size(), 5u);
  // Cells differing in d or n get different streams.
  EXPECT_NE(mc::stream_id(32, 1024), mc::stream_id(512, 1024));
  EXPECT_NE(mc::stream_id(32, 1024), mc::stream_id(32, 2048));
}

TEST(Rng, NormalsHaveUnitMomentsAndSignsAreBalanced) {
  mc::RandomStream s(2025, 1, 0, mc::Purpose::tokens);
  const int count = 200000;
  double sum = 0, sum2 = 0, signs = 0;
  for (int i = 0; i < count; ++i) {
    const double z = s.normal();
    sum += z;
    sum2 += z * z;
    signs += s.sign();
  }
  // Mean within 5 standard errors (1/sqrt(count)); variance within 5 s.e. (sqrt(2/count)).
  EXPECT_NEAR(sum / count, 0.0, 5 / std::sqrt(count));
  EXPECT_NEAR(sum2 / count, 1.0, 5 * std::sqrt(2.0 / count));
  EXPECT_NEAR(signs / count, 0.0, 5 / std::sqrt(count));
}

TEST(Samples, SummaryMatchesDirectFormulas) {
  mc::CellSamples s;
  const std::vector<double> x = {0.3, 0.9, 0.4, 1.7, 0.2};
  for (size_t i = 0; i < x.size(); ++i) s.add(i, {x[i], 2 * x[i]});
  double mean = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  double var = 0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= (x.size() - 1);
  EXPECT_NEAR(s.summary(attnsweep::mc::kLambda).mean, mean, 1e-15);
  EXPECT_NEAR(s.summary(attnsweep::mc::kLambda).std_error, std::sqrt(var / x.size()), 1e-15);
  EXPECT_NEAR(s.summary(attnsweep::mc::kEta).mean, 2 * mean, 1e-15);
  mc::CellSamples one;
  one.add(0, {1.0, 1.0});
  EXPECT_TRUE(std::isnan(one.summary(attnsweep::mc::kLambda).std_error));
}

TEST(Samples, SplitAndMergedEqualsUnsplitBitwise) {
  mc::CellParams cell;
  cell.rho = 0.4;
  cell.gamma = 1.5;
  cell.d = 8;
  cell.n = 40;
  cell.trials = 7;
  cell.seed = 11;
  const mc::CellSamples whole = mc::run_trials(cell, 0, 7);
  // Any split, merged in any order.
  mc::CellSamples a = mc::run_trials(cell, 4, 3), b = mc::run_trials(cell, 0, 2), c = mc::run_trials(cell, 2, 2);
  mc::CellSamples merged;
  merged.merge(a);
  merged.merge(c);
  merged.merge(b);
  EXPECT_EQ(merged.summary(attnsweep::mc::kLambda).mean, whole.summary(attnsweep::mc::kLambda).mean);
  EXPECT_EQ(merged.summary(attnsweep::mc::kLambda).std_error, whole.summary(attnsweep::mc::kLambda).std_error);
  EXPECT_EQ(merged.summary(attnsweep::mc::kEta).mean, whole.summary(attnsweep::mc::kEta).mean);
  EXPECT_EQ(merged.summary(attnsweep::mc::kEta).std_error, whole.summary(attnsweep::mc::kEta).std_error);
  EXPECT_THROW(merged.merge(a), std::logic_error);  // a trial recorded twice is a bug, not data
}

TEST(Trial, CommonRandomNumbersAcrossGammaAndReproducible) {
  mc::CellParams cell;
  cell.rho = 0.3;
  cell.gamma = 0.0;  // beta = 0: uniform attention; all tokens map to their mean direction
  cell.d = 6;
  cell.n = 30;
  cell.seed = 3;
  const auto r = mc::run_trial(cell, 0);
  EXPECT_NEAR(r[mc::kLambda], 0.0, 1e-12);  // total collapse
  EXPECT_EQ(mc::run_trial(cell, 0)[mc::kEta], r[mc::kEta]);
  EXPECT_NE(mc::run_trial(cell, 1)[mc::kEta], r[mc::kEta]);
}

TEST(Rng, RademacherProbesFollowTheStreamsBitOrder) {
  mc::RandomStream a(4, 5, 6, mc::Purpose::probes), b(4, 5, 6, mc::Purpose::probes);
  const auto V = mc::rademacher_probes(7, 11, 3, a);  // 231 entries: crosses word boundaries
  for (long i = 0; i < V.rows(); ++i)
    for (long j = 0; j < V.cols(); ++j) ASSERT_EQ(V(i, j), b.sign()) << i << "," << j;
}

TEST(Quantiles, LinearInterpolationBetweenOrderStatistics) {
  // Sorted 1..5: h = 4 p, so q(0.05) = 1 + 0.2, q(0.95) = 4 + 0.8 (the type-7 definition).
  const mc::Quantiles q = mc::quantiles({5, 3, 1, 4, 2});
  const double want[] = {1.2, 2, 3, 4, 4.8};
  for (size_t k = 0; k < q.size(); ++k) EXPECT_NEAR(q[k], want[k], 1e-15) << k;
  EXPECT_EQ(mc::quantiles({7})[0], 7);
  EXPECT_EQ(mc::quantiles({7})[4], 7);
  EXPECT_TRUE(std::isnan(mc::quantiles({})[2]));
  // Two values: the median is their midpoint, the 5% point 5% of the way.
  EXPECT_DOUBLE_EQ(mc::quantiles({10, 0})[2], 5);
  EXPECT_DOUBLE_EQ(mc::quantiles({10, 0})[0], 0.5);
}

TEST(Quantiles, SummariesCarryThemIndependentlyOfTrialOrder) {
  mc::CellSamples a, b;
  const double values[] = {0.3, -1, 8e3, 2.5, 0.7, 0.1};
  for (std::uint64_t t = 0; t < 6; ++t) a.add(t, {values[t], -values[t]});
  for (std::uint64_t t = 6; t-- > 0;) b.add(t, {values[t], -values[t]});
  EXPECT_EQ(a.summary(attnsweep::mc::kLambda).quantiles, b.summary(attnsweep::mc::kLambda).quantiles);
  EXPECT_EQ(a.summary(attnsweep::mc::kLambda).quantiles, mc::quantiles({0.3, -1, 8e3, 2.5, 0.7, 0.1}));
  // A heavy tail moves the mean, not the median: (0.3 + 0.7) / 2.
  EXPECT_DOUBLE_EQ(a.summary(attnsweep::mc::kLambda).quantiles[2], 0.5);
  EXPECT_GT(a.summary(attnsweep::mc::kLambda).mean, 1000);
  EXPECT_DOUBLE_EQ(a.summary(attnsweep::mc::kEta).quantiles[2], -0.5);
}

TEST(Summary, UndefinedTrialsAreLeftOutAndCounted) {
  mc::CellSamples s;
  const double nan = std::nan("");
  s.add(0, {0.5, 1.0});
  s.add(1, {nan, 2.0});
  s.add(2, {0.7, 3.0});
  EXPECT_EQ(s.summary(attnsweep::mc::kLambda).count, 2);
  EXPECT_DOUBLE_EQ(s.summary(attnsweep::mc::kLambda).mean, 0.6);
  EXPECT_DOUBLE_EQ(s.summary(attnsweep::mc::kLambda).quantiles[2], 0.6);
  EXPECT_EQ(s.summary(attnsweep::mc::kEta).count, 3);
  mc::CellSamples none;
  none.add(0, {nan, 1.0});
  EXPECT_EQ(none.summary(attnsweep::mc::kLambda).count, 0);
  EXPECT_TRUE(std::isnan(none.summary(attnsweep::mc::kLambda).mean));
  EXPECT_TRUE(std::isnan(none.summary(attnsweep::mc::kLambda).quantiles[2]));
}

TEST(Trial, LambdaWithoutDistinctDirectionsIsUndefinedNotAnError) {
  // d = 1: every token is +1 or -1; a trial whose tokens all share a sign has no pair of
  // distinct directions. Some trial among the first 64 at rho 0.9, n = 2 does.
  mc::CellParams cell;
  cell.rho = 0.9;
  cell.gamma = 1;
  cell.d = 1;
  cell.n = 2;
  cell.seed = 3;
  int undefined = 0;
  for (std::uint64_t t = 0; t < 64; ++t) {
    std::vector<std::string> errors;
    const auto r = mc::run_trial_over_gamma(cell, {1.0}, t, errors).front();
    EXPECT_TRUE(errors.front().empty()) << errors.front();
    EXPECT_TRUE(std::isfinite(r[mc::kEta]));
    undefined += std::isnan(r[mc::kLambda]);
  }
  EXPECT_GT(undefined, 0);
  EXPECT_LT(undefined, 64);
}

TEST(Quantiles, LeaveOutUndefinedValues) {
  const double nan = std::nan("");
  EXPECT_EQ(mc::quantiles({nan, 3, nan, 1}), mc::quantiles({1, 3}));
  EXPECT_TRUE(std::isnan(mc::quantiles({nan, nan})[2]));
}

// The heavy-tail flag: the sample standard deviation against the interquartile scale, computed
// here from the definition (type-7 quantiles by hand), on a light and a heavy set of trials.
TEST(HeavyTail, FlagsWhereAFewTrialsDominateTheMean) {
  const auto check = [](const std::vector<double>& x) {
    mc::CellSamples s;
    for (size_t t = 0; t < x.size(); ++t) s.add(t, {x[t], 1.0});
    const mc::Summary sum = s.summary(mc::kLambda);
    std::vector<double> sorted = x;
    std::sort(sorted.begin(), sorted.end());
    const auto q = [&sorted](double p) {
      const double h = (static_cast<double>(sorted.size()) - 1) * p;
      const auto lo = static_cast<size_t>(std::floor(h));
      return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[std::min(lo + 1, sorted.size() - 1)] - sorted[lo]);
    };
    double mean = 0, ss = 0;
    for (double v : x) mean += v / static_cast<double>(x.size());
    for (double v : x) ss += (v - mean) * (v - mean);
    const double sd = std::sqrt(ss / static_cast<double>(x.size() - 1));
    const double iqr = q(0.75) - q(0.25);
    const bool expected =
        x.size() >= 8 && sd > 2.5 * iqr / 1.349 && std::abs(mean - q(0.5)) > 0.05 * std::max(std::abs(q(0.5)), iqr);
    EXPECT_EQ(mc::heavy_tailed(sum.mean, sum.std_error, sum.count, sum.quantiles), expected);
    return expected;
  };
  EXPECT_FALSE(check({0.9, 1.1, 1.0, 0.95, 1.05, 1.02, 0.98, 1.01}));  // light: sd about the IQR scale
  EXPECT_TRUE(check({0.9, 1.1, 1.0, 0.95, 1.05, 1.02, 0.98, 90.0}));   // one trial dominates the mean
  EXPECT_FALSE(check({0.9, 1.1, 1.0, 0.95, 1.05, 1.02, 90.0}));        // 7 trials: too few to decide
  // A skewed spread far below the values' size (lambda near 1): the mean is fine.
  EXPECT_FALSE(check({1 - 1e-9, 1 - 2e-9, 1 - 1e-9, 1 - 3e-9, 1 - 1e-9, 1 - 2e-9, 1 - 1e-9, 1 - 9e-7}));
  mc::Quantiles flat{};
  EXPECT_FALSE(mc::heavy_tailed(1.0, std::nan(""), 10, flat));  // one defined trial's NaN standard error
}

namespace {
mc::CellParams simplex_hutchinson_cell(std::uint64_t seed) {
  mc::CellParams cell;
  cell.rho = 0.5;
  cell.gamma = 1.0;
  cell.d = 20;
  cell.n = 16;
  cell.geometry = mc::Geometry::simplex;
  cell.jacobian = mc::JacobianMethod::hutchinson;
  cell.probes = 8;
  cell.seed = seed;
  return cell;
}
}  // namespace

// The probes' standard error is sd(e_k) / sqrt(m) of the per-probe estimates e_k = |J v_k|^2 / (n d),
// here recomputed from the dense layer's Jacobian-vector products on the trial's own probes.
TEST(ProbeStandardError, IsTheSpreadOfTheDenseLayersPerProbeEstimates) {
  const mc::CellParams cell = simplex_hutchinson_cell(11);
  const mc::TrialResult r = mc::run_trial(cell, 0);
  const attnsweep::model::Matrix X = mc::simplex_tokens(cell.n, cell.d, cell.rho);
  mc::RandomStream stream(cell.seed, mc::stream_id(cell.d, cell.n), 0, mc::Purpose::probes);
  const attnsweep::model::Matrix V = mc::rademacher_probes(cell.n, cell.d, cell.probes, stream);
  const auto pass = attnsweep::model::dense::forward(X, cell.gamma, cell.alpha);
  const attnsweep::model::Matrix JV = attnsweep::model::dense::jacobian_vector_products(pass, V);
  std::vector<double> e;
  for (long k = 0; k < cell.probes; ++k)
    e.push_back(JV.middleCols(k * cell.d, cell.d).squaredNorm() / static_cast<double>(cell.n * cell.d));
  double mean = 0, ss = 0;
  for (double x : e) mean += x / static_cast<double>(e.size());
  for (double x : e) ss += (x - mean) * (x - mean);
  const double se = std::sqrt(ss / static_cast<double>(e.size() - 1) / static_cast<double>(e.size()));
  EXPECT_NEAR(r[mc::kEta], mean, 1e-12 * mean);
  EXPECT_NEAR(r[mc::kEtaProbeStderr], se, 1e-9 * se);
  // The exact method has no probes, and one probe has no spread: undefined (NaN), not zero.
  mc::CellParams exact = cell;
  exact.jacobian = mc::JacobianMethod::exact;
  EXPECT_TRUE(std::isnan(mc::run_trial(exact, 0)[mc::kEtaProbeStderr]));
  mc::CellParams one_probe = cell;
  one_probe.probes = 1;
  EXPECT_TRUE(std::isnan(mc::run_trial(one_probe, 0)[mc::kEtaProbeStderr]));
}

// Calibration: over independent probe draws (seeds) of one simplex cell, the estimates' variance
// equals the mean of the reported squared errors (E[s^2 / m] = Var(e) / m = Var(eta), exactly),
// and the estimates centre on the closed form. 400 seeds: the variance ratio's own relative
// error is about sqrt(2 / 400 + excess kurtosis / 400) < 10%; the tolerance is 25%.
TEST(ProbeStandardError, PredictsTheSpreadOfEtaOverProbeDraws) {
  const int seeds = 400;
  std::vector<double> eta, se2;
  for (int s = 0; s < seeds; ++s) {
    const mc::TrialResult r = mc::run_trial(simplex_hutchinson_cell(1000 + static_cast<std::uint64_t>(s)), 0);
    eta.push_back(r[mc::kEta]);
    se2.push_back(r[mc::kEtaProbeStderr] * r[mc::kEtaProbeStderr]);
  }
  double mean = 0, mean_se2 = 0, var = 0;
  for (int s = 0; s < seeds; ++s) mean += eta[s] / seeds, mean_se2 += se2[s] / seeds;
  for (double x : eta) var += (x - mean) * (x - mean) / (seeds - 1);
  EXPECT_NEAR(var / mean_se2, 1.0, 0.25) << "variance over seeds " << var << ", mean squared error " << mean_se2;
  const mc::CellParams cell = simplex_hutchinson_cell(0);
  const double exact = attnsweep::model::simplex_theory(cell.rho, cell.gamma, cell.n, cell.d, cell.alpha).eta;
  EXPECT_NEAR(mean, exact, 4 * std::sqrt(var / seeds));
}

// A one-trial cell: on fixed tokens eta's standard error is the probes'; on drawn tokens it stays
// NaN (one trial says nothing of the spread between token draws).
TEST(ProbeStandardError, IsEtasErrorOnlyForOneTrialOnFixedTokens) {
  mc::CellSamples one;
  one.add(0, {0.5, 0.9, 0.01});
  EXPECT_EQ(one.summary(mc::kEta, mc::CellSamples::Tokens::fixed).std_error, 0.01);
  EXPECT_TRUE(std::isnan(one.summary(mc::kEta, mc::CellSamples::Tokens::drawn).std_error));
  EXPECT_TRUE(std::isnan(one.summary(mc::kLambda, mc::CellSamples::Tokens::fixed).std_error));
  mc::CellSamples two = one;
  two.add(1, {0.5, 1.1, 0.01});
  EXPECT_NEAR(two.summary(mc::kEta, mc::CellSamples::Tokens::fixed).std_error, 0.1, 1e-15);  // between trials
}
