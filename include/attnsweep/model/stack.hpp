// A stack of L identical layers (MODEL.md section 9): the layer applied L times, each time with
// its own pre-layer-norm, the same beta and the same residual weight alpha. Its observables are
// those of the whole map X -> X^(L): lambda against the first layer's input, and the Hutchinson
// estimate of ||d X^(L) / d X||_F^2 through the chained Jacobian-vector products (layer l's
// products J_l ... J_1 V are layer l+1's directions). The exact Jacobian norm is a one-layer
// formula: asking for it with L > 1 is refused.
#pragma once

#include "attnsweep/model/kernel.hpp"

namespace attnsweep::model {

// What a stack keeps between its layers (sized on first use, then reused: no allocation per
// gamma in the steady state).
struct StackScratch {
  Matrix input_directions, X, V;
};

inline constexpr long kMaxLayers = 4096;

// Sets the layer's tokens (and, for hutchinson, its probes V, n x (m d)) and evaluates the
// L-layer map at this gamma. L = 1 is exactly layer.evaluate(). Throws std::invalid_argument for
// L < 1, exact with L > 1, or a token of length zero at any layer (naming the layer).
Observables evaluate_stack(TiledLayer& layer, const Matrix& X, const Matrix* probes, long layers, double gamma,
                           double alpha, JacobianNorm method, const Attention& attention, StackScratch& scratch);

}  // namespace attnsweep::model
