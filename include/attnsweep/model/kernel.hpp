// The attention layer's kernel (MODEL.md sections 1, 3, 4), tiled: the n x n attention matrix is
// never formed. Rows are processed in fixed blocks of B rows; a block recomputes its scores
// Y_B Y^T (flash-attention style), takes its softmax rows and everything the observables need
// from them, and is done. Memory per trial is O(n d + threads x B x n) plus a bounded cache of
// what does not depend on gamma (the Gram rows, the quartic term's factors), so n is limited by
// time, not by the n^2 memory wall.
//
// Threads share one trial: blocks go to the team's threads in any order, every block's partial
// sums are kept apart and reduced in block order, so results are bitwise independent of the
// number of threads. The block partition depends on n only.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "attnsweep/model/layer.hpp"
#include "attnsweep/model/thread_team.hpp"

namespace attnsweep::model {

enum class JacobianNorm { none, exact, hutchinson };

// The kernel's arithmetic order: bump it with any change that can move a bit of a result (the block
// partition, a reduction order, which products are cached or how they are shaped). Files record it
// (the root attribute kernel_version) and a resume, growth or merge of a file made by another
// version is refused, so that no file mixes two arithmetics; so is a journal's (io::Journal::stamp).
// Version 1: the tiled kernel as of the causal mask (its unmasked results are bitwise those of the
// kernel before it). Version 2: lambda's outputs' angles across their centre, lambda's and the exact
// norm's row sums in eight lanes (lanes.hpp), the softmax rows scaled by the reciprocal of their sum.
inline constexpr int kKernelVersion = 2;

struct Observables {
  double lambda = 0;          // angle ratio, MODEL.md section 3
  double jacobian_norm2 = 0;  // ||dX'/dX||_F^2 (exact, or the Hutchinson mean); 0 for none
};

// Bytes the kernel keeps, at most, for what it can reuse across gammas (Gram rows, quartic
// factors): below this everything is cached and a trial costs what the dense kernel costs;
// above it the rest is recomputed block by block.
inline constexpr std::size_t kKernelCacheBytes = std::size_t{256} << 20;

// Rows per block for n tokens of dimension d (a function of n and d only, so that results do
// not depend on threads): 128, more for the exact method at large n and d (see kernel.cpp).
Eigen::Index kernel_block_rows(Eigen::Index n, Eigen::Index d);

// How the exact method's quartic term T1_i = ||sum_l A_il y_l y_l^T||_F^2 is computed: from the
// packed outer products (n^2 d(d+1) flops) or from G o G (2 n^3 flops), whichever is cheaper
// after counting what the cache cannot hold and must be recomputed per block.
enum class QuarticRoute { packed, gram };
QuarticRoute quartic_route(Eigen::Index n, Eigen::Index d);

// What one evaluation (one gamma) of a trial costs: floating-point operations and the bytes
// the kernel holds (its per-thread block scratch, the per-trial matrices and the cache).
struct KernelCost {
  double flops_per_gamma = 0;  // forward, lambda and the Jacobian norm for one gamma
  double flops_per_draw = 0;   // once per token draw: caches, normalisation, probe directions
  double bytes = 0;
};
// Under the causal mask a block of rows reads the columns up to its last row: the row-block products
// cost the share causal_share(n, d) of the unmasked ones; lambda's pairs are the same.
double causal_share(Eigen::Index n, Eigen::Index d);
KernelCost kernel_cost(Eigen::Index n, Eigen::Index d, Eigen::Index probes, JacobianNorm method, int threads,
                       std::size_t cache_bytes = kKernelCacheBytes, Mask mask = Mask::none);

class TiledLayer {
 public:
  explicit TiledLayer(int threads = 1);
  ~TiledLayer();
  TiledLayer(const TiledLayer&) = delete;
  TiledLayer& operator=(const TiledLayer&) = delete;

  // Threads for the next evaluations (>= 1). Results do not depend on it.
  void set_threads(int threads);
  int threads() const;
  // Rows per block; 0 (the default) takes kernel_block_rows(n, d). Tests use small blocks to cover
  // partial and many blocks; results change with it only by rounding.
  void set_block_rows(Eigen::Index rows);
  // Bytes of cache (default kKernelCacheBytes); tests use 0 to check that caching changes nothing.
  void set_cache_bytes(std::size_t bytes);
  std::size_t cache_bytes() const { return cache_bytes_; }

  // A token draw, n x d (rows are tokens): norms and directions, and the cache of Gram rows.
  // Throws std::invalid_argument for an empty matrix or a zero token (its direction is undefined).
  void set_tokens(const MatrixRef& X);
  // Hutchinson probes for the current tokens, n x (m d): block k is columns [k d, (k+1) d),
  // E[v v^T] = I. Needed before evaluate(..., hutchinson).
  void set_probes(const MatrixRef& V);

  // One layer at this gamma and residual weight alpha: X' = A Y + alpha X with row i's scale
  // beta_i = attention.row_scale(gamma, i, n) (gamma ln n by default) over the keys its mask lets
  // it see, lambda, and the Jacobian norm by `method`. Under the causal mask a block of rows skips
  // the columns after its last row (no work for fully masked tiles). Throws std::invalid_argument
  // when an output token is zero (lambda is undefined).
  // `angles`: input computes lambda against this layer's input; none skips it (lambda NaN), for the
  // inner layers of a stack, whose lambda is taken once, against the first layer's input.
  enum class Angles { input, none };
  Observables evaluate(double gamma, double alpha, JacobianNorm method, const Attention& attention = {},
                       Angles angles = Angles::input);
  // After evaluate: lambda of the output against other input directions (n x d, unit rows), for
  // the L-layer map of a stack (MODEL.md section 3 with the first layer's input as the input).
  double angle_ratio_against(const Matrix& reference_directions);

  // After the last lambda (evaluate with Angles::input, or angle_ratio_against): lambda by
  // position bucket (layer.hpp's position_bucket of each pair's later token; NaN for a bucket
  // without a pair of distinct input directions).
  const std::vector<double>& lambda_by_bucket() const { return bucket_lambda_; }
  // After evaluate: row i's share of ||J||_F^2, ||dx'_i / dX||_F^2 (exact), or its Hutchinson
  // estimate, the mean over probes of |(J v_k)_i|^2; zero for none. For a stack, the last layer's
  // products are the whole map's, so these are the stack's rows.
  const Vector& jacobian_row_norm2() const { return row_norm2_; }

  // After evaluate: the layer's output X' (n x d), and for hutchinson the products J V (n x m d).
  const Matrix& output() const { return output_; }
  const Matrix& jacobian_vector_products() const { return jvp_; }

 private:
  struct BlockScratch;
  Eigen::Index rows_per_block() const;
  Eigen::Index block_count() const;
  void rebuild_caches();
  std::size_t cache_left() const;  // bytes of the cache budget not yet used
  void fill_gram_cache();
  void fill_probe_cache();
  void fill_quartic_cache();
  MatrixRef gram_rows(Eigen::Index first, Eigen::Index rows, Eigen::Index cols, BlockScratch& scratch) const;
  // The passes of evaluate(), each over the row blocks.
  // Columns a block of rows [first, first + rows) reads: all n, or under the causal mask the
  // keys of its last row.
  Eigen::Index block_columns(Eigen::Index first, Eigen::Index rows) const;
  double forward_block(Eigen::Index block, BlockScratch& s, JacobianNorm method);
  void softmax_rows(Eigen::Index first, Eigen::Index rows, Eigen::Index cols, const MatrixRef& G, BlockScratch& s);
  double hutchinson_block(Eigen::Index first, Eigen::Index rows, BlockScratch& s);
  void probe_scores(Eigen::Index k, Eigen::Index first, Eigen::Index rows, Eigen::Index cols, BlockScratch& s);
  double exact_block(Eigen::Index first, Eigen::Index rows, const MatrixRef& G, BlockScratch& s);
  void quartic_factor(Eigen::Index first, Eigen::Index cols, Matrix& out) const;
  void quartic_block(Eigen::Index rows, Eigen::Index cols, BlockScratch& s);
  double angle_block(Eigen::Index block, BlockScratch& s, long long& pairs, const Matrix* reference);
  double angle_ratio(const Matrix* reference);  // nullptr: against this layer's input
  void split_at_centre();

  struct PackedOperands;
  void pack_tokens();

  std::unique_ptr<ThreadTeam> team_;
  std::unique_ptr<PackedOperands> packed_;
  std::vector<BlockScratch> scratch_;  // one per thread
  Eigen::Index block_rows_setting_ = 0;
  std::size_t cache_bytes_ = kKernelCacheBytes;

  // Per token draw.
  Matrix X_, Y_;
  Vector inv_norms_;
  Matrix gram_cache_;   // rows [0, gram_cache_.rows()) of Y Y^T
  Matrix probes_, dY_;  // V and dy = (v - <v, y> y) / |x|, both n x (m d)
  Eigen::Index probe_count_ = 0;
  Matrix probe_cache_;  // rows [0, probe_rows_) of Y dy_k^T for each probe k, stacked
  Eigen::Index probe_rows_ = 0;
  // The quartic term's factors: packed outer products (n x d(d+1)/2) or column tiles of G o G.
  bool quartic_ready_ = false;
  QuarticRoute quartic_route_ = QuarticRoute::packed;
  std::vector<std::pair<int, int>> packed_pairs_;  // column c of the packed factor is y_a y_b
  Eigen::Index quartic_cached_cols_ = 0;           // its first columns, cached (packed, in packed_)

  // Per evaluation.
  double alpha_ = 0;
  Mask mask_ = Mask::none;
  Vector betas_;  // beta_i of every row
  Matrix output_, output_dirs_, jvp_;
  Matrix across_;  // the output directions' parts across their centre (split_at_centre)
  Vector gap_;     // 1 - <u_i, centre>
  Vector row_norm2_;
  std::vector<double> block_sums_;
  std::vector<long long> block_pairs_;
  // lambda by position bucket: each block's sums and pairs (block-major), reduced in block order.
  std::vector<double> block_bucket_sums_, bucket_lambda_;
  std::vector<long long> block_bucket_pairs_;
};

}  // namespace attnsweep::model
