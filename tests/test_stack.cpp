// A stack of L layers (model/stack.hpp): one layer is the kernel's evaluate() bitwise; the
// L-layer map, its lambda and its chained Jacobian-vector products agree with the dense
// reference composed L times and with central differences of that composition; on the exact
// simplex, lambda of the stack is the one-layer closed form iterated.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <tuple>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/dense.hpp"
#include "attnsweep/model/stack.hpp"
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

// The dense reference applied L times (beta = gamma ln n each time, residual alpha).
Matrix dense_stack(const Matrix& X, double gamma, double alpha, long layers) {
  Matrix out = X;
  for (long l = 0; l < layers; ++l) out = model::dense::forward(out, gamma, alpha).Xout;
  return out;
}
// Lambda of the map X -> Xout by the dense reference's formula: a pass whose input is X's
// directions and whose output is Xout.
double dense_lambda(const Matrix& X, const Matrix& Xout) {
  model::dense::ForwardPass pass = model::dense::forward(X, 1.0, 0.0);
  pass.Xout = Xout;
  return model::dense::angle_ratio(pass);
}
}  // namespace

TEST(Stack, OneLayerIsTheKernelBitwise) {
  const Matrix X = gaussian(70, 6, 0.4, 1), V = probes(70, 6, 3, 2);
  for (const JacobianNorm method : {JacobianNorm::exact, JacobianNorm::hutchinson}) {
    model::TiledLayer direct, stacked;
    direct.set_tokens(X);
    direct.set_probes(V);
    const model::Observables expected = direct.evaluate(1.7, 0.3, method);
    model::StackScratch scratch;
    const model::Observables got =
        model::evaluate_stack(stacked, X, &V, 1, 1.7, 0.3, method, model::ScalingLaw::log, scratch);
    EXPECT_EQ(got.lambda, expected.lambda);
    EXPECT_EQ(got.jacobian_norm2, expected.jacobian_norm2);
  }
}

// Lambda and the output of L layers against the dense reference composed L times; the chained
// products J_L ... J_1 v against central differences of the composition, so ||J v||^2 (the
// Hutchinson term of each probe) is that of the L-layer map.
TEST(Stack, MatchesTheComposedDenseLayerAndCentralDifferences) {
  for (auto [n, d, layers, gamma, alpha] : {std::tuple{9L, 3L, 2L, 1.2, 0.0}, std::tuple{40L, 5L, 3L, 2.5, 0.5},
                                            std::tuple{25L, 8L, 6L, 4.0, -0.3}, std::tuple{130L, 4L, 2L, 3.0, 1.0}}) {
    const Matrix X = gaussian(n, d, 0.5, 10 + n), V = probes(n, d, 2, 20 + n);
    model::TiledLayer layer;
    model::StackScratch scratch;
    const model::Observables got = model::evaluate_stack(layer, X, &V, layers, gamma, alpha, JacobianNorm::hutchinson,
                                                         model::ScalingLaw::log, scratch);
    const Matrix out = dense_stack(X, gamma, alpha, layers);
    EXPECT_LT((layer.output() - out).cwiseAbs().maxCoeff(), 1e-12 * out.cwiseAbs().maxCoeff()) << "n=" << n;
    EXPECT_LT(relative(got.lambda, dense_lambda(X, out)), 1e-11) << "n=" << n << " L=" << layers;
    double norm2 = 0;
    for (long k = 0; k < 2; ++k) {
      const Matrix Vk = V.middleCols(k * d, d);
      // Central differences at h and h/2, combined by Richardson extrapolation: the O(h^2)
      // truncation error cancels, which a stack of steep softmax layers needs (its third
      // derivatives are large).
      const auto central = [&](double h) {
        return Matrix((dense_stack(X + h * Vk, gamma, alpha, layers) - dense_stack(X - h * Vk, gamma, alpha, layers)) /
                      (2 * h));
      };
      const double h = 1e-4;
      const Matrix fd = (4 * central(h / 2) - central(h)) / 3;
      const Matrix jv = layer.jacobian_vector_products().middleCols(k * d, d);
      EXPECT_LT((jv - fd).cwiseAbs().maxCoeff(), 1e-8 * std::max(1.0, fd.cwiseAbs().maxCoeff()))
          << "n=" << n << " L=" << layers << " error " << (jv - fd).cwiseAbs().maxCoeff();
      norm2 += fd.squaredNorm();
    }
    EXPECT_LT(relative(got.jacobian_norm2, norm2 / 2), 1e-6) << "n=" << n << " L=" << layers;
  }
}

// A layer maps a simplex to a simplex, so the stack's lambda is the closed form iterated on the
// cosine and the squared norm (the residual term needs the norm).
TEST(Stack, SimplexLambdaIsTheIteratedClosedForm) {
  for (auto [n, rho, gamma, alpha, layers] : {std::tuple{16L, 0.5, 4.0, 0.0, 2L}, std::tuple{33L, 0.3, 3.0, 0.0, 5L},
                                              std::tuple{20L, 0.6, 6.0, 0.4, 3L}, std::tuple{12L, 0.2, 1.0, 1.5, 8L}}) {
    const long d = n + 3;
    const Matrix X = mc::simplex_tokens(n, d, rho);
    const Matrix V = probes(n, d, 1, 3);
    model::TiledLayer layer;
    model::StackScratch scratch;
    const model::Observables got = model::evaluate_stack(layer, X, &V, layers, gamma, alpha, JacobianNorm::hutchinson,
                                                         model::ScalingLaw::log, scratch);
    const model::SimplexTheory theory =
        model::simplex_theory_layers(rho, gamma, static_cast<double>(n), static_cast<double>(d), alpha, layers);
    ASSERT_GT(theory.lambda, 1e-6);  // far from collapse, so a relative tolerance means something
    EXPECT_LT(relative(got.lambda, theory.lambda), 1e-9) << "n=" << n << " L=" << layers;
    // The iterated cosine itself, from the last output.
    const Matrix Y = layer.output().rowwise().normalized();
    EXPECT_NEAR(Y.row(0).dot(Y.row(n - 1)), theory.rho_out, 1e-12);
    // One layer of the iteration is the one-layer closed form.
    EXPECT_EQ(model::simplex_theory_layers(rho, gamma, n, d, alpha, 1).lambda,
              model::simplex_theory(rho, gamma, n, d, alpha).lambda);
  }
}

TEST(Stack, RefusesTheExactNormBeyondOneLayerAndBadDepths) {
  const Matrix X = gaussian(10, 3, 0.5, 4);
  model::TiledLayer layer;
  model::StackScratch scratch;
  EXPECT_THROW(
      model::evaluate_stack(layer, X, nullptr, 2, 1.0, 0.0, JacobianNorm::exact, model::ScalingLaw::log, scratch),
      std::invalid_argument);
  EXPECT_THROW(
      model::evaluate_stack(layer, X, nullptr, 0, 1.0, 0.0, JacobianNorm::exact, model::ScalingLaw::log, scratch),
      std::invalid_argument);
  mc::CellParams cell;
  cell.rho = 0.5;
  cell.gamma = 2;
  cell.d = 8;
  cell.n = 16;
  cell.layers = 3;
  EXPECT_THROW(mc::validate(cell), std::invalid_argument);  // exact is the default
  cell.jacobian = mc::JacobianMethod::hutchinson;
  EXPECT_NO_THROW(mc::validate(cell));
  cell.layers = 0;
  EXPECT_THROW(mc::validate(cell), std::invalid_argument);
}

// Trials of a stack through the Monte-Carlo layer: several gammas from one draw equal each gamma
// alone (the stack restarts from the drawn tokens for every gamma), and the workspace reused
// across trials changes nothing.
TEST(Stack, TrialsOverGammaEqualEachGammaAlone) {
  mc::CellParams cell;
  cell.rho = 0.5;
  cell.d = 6;
  cell.n = 50;
  cell.layers = 4;
  cell.jacobian = mc::JacobianMethod::hutchinson;
  cell.probes = 2;
  cell.seed = 7;
  const std::vector<double> gammas = {1.0, 2.0, 5.0};
  std::vector<std::string> errors;
  mc::TrialWorkspace workspace;
  const auto together = mc::run_trial_over_gamma(cell, gammas, 3, errors, workspace);
  for (size_t k = 0; k < gammas.size(); ++k) {
    cell.gamma = gammas[k];
    const mc::TrialResult alone = mc::run_trial(cell, 3);
    EXPECT_EQ(together[k], alone);  // every observable, bitwise
  }
  // Depth compounds: at a fixed gamma, lambda of more layers is smaller (each layer contracts).
  EXPECT_LT(together[0][mc::kLambda], 1.0);
}
