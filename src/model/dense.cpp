#include "attnsweep/model/dense.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace attnsweep::model::dense {

using Eigen::Index;

void row_softmax(const MatrixRef& S, double beta, Matrix& A) {
  A.resize(S.rows(), S.cols());
  for (Index i = 0; i < S.rows(); ++i) {
    const double row_max = S.row(i).maxCoeff();
    A.row(i) = ((S.row(i).array() - row_max) * beta).exp().matrix();
    A.row(i) /= A.row(i).sum();
  }
}

Matrix row_softmax(const MatrixRef& S, double beta) {
  Matrix A;
  row_softmax(S, beta, A);
  return A;
}

void normalize(const MatrixRef& X, NormalizedTokens& t) {
  if (X.rows() < 1 || X.cols() < 1) throw std::invalid_argument("forward: empty token matrix");
  const Vector inv_norms = inverse_row_norms(X, "input token");
  t.norms = inv_norms.cwiseInverse();
  t.Y = inv_norms.asDiagonal() * X;
  t.G.noalias() = t.Y * t.Y.transpose();
}

NormalizedTokens normalize(const MatrixRef& X) {
  NormalizedTokens t;
  normalize(X, t);
  return t;
}

void forward(const NormalizedTokens& tokens, const MatrixRef& X, double gamma, double alpha, ForwardPass& f) {
  f.input = &tokens;
  f.owned_input.reset();
  f.beta = attention_scale(gamma, static_cast<double>(X.rows()));
  f.alpha = alpha;
  row_softmax(tokens.G, f.beta, f.A);
  f.Xbar.noalias() = f.A * tokens.Y;
  f.Xout = f.Xbar + alpha * X;
}

ForwardPass forward(const MatrixRef& X, double gamma, double alpha) {
  auto tokens = std::make_shared<NormalizedTokens>(normalize(X));
  ForwardPass f;
  forward(*tokens, X, gamma, alpha, f);
  f.owned_input = std::move(tokens);  // f.input still points at it (it lives on the heap)
  return f;
}

double angle_ratio(const ForwardPass& f, Scratch& scratch) {
  const Matrix& Y = f.Y();
  const Matrix& G = f.G();
  const Index n = Y.rows();
  Matrix& Yout = scratch.Yout;
  Matrix& Gout = scratch.Gout;
  Yout = inverse_row_norms(f.Xout, "output token").asDiagonal() * f.Xout;
  Gout.noalias() = Yout * Yout.transpose();
  double sum = 0;
  long long pairs = 0;
  for (Index i = 0; i < n; ++i) {
    for (Index j = i + 1; j < n; ++j) {
      const double before = one_minus_cosine(Y.row(i), Y.row(j), G(i, j));
      if (before == 0) continue;  // identical input directions: no angle to compare
      const double after = one_minus_cosine(Yout.row(i), Yout.row(j), Gout(i, j));
      sum += after / before;
      ++pairs;
    }
  }
  return pairs > 0 ? sum / static_cast<double>(pairs) : std::numeric_limits<double>::quiet_NaN();
}

double angle_ratio(const ForwardPass& f) {
  Scratch scratch;
  return angle_ratio(f, scratch);
}

const Matrix& jacobian_vector_products(const ForwardPass& f, const MatrixRef& V, Scratch& scratch) {
  const Matrix& Y = f.Y();
  const Index n = Y.rows(), d = Y.cols();
  if (V.rows() != n || V.cols() % d != 0 || V.cols() == 0) {
    throw std::invalid_argument("jacobian_vector_products: directions must be n x (m d)");
  }
  const Index m = V.cols() / d;
  scratch.inv_norms = f.norms().cwiseInverse();
  const Vector& inv_norms = scratch.inv_norms;

  // dy_i = (v_i - <v_i, y_i> y_i) / |x_i|, kept in two layouts so that both
  // products below are single GEMMs over all probes.
  Matrix& dY_stacked = scratch.dY_stacked;  // block k = rows [k n, (k+1) n)
  Matrix& dY_side = scratch.dY_side;        // block k = columns [k d, (k+1) d)
  dY_stacked.resize(m * n, d);
  dY_side.resize(n, m * d);
  for (Index k = 0; k < m; ++k) {
    const auto Vk = V.middleCols(k * d, d);
    scratch.radial = (Vk.array() * Y.array()).rowwise().sum();
    dY_stacked.middleRows(k * n, n) = inv_norms.asDiagonal() * (Vk - scratch.radial.asDiagonal() * Y);
    dY_side.middleCols(k * d, d) = dY_stacked.middleRows(k * n, n);
  }

  // Block k of Q is Y dY_k^T; dS_k = beta (Q_k + Q_k^T).
  Matrix& Q = scratch.Q;
  Q.noalias() = Y * dY_stacked.transpose();
  Matrix& dA = scratch.dA;
  Matrix& S = scratch.S;  // Q_k + Q_k^T, formed tile by tile so the transposed reads stay in cache
  dA.resize(m * n, n);
  S.resize(n, n);
  constexpr Index kTile = 32;
  for (Index k = 0; k < m; ++k) {
    const auto Qk = Q.middleCols(k * n, n);
    for (Index ib = 0; ib < n; ib += kTile) {
      for (Index jb = 0; jb < n; jb += kTile) {
        const Index ie = std::min(n, ib + kTile), je = std::min(n, jb + kTile);
        for (Index i = ib; i < ie; ++i)
          for (Index j = jb; j < je; ++j) S(i, j) = Qk(i, j) + Qk(j, i);
      }
    }
    // dA_k = A o (dS - rowsum(A o dS) 1^T), dS = beta S: one pass per row.
    for (Index i = 0; i < n; ++i) {
      auto row = dA.row(k * n + i);
      row = f.beta * f.A.row(i).cwiseProduct(S.row(i));
      const double weighted = row.sum();
      row -= weighted * f.A.row(i);
    }
  }

  Matrix& out = scratch.jvp;
  out.noalias() = f.A * dY_side;   // A dY for all probes
  scratch.dAY.noalias() = dA * Y;  // dA Y for all probes
  for (Index k = 0; k < m; ++k) {
    out.middleCols(k * d, d) += scratch.dAY.middleRows(k * n, n) + f.alpha * V.middleCols(k * d, d);
  }
  return out;
}

Matrix jacobian_vector_products(const ForwardPass& f, const MatrixRef& V) {
  Scratch scratch;
  return jacobian_vector_products(f, V, scratch);
}

double jacobian_norm2_hutchinson(const ForwardPass& f, const MatrixRef& V, Scratch& scratch) {
  const Index m = V.cols() / f.Y().cols();
  return jacobian_vector_products(f, V, scratch).squaredNorm() / static_cast<double>(m);
}

double jacobian_norm2_hutchinson(const ForwardPass& f, const MatrixRef& V) {
  Scratch scratch;
  return jacobian_norm2_hutchinson(f, V, scratch);
}

namespace {
// T1_i = || sum_l A_il y_l y_l^T ||_F^2 for every row i, by the cheaper of two routes, into scratch.T1.
void quartic_term(const ForwardPass& f, Scratch& scratch) {
  const Matrix& Y = f.Y();
  const Index n = Y.rows(), d = Y.cols();
  const Index packed = d * (d + 1) / 2;
  if (packed < n) {
    // Pack y_l y_l^T's upper triangle (off-diagonal entries times sqrt 2), so that
    // T1_i = |(A P)_i|^2: cost n^2 d(d+1)/2.
    Matrix& P = scratch.P;
    P.resize(n, packed);
    for (Index l = 0; l < n; ++l) {
      Index c = 0;
      for (Index a = 0; a < d; ++a) {
        P(l, c++) = Y(l, a) * Y(l, a);
        for (Index b = a + 1; b < d; ++b) P(l, c++) = std::sqrt(2.0) * Y(l, a) * Y(l, b);
      }
    }
    scratch.AP.noalias() = f.A * P;
    scratch.T1 = scratch.AP.rowwise().squaredNorm();
    return;
  }
  // T1_i = a_i^T (G o G) a_i: cost n^3.
  scratch.G2 = f.G().cwiseProduct(f.G());
  scratch.AG2.noalias() = f.A * scratch.G2;
  scratch.T1 = scratch.AG2.cwiseProduct(f.A).rowwise().sum();
}
}  // namespace

double jacobian_norm2_exact(const ForwardPass& f, Scratch& scratch) {
  const Matrix& Y = f.Y();
  const Matrix& G = f.G();
  const Index n = Y.rows();
  const double d = static_cast<double>(Y.cols());
  const double beta = f.beta, alpha = f.alpha;
  scratch.inv_norms = f.norms().cwiseInverse();
  const Vector& inv_norms = scratch.inv_norms;

  Matrix& H = scratch.H;
  H.noalias() = f.Xbar * Y.transpose();  // H_il = <y_l, xbar_i>
  scratch.s = f.Xbar.rowwise().squaredNorm();
  const Vector& s = scratch.s;
  scratch.W = f.A.cwiseProduct(G);  // w = a o g, row by row
  scratch.WY.noalias() = scratch.W * Y;
  scratch.T2 = scratch.WY.rowwise().squaredNorm();  // w^T G w = |sum_l w_l y_l|^2
  const Vector& T2 = scratch.T2;
  quartic_term(f, scratch);
  const Vector& T1 = scratch.T1;

  double total = 0;
  for (Index i = 0; i < n; ++i) {
    const double h_i = H(i, i), s_i = s(i);
    double off = 0, trace_CP = 0, ag = 0, ahg = 0, ah2 = 0;
    for (Index l = 0; l < n; ++l) {
      const double a = f.A(i, l), g = G(i, l), hl = H(i, l);
      trace_CP += a * ((1 - hl) - g * (g - h_i));
      ag += a * g;
      ahg += a * hl * g;
      ah2 += a * hl * hl;
      if (l == i) continue;
      const double scaled = a * inv_norms(l);
      off += scaled * scaled *
             ((d - 1) + 2 * beta * ((g - h_i) - g * (1 - hl)) + beta * beta * (1 - 2 * hl + s_i) * (1 - g * g));
    }
    const double CP2 = T1(i) - T2(i) - 2 * ah2 + 2 * ahg * ag + s_i * s_i - s_i * ag * ag;
    const double a_ii = f.A(i, i), inv_r = inv_norms(i);
    const double diag = (a_ii * a_ii * (d - 1) + 2 * a_ii * beta * trace_CP + beta * beta * CP2) * inv_r * inv_r +
                        2 * alpha * (a_ii * (d - 1) + beta * trace_CP) * inv_r + alpha * alpha * d;
    total += diag + off;
  }
  return total;
}

double jacobian_norm2_exact(const ForwardPass& f) {
  Scratch scratch;
  return jacobian_norm2_exact(f, scratch);
}

Matrix dense_jacobian(const ForwardPass& f) {
  const Index n = f.Y().rows(), d = f.Y().cols(), nd = n * d;
  Matrix J(nd, nd);
  // One unit direction per column of J; all nd stacked in one batched JVP.
  Matrix V = Matrix::Zero(n, nd * d);
  for (Index c = 0; c < nd; ++c) V(c / d, c * d + c % d) = 1.0;
  const Matrix JV = jacobian_vector_products(f, V);
  for (Index c = 0; c < nd; ++c) {
    const Matrix block = JV.middleCols(c * d, d);
    for (Index i = 0; i < n; ++i)
      for (Index a = 0; a < d; ++a) J(i * d + a, c) = block(i, a);
  }
  return J;
}

}  // namespace attnsweep::model::dense
