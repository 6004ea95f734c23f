// Closed forms for the exact simplex geometry (MODEL.md section 5): the engine's oracle.
#pragma once

#include <string>
#include <vector>

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

// The exact simplex (unit tokens, <y_i, y_j> = rho) under any Attention (MODEL.md section 11): row i
// attends to its k_i keys with its own beta_i, so its output is p_i y_i + r_i (the other keys' sum)
// + alpha y_i with p_i = 1 / (1 + (k_i - 1) e_i), r_i = e_i p_i, e_i = exp(-beta_i (1 - rho)).
// lambda of a pair i < j follows from the two rows' weights in closed form (1 - cos' as a sum of
// non-negative squares, no cancellation of 1 - cos); row i's Jacobian norm is the full-attention
// formula of simplex_theory on its k_i keys at beta_i (every other token has zero derivative).
// By position bucket (layer.hpp), and over all pairs and rows. O(n^2) for the pairs.
struct PositionTheory {
  std::vector<double> lambda, eta;  // by bucket
  double lambda_all = 0, eta_all = 0;
};
PositionTheory simplex_position_theory(double rho, double gamma, Eigen::Index n, double d, double alpha,
                                       const Attention& attention);

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
