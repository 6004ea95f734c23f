// Closed forms for the exact simplex geometry (MODEL.md section 5): the engine's oracle.
#pragma once

#include <string>

#include "attnsweep/model/layer.hpp"

namespace attnsweep::model {

struct SimplexTheory {
  double beta = 0;     // attention_scale(gamma, n, law): gamma ln n for the paper's law
  double p = 0;        // self weight A_ii
  double r = 0;        // weight on each other token
  double rho_out = 0;  // <y'_i, y'_j>
  double q_out = 0;    // |x'_i|^2
  double lambda = 0;   // angle ratio
  double eta = 0;      // ||J||_F^2 / (n d)
};

// Exact finite-n values for |x_i|^2 = q, <y_i,y_j> = rho (i != j), d >= 1 the ambient dimension.
// They hold for any beta, so for every scaling law.
SimplexTheory simplex_theory(double rho, double gamma, double n, double d, double alpha, double q = 1.0,
                             ScalingLaw law = ScalingLaw::log);

// The same tokens through `layers` applications of the layer (the same beta and alpha each time):
// by symmetry the output of a layer on a simplex is again a simplex (equal norms, equal pairwise
// cosines), so the stack is the one-layer map iterated on (rho, q). rho_out and q_out are the
// last layer's, lambda is that of the whole map against its input, (1 - rho_L) / (1 - rho_0);
// p, r and eta are the first layer's for layers = 1 and NaN otherwise (no closed form here).
SimplexTheory simplex_theory_layers(double rho, double gamma, double n, double d, double alpha, long layers,
                                    ScalingLaw law = ScalingLaw::log);

enum class Regime { subcritical, critical, supercritical };
const char* regime_name(Regime regime);

// n -> infinity limits at alpha = 0 (the paper's Theorems 2.1 and 2.4), for beta = gamma ln n only.
struct LimitTheory {
  Regime regime = Regime::subcritical;
  double kappa = 0;       // gamma (1 - rho)
  double cosine_out = 0;  // lim <y'_i, y'_j>
  double lambda = 0;
  double eta = 0;
};
LimitTheory limit_theory(double rho, double gamma, double d, double q = 1.0);

// gamma_c(rho) = 1 / (1 - rho).
double critical_gamma(double rho);

}  // namespace attnsweep::model
