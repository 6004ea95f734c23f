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

// How the attention scale grows with the context length (MODEL.md sections 1 and 11): the paper's
// beta = gamma ln n (natural log), and the alternatives its introduction discusses: gamma (ln n)^2
// (YaRN-like), gamma sqrt(ln n) (i.i.d.-score analysis), a constant gamma (no scaling); and two
// per-position laws of decoders, where row i's scale follows the k_i keys it attends to:
// log-keys (Scalable-Softmax: beta_i = gamma ln k_i) and qwen-logn (Qwen's log-n beyond the
// training length T: beta_i = gamma max(ln T, ln k_i)). Without a mask k_i = n for every row.
enum class ScalingLaw { log, log_squared, sqrt_log, constant, log_keys, qwen_logn };
const char* scaling_name(ScalingLaw law);           // "log", "log-squared", ..., "log-keys", "qwen-logn"
ScalingLaw parse_scaling(const std::string& text);  // throws std::invalid_argument
// Whether the law's scale depends on each row's number of keys (log-keys, qwen-logn).
bool per_position(ScalingLaw law);
// The scale of a row attending to n keys (for the global laws, n is the context length);
// `train_length` is qwen-logn's T (ignored by the other laws).
double attention_scale(double gamma, double n, ScalingLaw law = ScalingLaw::log, double train_length = 0);

// Which keys a row attends to: all n (none), or its own and the earlier ones (causal: row i,
// 0-based, attends to k_i = i + 1 keys), as in a decoder.
enum class Mask { none, causal };
const char* mask_name(Mask mask);          // "none", "causal"
Mask parse_mask(const std::string& text);  // throws std::invalid_argument

// Everything that decides the rows' attention weights besides gamma and the tokens: the law,
// the mask and qwen-logn's training length. A ScalingLaw converts to it (no mask).
struct Attention {
  ScalingLaw law = ScalingLaw::log;
  Mask mask = Mask::none;
  double train_length = 0;  // qwen-logn's T (>= 2); unused by the other laws
  Attention() = default;
  Attention(ScalingLaw scaling, Mask m = Mask::none, double train = 0) : law(scaling), mask(m), train_length(train) {}
  // Keys of row i (0-based) of n tokens: n, or i + 1 under the causal mask.
  double keys(Eigen::Index i, Eigen::Index n) const { return static_cast<double>(mask == Mask::causal ? i + 1 : n); }
  // beta_i of row i of n tokens at this gamma.
  double row_scale(double gamma, Eigen::Index i, Eigen::Index n) const {
    return per_position(law) ? attention_scale(gamma, keys(i, n), law, train_length)
                             : attention_scale(gamma, static_cast<double>(n), law);
  }
};

// Position buckets (MODEL.md section 11): token i (0-based) is in bucket floor(log2 i), tokens 0
// and 1 in bucket 0; so bucket b >= 1 holds tokens [2^b, 2^(b+1)) and n = 2^m tokens have m
// buckets, the last one the sequence's second half. lambda's bucket b averages the pairs i < j
// whose later token j is in it; eta's averages the Jacobian rows of the tokens in it.
int position_bucket(Eigen::Index i);
int position_buckets(Eigen::Index n);                 // buckets of n >= 2 tokens: position_bucket(n - 1) + 1
Eigen::Index bucket_first(int bucket);                // first token of a bucket: 0 for bucket 0, else 2^b
Eigen::Index bucket_end(int bucket, Eigen::Index n);  // one past its last token among n

// Which part of the sequence a cell's observables describe (mc.position, grid.position): the
// whole sequence (every pair and row), the last bucket of its n, or bucket b >= 0. A bucket that
// n tokens do not reach (b >= position_buckets(n)) leaves the observables undefined.
inline constexpr int kWholeSequence = -1;
inline constexpr int kLastBucket = -2;
inline constexpr int kMaxBucket = 62;         // bucket 62 starts at token 2^62: no n reaches further
std::string position_name(int position);      // "whole", "last", "3"
int parse_position(const std::string& text);  // throws std::invalid_argument
// The bucket a position selects at n tokens (kWholeSequence for the whole sequence).
int selected_bucket(int position, Eigen::Index n);

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
