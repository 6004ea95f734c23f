// The dense reference layer: MODEL.md section 1 and its observables (section 3) with every n x n
// matrix materialised. It is version 0.1's kernel, kept as the reference the tiled kernel
// (kernel.hpp, the one the program runs) is tested against to 1e-12, by the benchmark that
// compares the two, and for the dense Jacobian of small tests. Memory 7-12 n^2 doubles.
#pragma once

#include <memory>

#include "attnsweep/model/layer.hpp"

namespace attnsweep::model::dense {

// The part of the forward pass that does not depend on gamma or alpha: token norms,
// directions and their Gram matrix. Computed once per token draw and shared by every gamma
// of a sweep (the Gram matrix is a third of the forward pass's arithmetic).
struct NormalizedTokens {
  Vector norms;  // |x_i|
  Matrix Y;      // y_i = x_i / |x_i|
  Matrix G;      // Y Y^T
};
// Into `out`'s storage (no allocation once it has the size). Throws std::invalid_argument for a
// zero token (its direction is undefined).
void normalize(const MatrixRef& X, NormalizedTokens& out);
NormalizedTokens normalize(const MatrixRef& X);

// Everything the forward pass computes that the observables and the Jacobian reuse. The input
// side (norms, Y, G) is the NormalizedTokens it was computed from, shared, not copied.
struct ForwardPass {
  const NormalizedTokens* input = nullptr;
  std::shared_ptr<const NormalizedTokens> owned_input;  // set only by forward(X, gamma, alpha)
  double beta = 0;
  double alpha = 0;
  Matrix A;     // row softmax of beta * G (row maximum subtracted)
  Matrix Xbar;  // A Y
  Matrix Xout;  // x'_i = xbar_i + alpha x_i

  const Vector& norms() const { return input->norms; }
  const Matrix& Y() const { return input->Y; }
  const Matrix& G() const { return input->G; }
};

// One layer: pre-LN, beta = gamma ln n, stable row softmax, residual alpha.
// Throws std::invalid_argument for a zero token (its direction is undefined).
ForwardPass forward(const MatrixRef& X, double gamma, double alpha);
// The same from tokens already normalised (X is still needed for the residual), into `out`'s
// storage: no allocation once it has the size. `tokens` must outlive `out`.
void forward(const NormalizedTokens& tokens, const MatrixRef& X, double gamma, double alpha, ForwardPass& out);

// Scratch matrices of the observables, kept by the caller across trials, gammas and tasks so
// that a trial's steady state allocates nothing large (each is sized on first use).
struct Scratch {
  Matrix Yout, Gout;                               // angle ratio
  Matrix dY_stacked, dY_side, Q, dA, S, jvp, dAY;  // Jacobian-vector products
  Matrix H, W, WY, P, AP, G2, AG2;                 // exact Jacobian norm
  Vector inv_norms, radial, s, T1, T2;
};

// Row softmax of beta * S with the row maximum subtracted, so beta in the hundreds
// cannot overflow exp (MODEL.md section 7).
Matrix row_softmax(const MatrixRef& S, double beta);
void row_softmax(const MatrixRef& S, double beta, Matrix& out);  // into out's storage

// lambda of MODEL.md section 3 (the paper's eq. 3.2): mean over pairs i < j of (1 - <y'_i,y'_j>) / (1 - <y_i,y_j>).
// 1 - cos is taken from |y_i - y_j|^2 / 2 wherever 1 - cos is small, so near-duplicate
// tokens (common at d = 2) keep full relative accuracy instead of giving 0/0 or inf.
// Pairs whose input directions are bitwise identical carry no angle and are skipped;
// NaN only if every pair is such a pair.
double angle_ratio(const ForwardPass& f, Scratch& scratch);
double angle_ratio(const ForwardPass& f);

// Forward-mode products J v for m stacked directions: V is n x (m d), block k is
// columns [k d, (k+1) d). Each step is one large matrix product over all m probes.
// The result is scratch.jvp (n x (m d)).
const Matrix& jacobian_vector_products(const ForwardPass& f, const MatrixRef& V, Scratch& scratch);
Matrix jacobian_vector_products(const ForwardPass& f, const MatrixRef& V);

// ||dX'/dX||_F^2 by MODEL.md section 4: closed-form block norms, no estimator noise.
// Cost O(n^2 d) plus min(n^3, n^2 d(d+1)/2) for the one quartic term.
double jacobian_norm2_exact(const ForwardPass& f, Scratch& scratch);
double jacobian_norm2_exact(const ForwardPass& f);

// Hutchinson estimate of ||J||_F^2 = E|J v|^2 from the m probes stacked in V
// (E[v v^T] = I): the mean of |J v_k|^2 over the probes.
double jacobian_norm2_hutchinson(const ForwardPass& f, const MatrixRef& V, Scratch& scratch);
double jacobian_norm2_hutchinson(const ForwardPass& f, const MatrixRef& V);

// The dense nd x nd Jacobian, column by column from unit JVPs. For tests and small sizes only.
// Index of token i, coordinate a is i * d + a.
Matrix dense_jacobian(const ForwardPass& f);

}  // namespace attnsweep::model::dense
