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

SimplexTheory simplex_theory(double rho, double gamma, double n, double d, double alpha, double q, ScalingLaw law) {
  SimplexTheory t;
  t.beta = attention_scale(gamma, n, law);
  const SimplexStep step = simplex_step(1 - rho, q, t.beta, n, alpha);
  const double p = step.p, one_minus_p = step.one_minus_p, r = step.r, c = step.c;
  t.p = p;
  t.r = r;
  t.rho_out = 1 - step.gap_out;
  t.lambda = c * c / step.q_out;
  t.q_out = step.q_out;

  const double beta = t.beta;
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
