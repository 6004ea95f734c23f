#include "attnsweep/model/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "block_scratch.hpp"
#include "kernel_plan.hpp"
#include "lanes.hpp"
#include "packed_product.hpp"

namespace attnsweep::model {

using Eigen::Index;
using namespace kernel_plan;

namespace {
// out = base + in^T (base may be out itself). Whole 8 x 8 tiles go through a local copy: eight
// contiguous row reads of `in`, a transpose the compiler does in registers, eight contiguous row
// updates of `out` (a strided scalar gather per element was two thirds of a Hutchinson block's
// own time at d = 32). Each element is the same one addition base + in^T as before the tiles:
// the bits do not change.
using ConstStrided = Eigen::Ref<const Matrix, 0, Eigen::OuterStride<>>;
void add_transposed(const ConstStrided& base, const ConstStrided& in, Eigen::Ref<Matrix, 0, Eigen::OuterStride<>> out) {
  constexpr Index kTile = 8;
  const Index rows = out.rows(), cols = out.cols();
  const Index whole_rows = rows / kTile * kTile, whole_cols = cols / kTile * kTile;
  alignas(64) double tile[kTile][kTile];
  for (Index ib = 0; ib < whole_rows; ib += kTile)
    for (Index jb = 0; jb < whole_cols; jb += kTile) {
      for (Index j = 0; j < kTile; ++j) {
        const double* src = in.data() + (jb + j) * in.outerStride() + ib;  // row-major
        for (Index i = 0; i < kTile; ++i) tile[i][j] = src[i];
      }
      for (Index i = 0; i < kTile; ++i) {
        const double* add_to = base.data() + (ib + i) * base.outerStride() + jb;
        double* dst = out.data() + (ib + i) * out.outerStride() + jb;
        for (Index j = 0; j < kTile; ++j) dst[j] = add_to[j] + tile[i][j];
      }
    }
  // The ragged edges, element by element.
  for (Index i = 0; i < rows; ++i)
    for (Index j = (i < whole_rows ? whole_cols : 0); j < cols; ++j) out(i, j) = base(i, j) + in(j, i);
}
// C = X B, or C += X B: by B packed once (PackedRight) where C has the packed B's width (B may be its
// first rows: a causal block's keys), else by Eigen (a causal block's scores have fewer columns).
template <class Right>
void multiply(const PackedRight& packed, const ConstStrided& X, const Right& B,
              Eigen::Ref<Matrix, 0, Eigen::OuterStride<>> C, bool accumulate) {
  if (!packed.empty() && X.cols() <= packed.depth() && C.cols() == packed.width()) {
    packed.multiply(X, C, accumulate);
  } else if (accumulate) {
    C.noalias() += X * B;
  } else {
    C.noalias() = X * B;
  }
}
}  // namespace

// The right operands shared by every block's products, packed once per draw (packed_product.hpp).
struct TiledLayer::PackedOperands {
  std::vector<PackedRight> quartic;            // the quartic factor's cached chunks (quartic_chunk_cols each)
  PackedRight tokens, tokens_transposed;       // B = Y and B = Y^T
  PackedRight probes;                          // B = dy of every probe side by side
  std::vector<PackedRight> probes_transposed;  // B = dy_k^T
  PackedRight tokens_beyond_cache;             // B = Y^T's columns beyond the probes' cached Q rows
};

TiledLayer::TiledLayer(int threads) : packed_(std::make_unique<PackedOperands>()) { set_threads(threads); }
TiledLayer::~TiledLayer() = default;

void TiledLayer::set_threads(int threads) {
  threads = std::max(1, threads);
  if (team_ && team_->size() == threads) return;
  team_ = std::make_unique<ThreadTeam>(threads);
  scratch_.resize(static_cast<size_t>(threads));
}

int TiledLayer::threads() const { return team_->size(); }

void TiledLayer::set_block_rows(Index rows) {
  block_rows_setting_ = std::max<Index>(0, rows);
  rebuild_caches();
}

void TiledLayer::set_cache_bytes(std::size_t bytes) {
  cache_bytes_ = bytes;
  rebuild_caches();
}

void TiledLayer::rebuild_caches() {
  if (Y_.rows() > 0) {
    pack_tokens();
    fill_gram_cache();
  }
  if (probe_count_ > 0) fill_probe_cache();
  quartic_ready_ = false;
}

std::size_t TiledLayer::cache_left() const {
  const std::size_t used =
      rows_bytes(gram_cache_.rows(), gram_cache_.cols(), 1) + rows_bytes(probe_cache_.rows(), probe_cache_.cols(), 1);
  return used >= cache_bytes_ ? 0 : cache_bytes_ - used;
}

Index TiledLayer::rows_per_block() const {
  const Index n = Y_.rows();
  return block_rows_setting_ > 0 ? std::min(n, block_rows_setting_) : kernel_block_rows(n, Y_.cols());
}

Index TiledLayer::block_count() const {
  const Index block = rows_per_block();
  return (Y_.rows() + block - 1) / block;
}

void TiledLayer::set_tokens(const MatrixRef& X) {
  if (X.rows() < 1 || X.cols() < 1) throw std::invalid_argument("forward: empty token matrix");
  inv_norms_ = inverse_row_norms(X, "input token");
  X_ = X;
  Y_ = inv_norms_.asDiagonal() * X;
  probe_count_ = 0;  // the probe cache's memory is kept for the next draw's probes
  quartic_ready_ = false;
  pack_tokens();
  fill_gram_cache();
}

// Y and Y^T as the right operands of every block's products, packed once per draw.
void TiledLayer::pack_tokens() {
  const Index block = rows_per_block();
  packed_->tokens.pack(Y_, false, block);
  packed_->tokens_transposed.pack(Y_, true, block);
}

void TiledLayer::fill_gram_cache() {
  const Index n = Y_.rows(), block = rows_per_block();
  gram_cache_.resize(cached_rows(n, 1, block, cache_bytes_), n);
  team_->run((gram_cache_.rows() + block - 1) / block, [&](std::int64_t b, int) {
    const Index first = b * block, rows = std::min(block, gram_cache_.rows() - first);
    multiply(packed_->tokens_transposed, Y_.middleRows(first, rows), Y_.transpose(),
             gram_cache_.middleRows(first, rows), false);
  });
}

void TiledLayer::set_probes(const MatrixRef& V) {
  const Index n = Y_.rows(), d = Y_.cols();
  if (n == 0) throw std::logic_error("set_probes before set_tokens");
  if (V.rows() != n || V.cols() % d != 0 || V.cols() == 0) {
    throw std::invalid_argument("jacobian_vector_products: directions must be n x (m d)");
  }
  probe_count_ = V.cols() / d;
  probes_ = V;
  // dy_i = (v_i - <v_i, y_i> y_i) / |x_i|, the direction's effect on y_i (MODEL.md section 4).
  dY_.resize(n, V.cols());
  for (Index k = 0; k < probe_count_; ++k) {
    const auto Vk = V.middleCols(k * d, d);
    const Vector radial = (Vk.array() * Y_.array()).rowwise().sum();
    dY_.middleCols(k * d, d) = inv_norms_.asDiagonal() * (Vk - radial.asDiagonal() * Y_);
  }
  quartic_ready_ = false;
  fill_probe_cache();
}

// Rows [0, q) of Q_k = Y dy_k^T for every probe k (probe k's rows at [k q, (k + 1) q)): a block
// reads its own rows of Q_k and, transposed, its columns of the cached rows, so that the part
// of S = Q_k + Q_k^T inside the cache is multiplied once per draw instead of twice per gamma.
void TiledLayer::fill_probe_cache() {
  const Index n = Y_.rows(), d = Y_.cols(), block = rows_per_block(), m = probe_count_;
  const std::size_t gram_bytes = rows_bytes(gram_cache_.rows(), gram_cache_.cols(), 1);
  const Index rows = cached_rows(n, m, block, gram_bytes >= cache_bytes_ ? 0 : cache_bytes_ - gram_bytes);
  probe_rows_ = rows;
  packed_->probes.pack(dY_, false, block);
  packed_->probes_transposed.resize(static_cast<size_t>(m));
  for (Index k = 0; k < m; ++k)
    packed_->probes_transposed[static_cast<size_t>(k)].pack(dY_.middleCols(k * d, d), true, block);
  packed_->tokens_beyond_cache.clear();
  if (rows < n) packed_->tokens_beyond_cache.pack(Y_.bottomRows(n - rows), true, block);
  probe_cache_.resize(m * rows, n);
  const Index blocks = (rows + block - 1) / block;
  team_->run(m * blocks, [&](std::int64_t item, int) {
    const Index k = item / blocks, first = (item % blocks) * block, count = std::min(block, rows - first);
    multiply(packed_->probes_transposed[static_cast<size_t>(k)], Y_.middleRows(first, count),
             dY_.middleCols(k * d, d).transpose(), probe_cache_.middleRows(k * rows + first, count), false);
  });
}

MatrixRef TiledLayer::gram_rows(Index first, Index rows, Index cols, BlockScratch& s) const {
  if (first + rows <= gram_cache_.rows()) return gram_cache_.block(first, 0, rows, cols);
  s.G.resize(rows_per_block(), Y_.rows());
  multiply(packed_->tokens_transposed, Y_.middleRows(first, rows), Y_.topRows(cols).transpose(),
           s.G.topLeftCorner(rows, cols), false);
  return s.G.topLeftCorner(rows, cols);
}

Index TiledLayer::block_columns(Index first, Index rows) const {
  return mask_ == Mask::causal ? first + rows : Y_.rows();
}

void TiledLayer::fill_quartic_cache() {
  const Index n = Y_.rows(), d = Y_.cols();
  const std::size_t budget = cache_left();
  quartic_route_ = cheaper_route(n, d, rows_per_block(), budget);
  const Index width = quartic_route_ == QuarticRoute::packed ? packed_width(d) : n;
  if (quartic_route_ == QuarticRoute::packed) {
    packed_pairs_.clear();
    for (int a = 0; a < d; ++a)
      for (int b = a; b < d; ++b) packed_pairs_.emplace_back(a, b);
  }
  const Index chunk = quartic_chunk_cols(n, width);
  // The cached chunks are kept only as packed right operands (the one product that reads them).
  quartic_cached_cols_ = cached_quartic_cols(n, width, budget);
  auto& chunks = packed_->quartic;
  chunks.resize(static_cast<size_t>((quartic_cached_cols_ + chunk - 1) / chunk));
  team_->run(static_cast<std::int64_t>(chunks.size()), [&](std::int64_t c, int member) {
    const Index first = c * chunk, cols = std::min(chunk, quartic_cached_cols_ - first);
    BlockScratch& s = scratch_[static_cast<size_t>(member)];
    s.factor.resize(n, chunk);
    quartic_factor(first, cols, s.factor);
    chunks[static_cast<size_t>(c)].pack(s.factor.leftCols(cols), false, rows_per_block());
  });
  quartic_ready_ = true;
}

// Columns [first, first + cols) of the quartic factor into out's first columns: the packed outer
// products y_a y_b (off-diagonal ones times sqrt 2), or the columns of G o G.
void TiledLayer::quartic_factor(Index first, Index cols, Matrix& out) const {
  const Index n = Y_.rows();
  auto factor = out.leftCols(cols);
  if (quartic_route_ == QuarticRoute::packed) {
    for (Index l = 0; l < n; ++l)
      for (Index j = 0; j < cols; ++j) {
        const auto [a, b] = packed_pairs_[static_cast<size_t>(first + j)];
        factor(l, j) = a == b ? Y_(l, a) * Y_(l, a) : std::sqrt(2.0) * Y_(l, a) * Y_(l, b);
      }
  } else if (first + cols <= gram_cache_.rows()) {
    // Columns of G are rows of G (symmetric): from the Gram cache, no product.
    factor = gram_cache_.middleRows(first, cols).transpose().cwiseAbs2();
  } else {
    factor.noalias() = Y_ * Y_.middleRows(first, cols).transpose();
    factor = factor.cwiseProduct(factor);
  }
}

// T1 of MODEL.md section 4 for rows [first, first + rows): s.T1(r) = ||sum_l A_rl y_l y_l^T||_F^2,
// chunk by chunk of the factor (cached chunks read, the others recomputed into s.factor). Only the
// first `cols` tokens carry weight (the causal mask's keys): the factor's rows beyond, and the
// G o G route's columns beyond, are skipped.
void TiledLayer::quartic_block(Index rows, Index cols, BlockScratch& s) {
  const Index n = Y_.rows();
  const auto A = s.A.topLeftCorner(rows, cols);
  const bool packed = quartic_route_ == QuarticRoute::packed;
  const Index width = packed ? static_cast<Index>(packed_pairs_.size()) : cols;
  const Index chunk = quartic_chunk_cols(n, packed ? width : n);
  s.T1.setZero(rows);
  s.tile.resize(rows_per_block(), chunk);
  for (Index c0 = 0; c0 < width; c0 += chunk) {
    const Index span = std::min(chunk, width - c0);
    auto tile = s.tile.topLeftCorner(rows, span);
    const auto c = static_cast<size_t>(c0 / chunk);
    if (c < packed_->quartic.size() && packed_->quartic[c].width() == span) {
      packed_->quartic[c].multiply(A, tile, false);  // a cached chunk (its first `cols` rows)
    } else {
      // Not cached, or (G o G under the causal mask) only part of a cached chunk is wanted.
      s.factor.resize(n, chunk);
      quartic_factor(c0, span, s.factor);
      tile.noalias() = A * s.factor.topLeftCorner(cols, span);
    }
    if (packed) {
      s.T1 += tile.rowwise().squaredNorm();  // T1_i = |(A P)_i|^2
    } else {
      s.T1 += tile.cwiseProduct(A.middleCols(c0, span)).rowwise().sum();  // T1_i = a_i^T (G o G) a_i
    }
  }
}

// Row softmax of beta_i G over row i's keys (all `cols`, or its own and the earlier ones under the
// causal mask, the rest of its row zero), with the row maximum subtracted: beta in the hundreds
// cannot overflow.
void TiledLayer::softmax_rows(Index first, Index rows, Index cols, const MatrixRef& G, BlockScratch& s) {
  s.A.resize(rows_per_block(), Y_.rows());
  auto A = s.A.topLeftCorner(rows, cols);
  for (Index r = 0; r < rows; ++r) {
    const Index keys = mask_ == Mask::causal ? first + r + 1 : cols;
    const auto g = G.row(r).head(keys);
    auto a = A.row(r).head(keys);
    const double row_max = g.maxCoeff();
    a = ((g.array() - row_max) * betas_(first + r)).exp().matrix();
    a *= 1.0 / a.sum();  // one division a row, not one an element
    A.row(r).tail(cols - keys).setZero();
  }
}

double TiledLayer::forward_block(Index block, BlockScratch& s, JacobianNorm method) {
  const Index n = Y_.rows(), d = Y_.cols(), B = rows_per_block();
  const Index first = block * B, rows = std::min(B, n - first), cols = block_columns(first, rows);
  const MatrixRef G = gram_rows(first, rows, cols, s);
  softmax_rows(first, rows, cols, G, s);
  s.xbar.resize(B, d);
  auto xbar = s.xbar.topRows(rows);
  multiply(packed_->tokens, s.A.topLeftCorner(rows, cols), Y_.topRows(cols), xbar, false);
  output_.middleRows(first, rows) = xbar + alpha_ * X_.middleRows(first, rows);

  if (method == JacobianNorm::hutchinson) return hutchinson_block(first, rows, s);
  if (method != JacobianNorm::exact) return 0;
  return exact_block(first, rows, G, s);
}

// S = dS / beta_i for probe k on this block's rows, its first `cols` columns: <y_i, dy_j> + <dy_i,
// y_j>. Rows [0, q) of Q_k = Y dy_k^T are cached: their columns, transposed, give the second term
// for j < q, and when the block's own rows are cached the first term is read, not multiplied.
void TiledLayer::probe_scores(Index k, Index first, Index rows, Index cols, BlockScratch& s) {
  const Index d = Y_.cols(), q = probe_rows_, cached_cols = std::min(q, cols);
  const auto dYk = dY_.middleCols(k * d, d);
  auto S = s.S.topLeftCorner(rows, cols);
  const auto columns = probe_cache_.block(k * q, first, cached_cols, rows);  // <y_j, dy_i> for the cached j
  if (first + rows <= q) {
    // This block's rows of Q_k are cached too: S = rows + columns^T in one pass over S.
    const auto cached = probe_cache_.block(k * q + first, 0, rows, cols);
    add_transposed(cached.leftCols(cached_cols), columns, S.leftCols(cached_cols));
    S.rightCols(cols - cached_cols) = cached.rightCols(cols - cached_cols);
  } else {
    multiply(packed_->probes_transposed[static_cast<size_t>(k)], Y_.middleRows(first, rows),
             dYk.topRows(cols).transpose(), S, false);
    add_transposed(S.leftCols(cached_cols), columns, S.leftCols(cached_cols));
  }
  if (cols > q)
    multiply(packed_->tokens_beyond_cache, dYk.middleRows(first, rows), Y_.middleRows(q, cols - q).transpose(),
             S.rightCols(cols - q), true);
}

// Hutchinson's estimate of ||J||_F^2 on this block's rows: J v for every probe v at once.
double TiledLayer::hutchinson_block(Index first, Index rows, BlockScratch& s) {
  const Index n = Y_.rows(), d = Y_.cols(), B = rows_per_block(), cols = block_columns(first, rows);
  const auto A = s.A.topLeftCorner(rows, cols);
  const Index m = probe_count_;
  s.out.resize(B, m * d);
  s.S.resize(B, n);
  auto out = s.out.topRows(rows);
  auto S = s.S.topLeftCorner(rows, cols);
  multiply(packed_->probes, A, dY_.topRows(cols), out, false);  // A dy for every probe in one product
  for (Index k = 0; k < m; ++k) {
    // dS = beta_i (<y_i, dy_j> + <dy_i, y_j>); dA = A o (dS - rowsum(A o dS)) (MODEL.md section 4).
    probe_scores(k, first, rows, cols, s);
    for (Index r = 0; r < rows; ++r) {
      auto row = S.row(r);
      row = betas_(first + r) * A.row(r).cwiseProduct(row);
      const double weighted = row.sum();
      row -= weighted * A.row(r);
    }
    auto out_k = out.middleCols(k * d, d);
    multiply(packed_->tokens, S, Y_.topRows(cols), out_k, true);
    out_k += alpha_ * probes_.block(first, k * d, rows, d);
  }
  jvp_.middleRows(first, rows) = out;
  for (Index r = 0; r < rows; ++r) row_norm2_(first + r) = out.row(r).squaredNorm() / static_cast<double>(m);
  return out.squaredNorm();
}

// Exact ||J||_F^2, MODEL.md section 4, row by row of this block. Under the causal mask every term
// of row i is weighted by A_il, zero beyond its keys, so the same sums over its `cols` columns hold
// (MODEL.md section 11), with row i's own beta_i.
double TiledLayer::exact_block(Index first, Index rows, const MatrixRef& G, BlockScratch& s) {
  const Index n = Y_.rows(), d = Y_.cols(), B = rows_per_block(), cols = G.cols();
  const auto A = s.A.topLeftCorner(rows, cols);
  const auto xbar = s.xbar.topRows(rows);
  const double dd = static_cast<double>(d), alpha = alpha_;
  s.S.resize(B, n);
  s.W.resize(B, n);
  s.WY.resize(B, d);
  auto H = s.S.topLeftCorner(rows, cols);
  multiply(packed_->tokens_transposed, xbar, Y_.topRows(cols).transpose(), H, false);  // H_il = <y_l, xbar_i>
  auto W = s.W.topLeftCorner(rows, cols);
  W = A.cwiseProduct(G);  // w = a o g
  auto WY = s.WY.topRows(rows);
  multiply(packed_->tokens, W, Y_.topRows(cols), WY, false);  // w^T G w = |sum_l w_l y_l|^2
  quartic_block(rows, cols, s);
  double total = 0;
  for (Index r = 0; r < rows; ++r) {
    const Index i = first + r;
    const double beta = betas_(i);
    const double h_i = H(r, i), s_i = xbar.row(r).squaredNorm(), T2 = WY.row(r).squaredNorm();
    const double* a_row = A.data() + r * A.outerStride();
    const double* g_row = G.data() + r * G.outerStride();
    const double* h_row = H.data() + r * H.outerStride();
    const double* inv_norm = inv_norms_.data();
    lanes::Sums off_sums, trace_sums, ag_sums, ahg_sums, ah2_sums;
    // Row i's sums over its keys l, the off-diagonal blocks' (l != i) in the same pass.
    auto terms = [&](Index from, Index to, bool off_diagonal) {
      lanes::for_lanes(from, to, [&](Index l, int k) {
        const double a = a_row[l], g = g_row[l], hl = h_row[l];
        trace_sums.lane[k] += a * ((1 - hl) - g * (g - h_i));
        ag_sums.lane[k] += a * g;
        ahg_sums.lane[k] += a * hl * g;
        ah2_sums.lane[k] += a * hl * hl;
        if (!off_diagonal) return;
        const double scaled = a * inv_norm[l];
        off_sums.lane[k] +=
            scaled * scaled *
            ((dd - 1) + 2 * beta * ((g - h_i) - g * (1 - hl)) + beta * beta * (1 - 2 * hl + s_i) * (1 - g * g));
      });
    };
    terms(0, i, true);
    terms(i, i + 1, false);
    terms(i + 1, cols, true);
    const double off = off_sums.total(), trace_CP = trace_sums.total(), ag = ag_sums.total();
    const double ahg = ahg_sums.total(), ah2 = ah2_sums.total();
    const double CP2 = s.T1(r) - T2 - 2 * ah2 + 2 * ahg * ag + s_i * s_i - s_i * ag * ag;
    const double a_ii = A(r, i), inv_r = inv_norms_(i);
    const double diag = (a_ii * a_ii * (dd - 1) + 2 * a_ii * beta * trace_CP + beta * beta * CP2) * inv_r * inv_r +
                        2 * alpha * (a_ii * (dd - 1) + beta * trace_CP) * inv_r + alpha * alpha * dd;
    const double row_total = diag + off;
    row_norm2_(i) = row_total;
    total += row_total;
  }
  return total;
}

Observables TiledLayer::evaluate(double gamma, double alpha, JacobianNorm method, const Attention& attention,
                                 Angles angles) {
  const Index n = Y_.rows(), d = Y_.cols();
  if (n == 0) throw std::logic_error("evaluate before set_tokens");
  if (method == JacobianNorm::hutchinson && probe_count_ == 0) throw std::logic_error("hutchinson without probes");
  if (method == JacobianNorm::exact && !quartic_ready_) fill_quartic_cache();
  mask_ = attention.mask;
  betas_.resize(n);
  if (per_position(attention.law)) {
    for (Index i = 0; i < n; ++i) betas_(i) = attention.row_scale(gamma, i, n);
  } else {
    betas_.setConstant(attention_scale(gamma, static_cast<double>(n), attention.law));
  }
  alpha_ = alpha;
  output_.resize(n, d);
  row_norm2_.setZero(n);
  if (method == JacobianNorm::hutchinson) jvp_.resize(n, probe_count_ * d);
  const Index blocks = block_count();
  block_sums_.assign(static_cast<size_t>(blocks), 0.0);
  block_pairs_.assign(static_cast<size_t>(blocks), 0);

  team_->run(blocks, [&](std::int64_t b, int member) {
    block_sums_[static_cast<size_t>(b)] = forward_block(b, scratch_[static_cast<size_t>(member)], method);
  });
  Observables result;
  for (const double partial : block_sums_) result.jacobian_norm2 += partial;  // in block order
  if (method == JacobianNorm::hutchinson) result.jacobian_norm2 /= static_cast<double>(probe_count_);

  bucket_lambda_.assign(static_cast<size_t>(position_buckets(n)), std::numeric_limits<double>::quiet_NaN());
  result.lambda = angles == Angles::input ? angle_ratio(nullptr) : std::numeric_limits<double>::quiet_NaN();
  return result;
}

}  // namespace attnsweep::model
