// The tiled kernel (the one the program runs) against the dense reference (itself checked against
// finite differences, the dense Jacobian and the simplex closed forms in test_model.cpp), against
// the closed forms directly, and for the properties tiling must keep: any block size and any
// cache size give the same numbers to rounding, any thread count gives the same bits.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/model/dense.hpp"
#include "attnsweep/model/kernel.hpp"
#include "attnsweep/model/theory.hpp"
#include "test_helpers.hpp"

using attnsweep::mc::Purpose;
using attnsweep::mc::RandomStream;
using attnsweep::model::JacobianNorm;
using attnsweep::model::Matrix;
namespace model = attnsweep::model;
namespace mc = attnsweep::mc;

namespace {
using test_helpers::gaussian;
using test_helpers::probes;
using test_helpers::relative;

struct Shape {
  long n, d, block;
  std::size_t cache;
};
}  // namespace

// Every block size (one row, ragged, default), with and without the cache, both quartic routes
// (d(d+1)/2 < n and >= n): the dense kernel's numbers to 1e-12.
TEST(TiledLayer, AgreesWithDenseKernel) {
  const std::size_t none = 0, all = model::kKernelCacheBytes;
  for (const Shape shape : {Shape{2, 1, 0, all}, Shape{9, 4, 1, all}, Shape{37, 3, 5, none}, Shape{37, 3, 5, all},
                            Shape{50, 12, 7, none}, Shape{50, 12, 0, all}, Shape{130, 6, 0, all},
                            Shape{130, 6, 16, 130 * 8 * 32}, Shape{300, 2, 0, none}, Shape{70, 20, 9, 70 * 8 * 64},
                            // every Gram row cached and the probes' Q rows in part (48 of 200)
                            Shape{200, 5, 16, 200 * 8 * (200 + 3 * 48)}}) {
    const auto [n, d, block, cache] = shape;
    const Matrix X = gaussian(n, d, 0.4, 100 + n + d);
    const Matrix V = probes(n, d, 3, 7 + n);
    model::TiledLayer layer;
    layer.set_block_rows(block);
    layer.set_cache_bytes(cache);
    layer.set_tokens(X);
    layer.set_probes(V);
    for (auto [gamma, alpha] : {std::pair{0.3, 0.0}, std::pair{1.7, 0.5}, std::pair{6.0, -0.4}}) {
      const auto f = model::dense::forward(X, gamma, alpha);
      const auto exact = layer.evaluate(gamma, alpha, JacobianNorm::exact);
      const auto where = testing::Message() << "n=" << n << " d=" << d << " block=" << block << " cache=" << cache
                                            << " gamma=" << gamma << " alpha=" << alpha;
      EXPECT_LT(relative(layer.output(), f.Xout), 1e-12) << where;
      EXPECT_LT(relative(exact.lambda, model::dense::angle_ratio(f)), 1e-12) << where;
      EXPECT_LT(relative(exact.jacobian_norm2, model::dense::jacobian_norm2_exact(f)), 1e-12) << where;
      const auto hutch = layer.evaluate(gamma, alpha, JacobianNorm::hutchinson);
      EXPECT_LT(relative(layer.jacobian_vector_products(), model::dense::jacobian_vector_products(f, V)), 1e-12)
          << where;
      EXPECT_LT(relative(hutch.jacobian_norm2, model::dense::jacobian_norm2_hutchinson(f, V)), 1e-12) << where;
      EXPECT_EQ(relative(hutch.lambda, exact.lambda), 0) << where;  // lambda does not depend on the method
    }
  }
}

TEST(TiledLayer, ExactNormMatchesDenseJacobian) {
  for (auto [n, d, alpha, gamma] : {std::tuple{12L, 2L, 0.0, 1.5}, std::tuple{10L, 3L, 0.7, 2.5},
                                    std::tuple{6L, 5L, 0.4, 0.8}, std::tuple{3L, 8L, -1.1, 4.0}}) {
    const Matrix X = gaussian(n, d, 0.2, 11 + n + d);
    model::TiledLayer layer;
    layer.set_block_rows(4);  // several blocks, the last one partial
    layer.set_tokens(X);
    const double norm2 = layer.evaluate(gamma, alpha, JacobianNorm::exact).jacobian_norm2;
    const double dense = model::dense::dense_jacobian(model::dense::forward(X, gamma, alpha)).squaredNorm();
    EXPECT_NEAR(norm2, dense, 1e-11 * dense) << "n=" << n << " d=" << d;
  }
}

TEST(TiledLayer, SimplexMatchesClosedForms) {
  for (auto [n, rho, gamma, alpha] : {std::tuple{8L, 0.3, 1.0, 0.0}, std::tuple{33L, 0.8, 6.0, 0.0},
                                      std::tuple{70L, 0.5, 2.0, 0.0}, std::tuple{20L, 0.6, 3.5, 1.2}}) {
    const long d = n + 3;
    model::TiledLayer layer(2);
    layer.set_block_rows(16);
    layer.set_tokens(mc::simplex_tokens(n, d, rho));
    const auto observed = layer.evaluate(gamma, alpha, JacobianNorm::exact);
    const auto theory = model::simplex_theory(rho, gamma, n, d, alpha);
    EXPECT_NEAR(observed.jacobian_norm2 / (n * d), theory.eta, 1e-9 * theory.eta) << "n=" << n;
    if (alpha == 0) EXPECT_NEAR(observed.lambda, theory.lambda, 1e-9 * theory.lambda) << "n=" << n;
    EXPECT_NEAR(layer.output().row(0).squaredNorm(), theory.q_out, 1e-9 * theory.q_out);
  }
}

// A fixed block partition reduced in block order: 1, 2, 3 and 5 threads give the same bits.
TEST(TiledLayer, ThreadCountDoesNotChangeOneBit) {
  for (auto [n, d] : {std::pair{257L, 16L}, std::pair{100L, 40L}}) {
    const Matrix X = gaussian(n, d, 0.5, 3);
    const Matrix V = probes(n, d, 2, 4);
    std::vector<std::tuple<double, double, double>> seen;
    Matrix first_output, first_jvp;
    for (int threads : {1, 2, 3, 5}) {
      model::TiledLayer layer(threads);
      layer.set_block_rows(8);
      layer.set_cache_bytes(static_cast<std::size_t>(n) * 8 * 24);  // three blocks cached, the rest recomputed
      layer.set_tokens(X);
      layer.set_probes(V);
      const auto exact = layer.evaluate(1.9, 0.2, JacobianNorm::exact);
      const auto hutch = layer.evaluate(1.9, 0.2, JacobianNorm::hutchinson);
      if (threads == 1) {
        first_output = layer.output();
        first_jvp = layer.jacobian_vector_products();
      } else {
        EXPECT_TRUE(layer.output() == first_output) << threads << " threads";
        EXPECT_TRUE(layer.jacobian_vector_products() == first_jvp) << threads << " threads";
      }
      seen.emplace_back(exact.lambda, exact.jacobian_norm2, hutch.jacobian_norm2);
    }
    for (const auto& values : seen) EXPECT_EQ(values, seen.front()) << "n=" << n;
  }
}

// Kept workspaces: evaluating after other sizes and gammas gives what a fresh kernel gives.
TEST(TiledLayer, ReusedWorkspaceEqualsFreshOne) {
  model::TiledLayer reused(2);
  for (auto [n, d] : {std::pair{300L, 8L}, std::pair{40L, 3L}, std::pair{300L, 8L}}) {
    const Matrix X = gaussian(n, d, 0.3, 9 + n);
    reused.set_tokens(X);
    reused.evaluate(0.5, 0.0, JacobianNorm::exact);
    const auto again = reused.evaluate(2.5, 0.3, JacobianNorm::exact);
    model::TiledLayer fresh(1);
    fresh.set_tokens(X);
    const auto once = fresh.evaluate(2.5, 0.3, JacobianNorm::exact);
    EXPECT_EQ(again.lambda, once.lambda);
    EXPECT_EQ(again.jacobian_norm2, once.jacobian_norm2);
  }
}

TEST(TiledLayer, RefusesUndefinedDirections) {
  Matrix X = gaussian(6, 3, 0.1, 1);
  X.row(4).setZero();
  model::TiledLayer layer;
  EXPECT_THROW(layer.set_tokens(X), std::invalid_argument);
  // alpha = -1 with two identical tokens gives a zero output token: lambda is undefined.
  Matrix Z(2, 2);
  Z << 1, 0, 1, 0;
  layer.set_tokens(Z);
  EXPECT_THROW(layer.evaluate(1.0, -1.0, JacobianNorm::none), std::invalid_argument);
}

TEST(TiledLayer, CostModelCountsWhatTheCacheHolds) {
  const double n = 4096, d = 64;
  // Small n: everything cached, less memory than the dense kernel's 5 n^2 doubles (1 probe).
  const auto small = model::kernel_cost(4096, 64, 1, JacobianNorm::hutchinson, 1);
  EXPECT_LT(small.bytes, 8 * 5 * n * n);
  // Huge n: no n^2 term (twice n, about twice the bytes), more threads more scratch, < 2 GiB.
  const auto big1 = model::kernel_cost(65536, 64, 1, JacobianNorm::hutchinson, 2);
  const auto big2 = model::kernel_cost(131072, 64, 1, JacobianNorm::hutchinson, 2);
  const auto big2_more = model::kernel_cost(131072, 64, 1, JacobianNorm::hutchinson, 4);
  EXPECT_LT(big1.bytes, 2.0 * (1 << 30));
  EXPECT_LT(big2.bytes, 2.2 * big1.bytes);
  EXPECT_GT(big2_more.bytes, big2.bytes);
  // A probe costs 4 n^2 d a gamma when its Q rows are all cached (n = 4096, 1 probe), 8 n^2 d
  // when none are (n = 65536).
  const auto none = model::kernel_cost(4096, 64, 1, JacobianNorm::none, 1);
  EXPECT_DOUBLE_EQ(small.flops_per_gamma - none.flops_per_gamma, 4 * n * n * d);
  const double N = 65536;
  const auto none_big = model::kernel_cost(65536, 64, 1, JacobianNorm::none, 1);
  const auto probe_big = model::kernel_cost(65536, 64, 1, JacobianNorm::hutchinson, 1);
  EXPECT_NEAR((probe_big.flops_per_gamma - none_big.flops_per_gamma) / (8 * N * N * d), 1.0, 0.01);
  EXPECT_EQ(model::quartic_route(4096, 8), model::QuarticRoute::packed);
  EXPECT_EQ(model::quartic_route(1024, 512), model::QuarticRoute::gram);
}

// Every scaling law is beta = gamma f(n): a law at gamma equals the paper's at gamma f(n) / ln n
// (to rounding), and on simplex tokens the closed forms hold for any beta.
TEST(TiledLayer, ScalingLawsSetBeta) {
  const long n = 90, d = 7;
  const double ln_n = std::log(static_cast<double>(n));
  const Matrix X = gaussian(n, d, 0.3, 17);
  model::TiledLayer layer;
  layer.set_tokens(X);
  const std::pair<model::ScalingLaw, double> laws[] = {{model::ScalingLaw::log_squared, ln_n * ln_n},
                                                       {model::ScalingLaw::sqrt_log, std::sqrt(ln_n)},
                                                       {model::ScalingLaw::constant, 1.0}};
  for (const auto& [law, factor] : laws) {
    const auto scaled = layer.evaluate(0.8, 0.2, JacobianNorm::exact, law);
    const Matrix out = layer.output();
    const auto paper = layer.evaluate(0.8 * factor / ln_n, 0.2, JacobianNorm::exact);
    EXPECT_LT(relative(out, layer.output()), 1e-12) << model::scaling_name(law);
    EXPECT_LT(relative(scaled.lambda, paper.lambda), 1e-12) << model::scaling_name(law);
    EXPECT_LT(relative(scaled.jacobian_norm2, paper.jacobian_norm2), 1e-12) << model::scaling_name(law);
    EXPECT_EQ(model::parse_scaling(model::scaling_name(law)), law);
  }
  EXPECT_THROW(model::parse_scaling("cubic"), std::invalid_argument);
  // The default law is the paper's, bitwise.
  const auto implicit = layer.evaluate(1.3, 0.0, JacobianNorm::exact);
  const auto explicit_log = layer.evaluate(1.3, 0.0, JacobianNorm::exact, model::ScalingLaw::log);
  EXPECT_EQ(implicit.jacobian_norm2, explicit_log.jacobian_norm2);
  EXPECT_EQ(implicit.lambda, explicit_log.lambda);
  // Simplex tokens: closed forms at the law's beta.
  const long sn = 24, sd = 30;
  layer.set_tokens(mc::simplex_tokens(sn, sd, 0.6));
  for (auto law : {model::ScalingLaw::log_squared, model::ScalingLaw::sqrt_log, model::ScalingLaw::constant}) {
    const auto observed = layer.evaluate(1.7, 0.0, JacobianNorm::exact, law);
    const auto theory = model::simplex_theory(0.6, 1.7, sn, sd, 0.0, 1.0, law);
    EXPECT_NEAR(observed.lambda, theory.lambda, 1e-9 * theory.lambda) << model::scaling_name(law);
    EXPECT_NEAR(observed.jacobian_norm2 / (sn * sd), theory.eta, 1e-9 * theory.eta) << model::scaling_name(law);
  }
}

TEST(ThreadTeam, RunsEveryItemOnceAndCarriesExceptions) {
  model::ThreadTeam team(3);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> hits(97);
    team.run(97, [&](std::int64_t item, int member) {
      ASSERT_GE(member, 0);
      ASSERT_LT(member, 3);
      hits[static_cast<size_t>(item)]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_THROW(team.run(40,
                        [](std::int64_t item, int) {
                          if (item == 17) throw std::runtime_error("boom");
                        }),
               std::runtime_error);
  std::atomic<int> after{0};
  team.run(10, [&](std::int64_t, int) { after++; });
  EXPECT_EQ(after.load(), 10);
}

// Lambda from given outputs with every angle by the difference form |u - v|^2 / 2, in the
// precision of Scalar (long double: the reference for the kernel's angle arithmetic alone).
template <class Scalar>
double lambda_by_differences(const Matrix& X, const Matrix& out) {
  using Directions = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  auto directions = [](const Matrix& M) {
    Directions E = M.cast<Scalar>();
    for (Eigen::Index i = 0; i < E.rows(); ++i) E.row(i) /= E.row(i).norm();
    return E;
  };
  const Directions Y = directions(X), U = directions(out);
  Scalar sum = 0;
  long long pairs = 0;
  for (Eigen::Index i = 0; i < Y.rows(); ++i)
    for (Eigen::Index j = i + 1; j < Y.rows(); ++j) {
      const Scalar before = (Y.row(i) - Y.row(j)).squaredNorm();
      if (before == 0) continue;
      sum += (U.row(i) - U.row(j)).squaredNorm() / before;
      ++pairs;
    }
  return static_cast<double>(sum / static_cast<Scalar>(pairs));
}

// Collapsed outputs (gamma near 0: every output near the tokens' mean; n = 256 tokens at
// d = 2, 32, 512), and near-duplicate inputs (rho 0.9999): lambda is down to 1e-19 there, its
// angles far below kSmallAngle, where 1 - <u, v> from a dot product has lost every digit. The
// kernel takes the outputs' angles across their centre; the reference is the same outputs' lambda
// with every angle by the difference form in extended precision. Normalising the outputs in double
// already costs digits there (the difference form in double is 1e-8 off at lambda 1e-19): the
// kernel must be as close as it (measured: within 3.3x of its error), and 1e-13 where it is exact.
TEST(TiledLayer, CollapsedAnglesKeepTheirDigits) {
  for (const long d : {2L, 32L, 512L}) {
    for (const double rho : {0.5, 0.9999}) {
      const Matrix X = gaussian(256, d, rho, 300 + d);
      model::TiledLayer layer;
      layer.set_tokens(X);
      for (const double gamma : {1e-4, 1e-2, 0.2}) {
        const double lambda = layer.evaluate(gamma, 0.0, JacobianNorm::none).lambda;
        const double expected = lambda_by_differences<long double>(X, layer.output());
        const double difference_form = relative(lambda_by_differences<double>(X, layer.output()), expected);
        EXPECT_LT(relative(lambda, expected), 10 * difference_form + 1e-13)
            << "d=" << d << " rho=" << rho << " gamma=" << gamma << " lambda=" << expected;
        EXPECT_LT(expected, 0.5) << "the outputs did not collapse: d=" << d << " gamma=" << gamma;
      }
    }
  }
}
