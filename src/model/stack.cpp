#include "attnsweep/model/stack.hpp"

#include <stdexcept>
#include <string>

namespace attnsweep::model {

Observables evaluate_stack(TiledLayer& layer, const Matrix& X, const Matrix* probes, long layers, double gamma,
                           double alpha, JacobianNorm method, const Attention& attention, StackScratch& scratch) {
  if (layers < 1 || layers > kMaxLayers) {
    throw std::invalid_argument("layers must be in [1, " + std::to_string(kMaxLayers) + "]");
  }
  if (method == JacobianNorm::exact && layers > 1) {
    throw std::invalid_argument("the exact Jacobian norm is for one layer: use hutchinson for layers > 1");
  }
  if (method == JacobianNorm::hutchinson && !probes)
    throw std::logic_error("evaluate_stack: hutchinson without probes");
  layer.set_tokens(X);
  if (method == JacobianNorm::hutchinson) layer.set_probes(*probes);
  if (layers == 1) return layer.evaluate(gamma, alpha, method, attention);

  scratch.input_directions = inverse_row_norms(X, "input token").asDiagonal() * X;
  Observables observed;
  for (long l = 1; l <= layers; ++l) {
    observed = layer.evaluate(gamma, alpha, method, attention, TiledLayer::Angles::none);
    if (l == layers) break;
    // Copies, not references: set_tokens and set_probes replace what output() and the products
    // live in.
    scratch.X = layer.output();
    if (method == JacobianNorm::hutchinson) scratch.V = layer.jacobian_vector_products();
    try {
      layer.set_tokens(scratch.X);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("layer " + std::to_string(l) + " output: " + e.what());
    }
    if (method == JacobianNorm::hutchinson) layer.set_probes(scratch.V);
  }
  observed.lambda = layer.angle_ratio_against(scratch.input_directions);
  return observed;
}

}  // namespace attnsweep::model
