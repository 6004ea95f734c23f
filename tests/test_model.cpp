// The layer, its JVP and both Jacobian norms against independent references:
// central finite differences, the dense Jacobian, and the exact-simplex closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/model/dense.hpp"
#include "attnsweep/model/kernel.hpp"
#include "attnsweep/model/theory.hpp"

using attnsweep::mc::Purpose;
using attnsweep::mc::RandomStream;
using attnsweep::model::Matrix;
namespace model = attnsweep::model;
namespace mc = attnsweep::mc;

namespace {
Matrix random_matrix(long rows, long cols, std::uint64_t seed) {
  RandomStream stream(seed, 99, 0, Purpose::tokens);
  Matrix M(rows, cols);
  for (long i = 0; i < rows; ++i)
    for (long j = 0; j < cols; ++j) M(i, j) = stream.normal();
  return M;
}

// Reference layer written from include/attnsweep/model/MODEL.md section 1 with plain loops, no shared code path.
Matrix reference_layer(const Matrix& X, double gamma, double alpha) {
  const long n = X.rows(), d = X.cols();
  const double beta = gamma * std::log(static_cast<double>(n));
  Matrix Y(n, d);
  for (long i = 0; i < n; ++i) Y.row(i) = X.row(i) / X.row(i).norm();
  Matrix out(n, d);
  for (long i = 0; i < n; ++i) {
    std::vector<double> logits(n);
    for (long j = 0; j < n; ++j) logits[j] = beta * Y.row(i).dot(Y.row(j));
    const double top = *std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (double& v : logits) z += (v = std::exp(v - top));
    out.row(i) = alpha * X.row(i);
    for (long j = 0; j < n; ++j) out.row(i) += logits[j] / z * Y.row(j);
  }
  return out;
}
}  // namespace

TEST(Layer, ForwardMatchesLoopReference) {
  const Matrix X = random_matrix(9, 4, 1);
  const auto f = model::dense::forward(X, 1.7, 0.3);
  EXPECT_LT((f.Xout - reference_layer(X, 1.7, 0.3)).cwiseAbs().maxCoeff(), 1e-13);
  // Softmax rows sum to one.
  EXPECT_LT((f.A.rowwise().sum().array() - 1).abs().maxCoeff(), 1e-14);
}

TEST(Layer, SoftmaxStableAtLargeBeta) {
  const Matrix X = random_matrix(64, 8, 2);
  const auto f = model::dense::forward(X, 200.0 / std::log(64.0), 0.0);  // beta = 200
  EXPECT_NEAR(f.beta, 200.0, 1e-12);
  EXPECT_TRUE(f.A.allFinite());
  EXPECT_TRUE(f.Xout.allFinite());
  // At beta = 200 a token with cosine gap > 0.2 to all others attends (almost) only to itself.
  EXPECT_GT(f.A.diagonal().minCoeff(), 0.0);
  EXPECT_LT((f.A.rowwise().sum().array() - 1).abs().maxCoeff(), 1e-14);
}

TEST(Layer, JvpMatchesCentralDifferences) {
  for (auto [n, d, alpha] : {std::tuple{5L, 3L, 0.0}, std::tuple{7L, 4L, 0.6}, std::tuple{4L, 6L, -0.2}}) {
    const Matrix X = random_matrix(n, d, 3 + n);
    const Matrix V = random_matrix(n, 2 * d, 7 + d);  // two stacked directions
    const double gamma = 1.3;
    const auto f = model::dense::forward(X, gamma, alpha);
    const Matrix JV = model::dense::jacobian_vector_products(f, V);
    for (long k = 0; k < 2; ++k) {
      const Matrix Vk = V.middleCols(k * d, d);
      const double h = 1e-5;
      const Matrix fd =
          (reference_layer(X + h * Vk, gamma, alpha) - reference_layer(X - h * Vk, gamma, alpha)) / (2 * h);
      // Central differences are accurate to O(h^2) ~ 1e-10 times third derivatives.
      EXPECT_LT((JV.middleCols(k * d, d) - fd).cwiseAbs().maxCoeff(), 1e-8) << "n=" << n << " d=" << d;
    }
  }
}

TEST(Layer, ExactJacobianNormMatchesDenseJacobian) {
  // Covers both routes of the quartic term: d(d+1)/2 < n (packed) and >= n (n^3).
  for (auto [n, d, alpha, gamma] : {std::tuple{12L, 2L, 0.0, 1.5}, std::tuple{10L, 3L, 0.7, 2.5},
                                    std::tuple{6L, 5L, 0.4, 0.8}, std::tuple{3L, 8L, -1.1, 4.0}}) {
    const Matrix X = random_matrix(n, d, 11 + n + d);
    const auto f = model::dense::forward(X, gamma, alpha);
    const double dense = model::dense::dense_jacobian(f).squaredNorm();
    EXPECT_NEAR(model::dense::jacobian_norm2_exact(f), dense, 1e-11 * dense) << "n=" << n << " d=" << d;
  }
}

TEST(Layer, HutchinsonMeanMatchesExactNorm) {
  const long n = 10, d = 4, m = 4000;
  const Matrix X = random_matrix(n, d, 21);
  const auto f = model::dense::forward(X, 2.0, 0.5);
  RandomStream stream(5, 1, 0, Purpose::probes);
  const Matrix V = mc::rademacher_probes(n, d, m, stream);
  const Matrix JV = model::dense::jacobian_vector_products(f, V);
  std::vector<double> per_probe(m);
  for (long k = 0; k < m; ++k) per_probe[k] = JV.middleCols(k * d, d).squaredNorm();
  const double mean = std::accumulate(per_probe.begin(), per_probe.end(), 0.0) / m;
  double var = 0;
  for (double v : per_probe) var += (v - mean) * (v - mean);
  const double se = std::sqrt(var / (m - 1) / m);
  EXPECT_NEAR(model::dense::jacobian_norm2_hutchinson(f, V), mean, 1e-9 * mean);
  EXPECT_NEAR(mean, model::dense::jacobian_norm2_exact(f), 5 * se);  // 5 standard errors
}

TEST(Layer, SimplexMatchesClosedForms) {
  for (auto [n, rho, gamma, alpha] :
       {std::tuple{8L, 0.3, 1.0, 0.0}, std::tuple{16L, 0.5, 2.0, 0.0}, std::tuple{33L, 0.8, 6.0, 0.0},
        std::tuple{20L, 0.1, 0.7, 0.4}, std::tuple{12L, 0.6, 3.5, 1.2}}) {
    for (long d : {n + 1, n + 5}) {
      const Matrix X = mc::simplex_tokens(n, d, rho);
      const auto f = model::dense::forward(X, gamma, alpha);
      const auto theory = model::simplex_theory(rho, gamma, n, d, alpha);
      const double eta = model::dense::jacobian_norm2_exact(f) / (n * d);
      EXPECT_NEAR(eta, theory.eta, 1e-9 * theory.eta) << "n=" << n << " rho=" << rho << " gamma=" << gamma;
      if (alpha == 0) {
        EXPECT_NEAR(model::dense::angle_ratio(f), theory.lambda, 1e-9 * theory.lambda);
      }
      // Output cosines and norms against rho' and q'.
      const Matrix Yout = f.Xout.rowwise().normalized();
      EXPECT_NEAR(Yout.row(0).dot(Yout.row(1)), theory.rho_out, 1e-9);
      EXPECT_NEAR(f.Xout.row(0).squaredNorm(), theory.q_out, 1e-9 * theory.q_out);
    }
  }
}

TEST(Theory, LimitsApproachedAsNGrows) {
  const double rho = 0.4, d = 64;
  // Supercritical and subcritical: the finite-n values move monotonically toward the limit.
  for (double kappa : {0.5, 1.6}) {
    const double gamma = kappa / (1 - rho);
    const auto limit = model::limit_theory(rho, gamma, d);
    double previous = INFINITY;
    for (double n : {1e2, 1e4, 1e6, 1e9}) {
      const auto t = model::simplex_theory(rho, gamma, n, d, 0.0);
      const double gap = std::abs(t.lambda - limit.lambda) + std::abs(t.eta - limit.eta);
      EXPECT_LT(gap, previous);
      previous = gap;
    }
    EXPECT_LT(previous, 0.05);
  }
  // Critical: lambda -> 1/(1 + 3 rho). eta -> (1 - 1/d)/4 needs d >> (ln n)^2 as well: at fixed
  // d the exact finite-n eta carries terms of order beta/d and beta^2/d that grow with ln n
  // (the limit table of include/attnsweep/model/MODEL.md section 5 needs d to grow with n; see docs/results.md).
  const auto limit = model::limit_theory(rho, 1 / (1 - rho), d);
  EXPECT_EQ(limit.regime, model::Regime::critical);
  const auto t = model::simplex_theory(rho, 1 / (1 - rho), 1e12, d, 0.0);
  EXPECT_NEAR(t.lambda, 1 / (1 + 3 * rho), 1e-3);
  const double big_d = 1e9;
  const auto wide = model::simplex_theory(rho, 1 / (1 - rho), 1e6, big_d, 0.0);
  EXPECT_NEAR(wide.eta, model::limit_theory(rho, 1 / (1 - rho), big_d).eta, 1e-3);
  EXPECT_GT(model::simplex_theory(rho, 1 / (1 - rho), 1e30, d, 0.0).eta,
            model::simplex_theory(rho, 1 / (1 - rho), 1e6, d, 0.0).eta);
}

TEST(Invariance, PermutingTokensPermutesOutputs) {
  const long n = 11, d = 5;
  const Matrix X = random_matrix(n, d, 31);
  Eigen::PermutationMatrix<Eigen::Dynamic> P(n);
  P.setIdentity();
  for (long i = 0; i < n; ++i) std::swap(P.indices()[i], P.indices()[(7 * i + 3) % n]);
  const auto f = model::dense::forward(X, 1.4, 0.3);
  const auto fp = model::dense::forward(P * X, 1.4, 0.3);
  EXPECT_LT((fp.Xout - P * f.Xout).cwiseAbs().maxCoeff(), 1e-13);
  EXPECT_NEAR(model::dense::angle_ratio(fp), model::dense::angle_ratio(f), 1e-13);
  EXPECT_NEAR(model::dense::jacobian_norm2_exact(fp), model::dense::jacobian_norm2_exact(f), 1e-11);
}

TEST(Invariance, ScalingTokensLeavesLambdaUnchanged) {
  const Matrix X = random_matrix(13, 6, 41);
  const Matrix scales = random_matrix(13, 1, 42).cwiseAbs().array() + 0.1;
  const Matrix Xs = scales.col(0).asDiagonal() * X;
  const auto f = model::dense::forward(X, 2.2, 0.0);
  const auto fs = model::dense::forward(Xs, 2.2, 0.0);
  EXPECT_NEAR(model::dense::angle_ratio(fs), model::dense::angle_ratio(f), 1e-12);
}

TEST(Lambda, FiniteAndAccurateForNearDuplicateTokens) {
  // Two tokens 1e-9 rad apart: 1 - cos ~ 5e-19 is lost entirely by 1 - dot.
  Matrix X(3, 2);
  const double eps = 1e-9;
  X << 1, 0, std::cos(eps), std::sin(eps), 0, 1;
  const auto f = model::dense::forward(X, 1.0, 0.0);
  const double lambda = model::dense::angle_ratio(f);
  EXPECT_TRUE(std::isfinite(lambda));
  EXPECT_GT(lambda, 0);
  // The near pair's ratio equals the ratio of small angles squared, which we can compute
  // from the output directions' angle: check against atan2 on the outputs.
  const Matrix Yout = f.Xout.rowwise().normalized();
  const double out_angle = std::abs(std::atan2(Yout(1, 1), Yout(1, 0)) - std::atan2(Yout(0, 1), Yout(0, 0)));
  // 1 - cos x = 2 sin^2(x / 2): free of the cancellation that 1 - cos has at small angles.
  const double pair01_stable = std::pow(std::sin(out_angle / 2) / std::sin(eps / 2), 2);
  const double pair02 = (1 - Yout.row(0).dot(Yout.row(2))) / 1.0;
  const double pair12 = (1 - Yout.row(1).dot(Yout.row(2))) / (1 - std::sin(eps));
  EXPECT_NEAR(lambda, (pair01_stable + pair02 + pair12) / 3, 1e-6 * lambda);
}

TEST(Lambda, FiniteAtDimensionTwoLargeN) {
  const long n = 1024, d = 2;
  RandomStream stream(2025, 7, 0, Purpose::tokens);
  const Matrix X = mc::gaussian_tokens(n, d, 0.5, stream);
  for (double gamma : {0.5, 2.0, 8.0}) {
    const auto f = model::dense::forward(X, gamma, 0.0);
    const double lambda = model::dense::angle_ratio(f);
    EXPECT_TRUE(std::isfinite(lambda)) << "gamma=" << gamma;
    EXPECT_GE(lambda, 0);
  }
}
