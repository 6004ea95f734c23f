#include "attnsweep/model/theory.hpp"

#include <cmath>

namespace attnsweep::model {

SimplexTheory simplex_theory(double rho, double gamma, double n, double d, double alpha, double q, ScalingLaw law) {
  SimplexTheory t;
  t.beta = attention_scale(gamma, n, law);
  // p = 1 / (1 + (n-1) e) with e = exp(-beta (1 - rho)); 1 - p and r are formed from e
  // directly so they keep their digits when p is within rounding of 1.
  const double e = std::exp(-t.beta * (1 - rho));
  const double denom = 1 + (n - 1) * e;
  const double p = 1 / denom;
  const double one_minus_p = (n - 1) * e / denom;
  const double r = e / denom;
  t.p = p;
  t.r = r;

  const double a = alpha * std::sqrt(q);
  const double c = p - r + a;
  const double D = r * (1 + (n - 1) * rho) * (2 * c + n * r);
  t.rho_out = (c * c * rho + D) / (c * c + D);
  t.lambda = c * c / (c * c + D);
  t.q_out = c * c + D;

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
  for (long l = 1; l < layers; ++l) t = simplex_theory(t.rho_out, gamma, n, d, alpha, t.q_out, law);
  t.lambda = (1 - t.rho_out) / (1 - rho);
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
