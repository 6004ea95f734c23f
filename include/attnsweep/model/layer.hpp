// Definitions shared by the attention layer's kernels (kernel.hpp, the one the program runs, and
// dense.hpp, its reference): matrix types, the scale beta, the accurate 1 - cos of MODEL.md
// section 7. Pure numerics: Eigen only; no randomness, no I/O, no MPI.
#pragma once

#include <Eigen/Dense>
#include <stdexcept>
#include <string>

namespace attnsweep::model {

// Tokens are rows. Row-major keeps each token contiguous, so the per-token
// reductions (norms, dots, softmax rows) stream through memory.
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;
using MatrixRef = Eigen::Ref<const Matrix>;

// How the attention scale grows with the context length n (MODEL.md section 1): the paper's
// beta = gamma ln n (natural log), and the alternatives its introduction discusses: gamma (ln n)^2
// (YaRN-like), gamma sqrt(ln n) (i.i.d.-score analysis), and a constant gamma (no scaling).
enum class ScalingLaw { log, log_squared, sqrt_log, constant };
const char* scaling_name(ScalingLaw law);           // "log", "log-squared", "sqrt-log", "constant"
ScalingLaw parse_scaling(const std::string& text);  // throws std::invalid_argument
double attention_scale(double gamma, double n, ScalingLaw law = ScalingLaw::log);

// Below this, 1 - cos computed from a dot product has lost more than ~13 of its
// 16 digits for near-duplicate tokens; the difference form keeps them.
inline constexpr double kSmallAngle = 1e-3;

// 1 - <u, v> for unit vectors u, v, accurate also when u and v nearly coincide.
double one_minus_cosine(const Eigen::Ref<const Eigen::RowVectorXd>& u, const Eigen::Ref<const Eigen::RowVectorXd>& v,
                        double cosine);

// A token of length exactly zero has no direction: the observables that need it are undefined by
// their definition (not a numerical fault). A distinct type, so that a trial can record them as
// undefined while any other failure stays a failure.
struct UndefinedDirection : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// 1 / |x_i| for every row; throws UndefinedDirection naming the row ("<what> row i has norm 0:
// its direction is undefined") for a zero row, std::invalid_argument for a non-finite one.
Vector inverse_row_norms(const MatrixRef& X, const char* what);

}  // namespace attnsweep::model
