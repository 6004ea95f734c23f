// Definitions shared by the attention layer's kernels (kernel.hpp, the one the program runs, and
// dense.hpp, its reference): matrix types, the scale beta, the accurate 1 - cos of MODEL.md
// section 7. Pure numerics: Eigen only; no randomness, no I/O, no MPI.
#pragma once

#include <Eigen/Dense>

namespace attnsweep::model {

// Tokens are rows. Row-major keeps each token contiguous, so the per-token
// reductions (norms, dots, softmax rows) stream through memory.
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;
using MatrixRef = Eigen::Ref<const Matrix>;

// beta = gamma * ln(n), natural log (MODEL.md section 1).
double attention_scale(double gamma, Eigen::Index n);

// Below this, 1 - cos computed from a dot product has lost more than ~13 of its
// 16 digits for near-duplicate tokens; the difference form keeps them.
inline constexpr double kSmallAngle = 1e-3;

// 1 - <u, v> for unit vectors u, v, accurate also when u and v nearly coincide.
double one_minus_cosine(const Eigen::Ref<const Eigen::RowVectorXd>& u, const Eigen::Ref<const Eigen::RowVectorXd>& v,
                        double cosine);

// 1 / |x_i| for every row; throws std::invalid_argument naming the row ("<what> row i has norm 0:
// its direction is undefined") for a zero or non-finite row.
Vector inverse_row_norms(const MatrixRef& X, const char* what);

}  // namespace attnsweep::model
