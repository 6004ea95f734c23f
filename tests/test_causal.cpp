// The causal mask and the per-position laws (MODEL.md section 11) against an independent dense
// layer written here from the definitions (loops, no code shared with the kernel): row i's softmax
// over its keys at its own beta_i, lambda by position bucket pair by pair, and the Jacobian by
// Richardson-extrapolated central differences. Then what must hold exactly: no mask reduces the
// per-position laws to `log` bit for bit, threads do not move a bit, the causal simplex matches its
// closed form, and masked tiles are skipped without changing the numbers beyond rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/kernel.hpp"
#include "attnsweep/model/stack.hpp"
#include "attnsweep/model/theory.hpp"
#include "test_helpers.hpp"

namespace model = attnsweep::model;
namespace mc = attnsweep::mc;
using model::Attention;
using model::JacobianNorm;
using model::Mask;
using model::Matrix;
using model::ScalingLaw;
using test_helpers::gaussian;
using test_helpers::probes;
using test_helpers::relative;

namespace {
// x'_i = sum over i's keys of softmax_l(beta_i <y_i, y_l>) y_l + alpha x_i, straight from the definition.
Matrix reference_forward(const Matrix& X, double gamma, double alpha, const Attention& attention) {
  const Eigen::Index n = X.rows(), d = X.cols();
  Matrix Y(n, d), out(n, d);
  for (Eigen::Index i = 0; i < n; ++i) Y.row(i) = X.row(i) / X.row(i).norm();
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto keys = static_cast<Eigen::Index>(attention.keys(i, n));
    const double beta = attention.row_scale(gamma, i, n);
    std::vector<double> w(static_cast<size_t>(keys));
    double top = -std::numeric_limits<double>::infinity(), total = 0;
    for (Eigen::Index l = 0; l < keys; ++l) top = std::max(top, beta * Y.row(i).dot(Y.row(l)));
    for (Eigen::Index l = 0; l < keys; ++l)
      total += w[static_cast<size_t>(l)] = std::exp(beta * Y.row(i).dot(Y.row(l)) - top);
    out.row(i) = alpha * X.row(i);
    for (Eigen::Index l = 0; l < keys; ++l) out.row(i) += w[static_cast<size_t>(l)] / total * Y.row(l);
  }
  return out;
}

// 1 - cos of two directions from their difference (accurate for close ones).
double one_minus_cos(const Eigen::RowVectorXd& u, const Eigen::RowVectorXd& v) {
  return 0.5 * (u / u.norm() - v / v.norm()).squaredNorm();
}

// lambda by bucket of the later token of each pair.
std::vector<double> reference_lambda(const Matrix& X, const Matrix& out) {
  const Eigen::Index n = X.rows();
  const int buckets = model::position_buckets(n);
  std::vector<double> sum(static_cast<size_t>(buckets), 0.0), pairs(static_cast<size_t>(buckets), 0.0);
  for (Eigen::Index j = 1; j < n; ++j)
    for (Eigen::Index i = 0; i < j; ++i) {
      const auto b = static_cast<size_t>(model::position_bucket(j));
      sum[b] += one_minus_cos(out.row(i), out.row(j)) / one_minus_cos(X.row(i), X.row(j));
      pairs[b] += 1;
    }
  for (int b = 0; b < buckets; ++b) sum[static_cast<size_t>(b)] /= pairs[static_cast<size_t>(b)];
  return sum;
}

// dX'/dX (n d x n d, token i coordinate a at i d + a) by central differences at h and h / 2,
// Richardson-extrapolated: (4 D(h / 2) - D(h)) / 3 has error O(h^4).
Matrix reference_jacobian(const Matrix& X, double gamma, double alpha, const Attention& attention) {
  const Eigen::Index n = X.rows(), d = X.cols();
  Matrix J(n * d, n * d);
  const auto difference = [&](Eigen::Index l, Eigen::Index a, double h) {
    Matrix plus = X, minus = X;
    plus(l, a) += h;
    minus(l, a) -= h;
    const Matrix delta =
        (reference_forward(plus, gamma, alpha, attention) - reference_forward(minus, gamma, alpha, attention)) /
        (2 * h);
    return Eigen::Map<const Eigen::VectorXd>(delta.data(), n * d).eval();  // row-major: i d + a
  };
  constexpr double h = 1e-3;
  for (Eigen::Index l = 0; l < n; ++l)
    for (Eigen::Index a = 0; a < d; ++a) J.col(l * d + a) = (4 * difference(l, a, h / 2) - difference(l, a, h)) / 3;
  return J;
}

// Row i's ||dx'_i / dX||_F^2 from the dense Jacobian.
Eigen::VectorXd rows_of(const Matrix& J, Eigen::Index n, Eigen::Index d) {
  Eigen::VectorXd rows(n);
  for (Eigen::Index i = 0; i < n; ++i) rows(i) = J.middleRows(i * d, d).squaredNorm();
  return rows;
}

const Attention kAttentions[] = {
    {ScalingLaw::log, Mask::causal},          {ScalingLaw::log_keys, Mask::causal},
    {ScalingLaw::qwen_logn, Mask::causal, 8}, {ScalingLaw::qwen_logn, Mask::causal, 64},
    {ScalingLaw::log_keys, Mask::none},       {ScalingLaw::sqrt_log, Mask::causal},
};
}  // namespace

TEST(Positions, BucketsAreTheLog2OfTheTokenIndex) {
  const int expected[] = {0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4};
  for (int i = 0; i < 17; ++i) EXPECT_EQ(model::position_bucket(i), expected[i]) << i;
  EXPECT_EQ(model::position_buckets(2), 1);
  EXPECT_EQ(model::position_buckets(64), 6);  // the last bucket is tokens 32..63
  EXPECT_EQ(model::position_buckets(65), 7);  // token 64 opens bucket 6
  EXPECT_EQ(model::bucket_first(0), 0);
  EXPECT_EQ(model::bucket_first(5), 32);
  EXPECT_EQ(model::bucket_end(5, 50), 50);
  EXPECT_EQ(model::bucket_end(1, 50), 4);
}

TEST(Positions, LawsAndMaskParseAndSetEachRowsScale) {
  for (const char* name : {"log-keys", "qwen-logn"})
    EXPECT_STREQ(model::scaling_name(model::parse_scaling(name)), name);
  EXPECT_EQ(model::parse_mask("causal"), Mask::causal);
  EXPECT_THROW(model::parse_mask("casual"), std::invalid_argument);
  const Attention keys{ScalingLaw::log_keys, Mask::causal}, qwen{ScalingLaw::qwen_logn, Mask::causal, 1024};
  EXPECT_DOUBLE_EQ(keys.row_scale(2, 99, 4096), 2 * std::log(100.0));   // row 99 sees 100 keys
  EXPECT_DOUBLE_EQ(qwen.row_scale(2, 99, 4096), 2 * std::log(1024.0));  // below T: ln T
  EXPECT_DOUBLE_EQ(qwen.row_scale(2, 4095, 4096), 2 * std::log(4096.0));
  const Attention global{ScalingLaw::log, Mask::causal};
  EXPECT_DOUBLE_EQ(global.row_scale(2, 0, 4096), 2 * std::log(4096.0));  // one beta for every row
}

// The kernel against the dense layer above: outputs, lambda by bucket, per-row Jacobian norms
// (exact, and Hutchinson's J V against J times the probes), several blocks (masked tiles skipped),
// with and without the cache.
TEST(Positions, KernelMatchesTheDefinitionUnderEveryMaskAndLaw) {
  const Eigen::Index n = 37, d = 5;
  const Matrix X = gaussian(n, d, 0.4, 11);
  const Matrix V = probes(n, d, 3, 12);
  for (const Attention& attention : kAttentions)
    for (const std::size_t cache : {std::size_t{0}, model::kKernelCacheBytes})
      for (const auto& [gamma, alpha] : {std::pair{0.8, 0.0}, std::pair{2.5, 0.4}}) {
        model::TiledLayer layer;
        layer.set_block_rows(8);
        layer.set_cache_bytes(cache);
        layer.set_tokens(X);
        layer.set_probes(V);
        const auto where = testing::Message() << model::scaling_name(attention.law) << " "
                                              << model::mask_name(attention.mask) << " T=" << attention.train_length
                                              << " cache=" << cache << " gamma=" << gamma << " alpha=" << alpha;
        const Matrix expected = reference_forward(X, gamma, alpha, attention);
        const auto exact = layer.evaluate(gamma, alpha, JacobianNorm::exact, attention);
        EXPECT_LT(relative(layer.output(), expected), 1e-12) << where;
        const std::vector<double> lambda = reference_lambda(X, expected);
        ASSERT_EQ(layer.lambda_by_bucket().size(), lambda.size());
        for (size_t b = 0; b < lambda.size(); ++b)
          EXPECT_LT(relative(layer.lambda_by_bucket()[b], lambda[b]), 1e-10) << where << " bucket " << b;
        const Matrix J = reference_jacobian(X, gamma, alpha, attention);
        EXPECT_LT(relative(layer.jacobian_row_norm2(), rows_of(J, n, d)), 1e-8) << where;
        EXPECT_LT(relative(exact.jacobian_norm2, J.squaredNorm()), 1e-8) << where;
        layer.evaluate(gamma, alpha, JacobianNorm::hutchinson, attention);
        Matrix JV(n, 3 * d);
        for (Eigen::Index k = 0; k < 3; ++k) {
          const Matrix v = V.middleCols(k * d, d);
          const Eigen::VectorXd product = J * Eigen::Map<const Eigen::VectorXd>(v.data(), n * d);
          JV.middleCols(k * d, d) = Eigen::Map<const Matrix>(product.data(), n, d);
        }
        EXPECT_LT(relative(layer.jacobian_vector_products(), JV), 1e-8) << where;
      }
}

// Without a mask every row has n keys: log-keys is log, and qwen-logn is log once n >= T, bit
// for bit (the same beta, the same code).
TEST(Positions, WithoutAMaskThePerPositionLawsAreLogBitwise) {
  const Matrix X = gaussian(300, 7, 0.3, 5);
  const Matrix V = probes(300, 7, 2, 6);
  const auto run = [&](const Attention& attention, JacobianNorm method) {
    model::TiledLayer layer;
    layer.set_tokens(X);
    layer.set_probes(V);
    const auto o = layer.evaluate(1.3, 0.2, method, attention);
    return std::tuple{o.lambda, o.jacobian_norm2, layer.output(), layer.lambda_by_bucket()};
  };
  const Attention log_keys{ScalingLaw::log_keys}, qwen_at_n{ScalingLaw::qwen_logn, Mask::none, 300},
      qwen_below{ScalingLaw::qwen_logn, Mask::none, 64}, qwen_above{ScalingLaw::qwen_logn, Mask::none, 1024};
  for (JacobianNorm method : {JacobianNorm::exact, JacobianNorm::hutchinson}) {
    const auto log = run(ScalingLaw::log, method);
    EXPECT_EQ(run(log_keys, method), log);
    EXPECT_EQ(run(qwen_at_n, method), log);
    EXPECT_EQ(run(qwen_below, method), log);
    EXPECT_NE(std::get<0>(run(qwen_above, method)), std::get<0>(log));  // T > n: beta = gamma ln T
  }
}

// Below its training length every row of qwen-logn runs at gamma ln T (k_i <= n < T), so it is the
// global law at gamma ln T / ln n, with or without the mask: the same outputs, lambda by bucket and
// eta to rounding. The causal study's qwen column for n < T is therefore the log column times
// ln n / ln T (docs/causal.md), which is what this holds.
TEST(Positions, BelowItsTrainingLengthQwenIsTheGlobalLawRescaled) {
  const Eigen::Index n = 200;
  const Matrix X = gaussian(n, 6, 0.5, 31);
  const Matrix V = probes(n, 6, 2, 32);
  const double gamma = 1.7, T = 4096;
  for (Mask mask : {Mask::none, Mask::causal}) {
    model::TiledLayer qwen_layer, log_layer;
    for (model::TiledLayer* layer : {&qwen_layer, &log_layer}) {
      layer->set_block_rows(32);
      layer->set_tokens(X);
      layer->set_probes(V);
    }
    const auto qwen = qwen_layer.evaluate(gamma, 0.1, JacobianNorm::exact, Attention{ScalingLaw::qwen_logn, mask, T});
    const auto log = log_layer.evaluate(gamma * std::log(T) / std::log(static_cast<double>(n)), 0.1,
                                        JacobianNorm::exact, Attention{ScalingLaw::log, mask});
    EXPECT_LT(relative(qwen_layer.output(), log_layer.output()), 1e-12) << model::mask_name(mask);
    EXPECT_LT(relative(qwen.lambda, log.lambda), 1e-12) << model::mask_name(mask);
    EXPECT_LT(relative(qwen.jacobian_norm2, log.jacobian_norm2), 1e-11) << model::mask_name(mask);
    const auto& qb = qwen_layer.lambda_by_bucket();
    const auto& lb = log_layer.lambda_by_bucket();
    ASSERT_EQ(qb.size(), lb.size());
    for (size_t b = 0; b < qb.size(); ++b) EXPECT_LT(relative(qb[b], lb[b]), 1e-11) << "bucket " << b;
  }
}

TEST(Positions, ThreadsDoNotMoveABitUnderTheMask) {
  const Matrix X = gaussian(300, 6, 0.5, 21);
  const Matrix V = probes(300, 6, 2, 22);
  const Attention attention{ScalingLaw::qwen_logn, Mask::causal, 64};
  std::vector<std::tuple<double, double, Matrix, std::vector<double>, Eigen::VectorXd>> runs;
  for (int threads : {1, 2, 3}) {
    model::TiledLayer layer(threads);
    layer.set_block_rows(16);
    layer.set_tokens(X);
    layer.set_probes(V);
    for (JacobianNorm method : {JacobianNorm::exact, JacobianNorm::hutchinson}) {
      const auto o = layer.evaluate(2.0, 0.0, method, attention);
      runs.emplace_back(o.lambda, o.jacobian_norm2, layer.output(), layer.lambda_by_bucket(),
                        layer.jacobian_row_norm2());
    }
  }
  for (size_t k = 2; k < runs.size(); ++k) EXPECT_EQ(runs[k], runs[k % 2]) << "run " << k;
}

// The causal simplex: every bucket's lambda and eta against the closed form (theory.hpp), both
// methods, each law.
TEST(Positions, CausalSimplexMatchesItsClosedForm) {
  const long n = 40, d = 48;
  const Matrix X = attnsweep::mc::simplex_tokens(n, d, 0.5);
  for (const Attention& attention : kAttentions)
    for (const double alpha : {0.0, 0.5}) {
      model::TiledLayer layer;
      layer.set_block_rows(16);
      layer.set_tokens(X);
      const auto o = layer.evaluate(2.2, alpha, JacobianNorm::exact, attention);
      const model::PositionTheory t = model::simplex_position_theory(0.5, 2.2, n, d, alpha, attention);
      const auto where = testing::Message() << model::scaling_name(attention.law) << " "
                                            << model::mask_name(attention.mask) << " alpha=" << alpha;
      EXPECT_LT(relative(o.lambda, t.lambda_all), 1e-11) << where;
      EXPECT_LT(relative(o.jacobian_norm2 / static_cast<double>(n * d), t.eta_all), 1e-11) << where;
      for (size_t b = 0; b < t.lambda.size(); ++b) {
        EXPECT_LT(relative(layer.lambda_by_bucket()[b], t.lambda[b]), 1e-11) << where << " bucket " << b;
        const Eigen::Index first = model::bucket_first(static_cast<int>(b)),
                           end = model::bucket_end(static_cast<int>(b), n);
        const double eta =
            layer.jacobian_row_norm2().segment(first, end - first).sum() / static_cast<double>((end - first) * d);
        EXPECT_LT(relative(eta, t.eta[b]), 1e-11) << where << " bucket " << b;
      }
    }
  // Without a mask and with one beta, the position theory is the full-attention closed form.
  const model::SimplexTheory full = model::simplex_theory(0.5, 2.2, n, d, 0.3);
  const model::PositionTheory same = model::simplex_position_theory(0.5, 2.2, n, d, 0.3, {ScalingLaw::log});
  EXPECT_LT(relative(same.lambda_all, full.lambda), 1e-13);
  EXPECT_LT(relative(same.eta_all, full.eta), 1e-13);
}

// The trial: positions for every gamma, the critical search's bucket lambda, and the cost model
// (the mask halves the row-block products, not lambda's pairs).
TEST(Positions, TrialsCarryBucketsAndTheCostOfTheMask) {
  mc::CellParams cell;
  cell.rho = 0.5;
  cell.d = 16;
  cell.n = 200;
  cell.trials = 1;
  cell.mask = Mask::causal;
  cell.scaling = ScalingLaw::log_keys;
  cell.jacobian = mc::JacobianMethod::hutchinson;
  mc::TrialWorkspace w;
  w.keep_positions = true;
  std::vector<std::string> errors;
  const auto results = mc::run_trial_over_gamma(cell, {1.0, 3.0}, 0, errors, w);
  ASSERT_EQ(w.positions.size(), 2u);
  ASSERT_EQ(w.positions[1].lambda.size(), 8u);  // tokens 0..199: buckets 0..7
  cell.position = 7;
  cell.gamma = 3.0;
  const mc::TrialResult bucket = mc::run_trial(cell, 0);
  EXPECT_EQ(bucket[mc::kLambda], w.positions[1].lambda[7]);
  EXPECT_EQ(bucket[mc::kEta], w.positions[1].eta[7]);
  EXPECT_EQ(bucket[mc::kEtaProbeStderr], w.positions[1].eta_probe_stderr[7]);
  EXPECT_GT(bucket[mc::kEtaProbeStderr], 0);
  cell.position = model::kLastBucket;
  EXPECT_EQ(mc::run_trial(cell, 0)[mc::kLambda], w.positions[1].lambda[7]);
  mc::CellParams whole = cell;
  whole.position = model::kWholeSequence;
  EXPECT_EQ(mc::run_trial(whole, 0)[mc::kLambda], results[1][mc::kLambda]);
  EXPECT_EQ(mc::run_trial(whole, 0)[mc::kEtaProbeStderr], results[1][mc::kEtaProbeStderr]);
  cell.position = 8;  // beyond tokens 0..199: undefined, not a failure
  const mc::TrialResult absent = mc::run_trial(cell, 0);
  EXPECT_TRUE(std::isnan(absent[mc::kLambda]) && std::isnan(absent[mc::kEta]));
  cell.position = model::kMaxBucket + 1;
  EXPECT_THROW(mc::validate(cell), std::invalid_argument);
  const auto none = model::kernel_cost(4096, 64, 4, JacobianNorm::hutchinson, 1);
  const auto causal =
      model::kernel_cost(4096, 64, 4, JacobianNorm::hutchinson, 1, model::kKernelCacheBytes, Mask::causal);
  EXPECT_LT(causal.flops_per_gamma, 0.6 * none.flops_per_gamma);
  EXPECT_GT(causal.flops_per_gamma, 0.4 * none.flops_per_gamma);
}
