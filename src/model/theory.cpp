#include "attnsweep/model/theory.hpp"

#include <cmath>

namespace attnsweep::model {

namespace {
// One layer on a simplex of pairwise cosine 1 - gap and squared norm q, written in the gap so
// that a collapsing stack (gap -> 0, rho within rounding of 1) keeps its relative precision:
// p - r = (1 - e) / denom is formed with expm1, 1 + (n - 1) rho as n - (n - 1) gap, and the
// output gap as c^2 gap / (c^2 + D), a ratio of sums of non-negative terms (alpha >= 0).
struct SimplexStep {
  double p, r, one_minus_p, c, D, gap_out, q_out;
};

SimplexStep simplex_step(double gap, double q, double beta, double n, double alpha) {
  SimplexStep s{};
  const double e = std::exp(-beta * gap);
  const double denom = 1 + (n - 1) * e;
  s.p = 1 / denom;
  s.one_minus_p = (n - 1) * e / denom;  // kept apart from p: 1 - p loses digits when p ~ 1
  s.r = e / denom;
  s.c = -std::expm1(-beta * gap) / denom + alpha * std::sqrt(q);
  s.D = s.r * (n - (n - 1) * gap) * (2 * s.c + n * s.r);
  s.q_out = s.c * s.c + s.D;
  s.gap_out = s.c * s.c * gap / s.q_out;
  return s;
}
}  // namespace

namespace {
SimplexTheory simplex_theory_at(double rho, double beta, double n, double d, double alpha, double q) {
  SimplexTheory t;
  t.beta = beta;
  const SimplexStep step = simplex_step(1 - rho, q, t.beta, n, alpha);
  const double p = step.p, one_minus_p = step.one_minus_p, r = step.r, c = step.c;
  t.p = p;
  t.r = r;
  t.rho_out = 1 - step.gap_out;
  t.lambda = c * c / step.q_out;
  t.q_out = step.q_out;

  const double g_i = p + one_minus_p * rho;
  const double g = p * rho + r * (1 + (n - 2) * rho);
  const double s = p * p + 2 * p * one_minus_p * rho + r * r * (n - 1) * (1 + (n - 2) * rho);
  const double tt = 1 - g - rho * rho + rho * g_i;
  const double off =
      r * r * (d - 1) + 2 * beta * r * r * (rho * g - g_i) + beta * beta * r * r * (1 - 2 * g + s) * (1 - rho * rho);
  const double M2 =
      r * r * (n - 1) * ((1 - 2 * g + s) * (1 - rho * rho) + (n - 2) * (rho - 2 * g + s) * (rho - rho * rho));
  const double diag = p * p * (d - 1) + 2 * p * beta * (n - 1) * r * tt + beta * beta * M2;
  const double trB = p * (d - 1) + beta * (n - 1) * r * tt;
  t.eta = ((diag + (n - 1) * off) / q + 2 * alpha * trB / std::sqrt(q) + alpha * alpha * d) / d;
  return t;
}
}  // namespace

SimplexTheory simplex_theory(double rho, double gamma, double n, double d, double alpha, double q, ScalingLaw law) {
  return simplex_theory_at(rho, attention_scale(gamma, n, law), n, d, alpha, q);
}

PositionTheory simplex_position_theory(double rho, double gamma, Eigen::Index n, double d, double alpha,
                                       const Attention& attention) {
  // Row i's weights: p_i on itself (plus alpha from the residual), r_i on each other key; |x'_i|.
  std::vector<double> self(static_cast<size_t>(n)), other(static_cast<size_t>(n)), norm(static_cast<size_t>(n)),
      row_eta(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const double keys = attention.keys(i, n), beta = attention.row_scale(gamma, i, n);
    const double e = std::exp(-beta * (1 - rho)), p = 1 / (1 + (keys - 1) * e);
    const auto at = static_cast<size_t>(i);
    self[at] = p + alpha;
    other[at] = e * p;
    const double squares = (keys - 1) * other[at] * other[at] + self[at] * self[at];
    norm[at] = std::sqrt((1 - rho) * squares + rho * (1 + alpha) * (1 + alpha));
    row_eta[at] = simplex_theory_at(rho, beta, keys, d, alpha, 1.0).eta;
  }
  PositionTheory t;
  const int buckets = position_buckets(n);
  t.lambda.assign(static_cast<size_t>(buckets), 0.0);
  t.eta.assign(static_cast<size_t>(buckets), 0.0);
  std::vector<double> pairs(static_cast<size_t>(buckets), 0.0);
  double all = 0;
  for (Eigen::Index j = 1; j < n; ++j) {
    const auto J = static_cast<size_t>(j);
    const int b = position_bucket(j);
    // y'_i - y'_j = sum_l u_l y_l; |.|^2 = (1 - rho) sum u_l^2 + rho (sum u_l)^2, and 1 - cos' is half of it.
    for (Eigen::Index i = 0; i < j; ++i) {
      const auto I = static_cast<size_t>(i);
      const double a_i = other[I] / norm[I], a_j = other[J] / norm[J];
      double squares = 0;
      if (attention.mask == Mask::causal) {
        // l < i: both rows' other weight; l = i; i < l < j: row j's only; l = j.
        const double shared = a_i - a_j, at_i = self[I] / norm[I] - a_j;
        squares = static_cast<double>(i) * shared * shared + at_i * at_i + static_cast<double>(j - i - 1) * a_j * a_j +
                  (self[J] / norm[J]) * (self[J] / norm[J]);
      } else {
        // Every l other than i and j carries both rows' other weight; l = i and l = j their self weights.
        const double shared = a_i - a_j, at_i = self[I] / norm[I] - a_j, at_j = a_i - self[J] / norm[J];
        squares = (static_cast<double>(n) - 2) * shared * shared + at_i * at_i + at_j * at_j;
      }
      const double sum = (1 + alpha) * (1 / norm[I] - 1 / norm[J]);
      const double ratio = 0.5 * ((1 - rho) * squares + rho * sum * sum) / (1 - rho);
      t.lambda[static_cast<size_t>(b)] += ratio;
      all += ratio;
    }
    pairs[static_cast<size_t>(b)] += static_cast<double>(j);
  }
  for (int b = 0; b < buckets; ++b) {
    const auto B = static_cast<size_t>(b);
    t.lambda[B] = pairs[B] > 0 ? t.lambda[B] / pairs[B] : std::nan("");
    const Eigen::Index first = bucket_first(b), end = bucket_end(b, n);
    double sum = 0;
    for (Eigen::Index i = first; i < end; ++i) sum += row_eta[static_cast<size_t>(i)];
    t.eta[B] = sum / static_cast<double>(end - first);
  }
  const double n_real = static_cast<double>(n);
  t.lambda_all = all / (n_real * (n_real - 1) / 2);
  double eta_sum = 0;
  for (double v : row_eta) eta_sum += v;
  t.eta_all = eta_sum / n_real;
  return t;
}

SimplexTheory simplex_theory_layers(double rho, double gamma, double n, double d, double alpha, long layers,
                                    ScalingLaw law) {
  SimplexTheory t = simplex_theory(rho, gamma, n, d, alpha, 1.0, law);
  if (layers <= 1) return t;
  // Iterated on the gap 1 - rho itself (not on rho): once the stack collapses the gap falls to
  // 1e-30 and far below, where 1 - rho_out would be rounding.
  double gap = 1 - rho, q = 1.0;
  for (long l = 0; l < layers; ++l) {
    const SimplexStep step = simplex_step(gap, q, t.beta, n, alpha);
    gap = step.gap_out;
    q = step.q_out;
  }
  t.rho_out = 1 - gap;
  t.q_out = q;
  t.lambda = gap / (1 - rho);
  t.p = t.r = t.eta = std::nan("");
  return t;
}

const char* regime_name(Regime regime) {
  switch (regime) {
    case Regime::subcritical:
      return "subcritical";
    case Regime::critical:
      return "critical";
    case Regime::supercritical:
      return "supercritical";
  }
  return "unknown";
}

double critical_gamma(double rho) { return 1 / (1 - rho); }

LimitTheory limit_theory(double rho, double gamma, double d, double q) {
  LimitTheory t;
  t.kappa = gamma * (1 - rho);
  // Grid values such as gamma = 2 at rho = 0.5 land on kappa = 1 up to rounding.
  constexpr double kTolerance = 1e-12;
  if (std::abs(t.kappa - 1) <= kTolerance) {
    t.regime = Regime::critical;
    t.cosine_out = 4 * rho / (1 + 3 * rho);
    t.lambda = 1 / (1 + 3 * rho);
    t.eta = (1 - 1 / d) / (4 * q);
  } else if (t.kappa < 1) {
    t.regime = Regime::subcritical;
    t.cosine_out = 1;
    t.lambda = 0;
    t.eta = 0;
  } else {
    t.regime = Regime::supercritical;
    t.cosine_out = rho;
    t.lambda = 1;
    t.eta = (1 - 1 / d) / q;
  }
  return t;
}

}  // namespace attnsweep::model
