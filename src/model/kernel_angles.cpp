// The tiled kernel's lambda pass (MODEL.md section 3): the angle ratio over the pairs i < j, by
// row blocks, and by position bucket of the later token.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "attnsweep/model/kernel.hpp"
#include "block_scratch.hpp"
#include "lanes.hpp"

namespace attnsweep::model {

using Eigen::Index;

// Lambda's pairs i < j with i in this block: the upper triangles of the input Gram matrix and G'
// only. The input is this layer's own (its Gram rows may be cached) or, for a stack of layers,
// the first layer's directions `reference`. Each pair is also summed into the position bucket of
// its later token j (this block's row of block_bucket_sums_), j's bucket by bucket.
double TiledLayer::angle_block(Index block, BlockScratch& s, long long& pairs, const Matrix* reference) {
  const Index n = Y_.rows(), B = rows_per_block();
  const Index first = block * B, rows = std::min(B, n - first), cols = n - first;
  const Matrix& before = reference ? *reference : Y_;
  const bool cached = !reference && first + rows <= gram_cache_.rows();
  if (!cached) {
    s.G.resize(B, n);
    s.G.topLeftCorner(rows, cols).noalias() = before.middleRows(first, rows) * before.bottomRows(cols).transpose();
  }
  const MatrixRef G =
      cached ? MatrixRef(gram_cache_.block(first, first, rows, cols)) : MatrixRef(s.G.topLeftCorner(rows, cols));
  s.S.resize(B, n);
  auto Pout = s.S.topLeftCorner(rows, cols);  // <p_i, p_j>: the output directions' parts across c
  Pout.noalias() = across_.middleRows(first, rows) * across_.bottomRows(cols).transpose();
  s.ratio.resize(n);
  const int buckets = position_buckets(n);
  double* bucket_sum = block_bucket_sums_.data() + block * buckets;
  long long* bucket_pairs = block_bucket_pairs_.data() + block * buckets;
  long long skipped[kMaxBucket + 1];
  double sum = 0;
  for (Index r = 0; r < rows; ++r) {
    const Index i = first + r, later = n - i - 1;  // the pairs (i, j) for j in (i, n)
    if (later == 0) continue;
    double* __restrict ratio = s.ratio.data();
    const double* __restrict cos_before = G.data() + r * G.outerStride() + (i + 1 - first);
    const double* __restrict p_dot = Pout.data() + r * Pout.outerStride() + (i + 1 - first);
    const double* __restrict gap = gap_.data() + i + 1;
    const double gap_i = gap_(i);
    // 1 - cos of the outputs from their parts across the centre c (angle_ratio):
    // 1 - <u_i, u_j> = e_i + e_j - e_i e_j - <p_i, p_j> with e = 1 - <u, c>. Its rounding is of
    // the order of e_i + e_j, not of 1 as for 1 - <u_i, u_j>: collapsed tokens, all close to c,
    // keep their digits without the difference form.
    auto after_angle = [&](Index t) { return gap_i + gap[t] - gap_i * gap[t] - p_dot[t]; };
    auto after_is_small = [&](double after, Index t) { return !(after > kSmallAngle * std::min(1.0, gap_i + gap[t])); };
    // Every pair in a vector loop (no branch, no early exit), marking with -1 the pairs for
    // which one of the two angles needs the difference form (one_minus_cosine's rule): a kept
    // ratio is positive, both its angles being above their thresholds. A second pass redoes
    // only the marked pairs.
    double marked = 0;  // a double count: one element width in the loop, so it vectorizes
    for (Index t = 0; t < later; ++t) {
      const double before_angle = 1.0 - cos_before[t], after = after_angle(t);
      const bool redo = !(before_angle > kSmallAngle) | after_is_small(after, t);
      ratio[t] = redo ? -1.0 : after / before_angle;
      marked += redo ? 1.0 : 0.0;
    }
    std::fill(skipped, skipped + buckets, 0LL);
    for (Index t = 0; marked > 0 && t < later; ++t) {
      if (ratio[t] >= 0) continue;
      const Index j = i + 1 + t;
      double before_angle = 1.0 - cos_before[t], after = after_angle(t);
      --marked;
      const Index d = before.cols();
      if (!(before_angle > kSmallAngle))
        before_angle = lanes::half_squared_distance(before.row(i).data(), before.row(j).data(), d);
      if (before_angle == 0) {  // identical input directions: no angle to compare
        ratio[t] = 0;
        ++skipped[position_bucket(j)];
        continue;
      }
      if (after_is_small(after, t))
        after = lanes::half_squared_distance(output_dirs_.row(i).data(), output_dirs_.row(j).data(), d);
      ratio[t] = after / before_angle;
    }
    for (int b = position_bucket(i + 1); b < buckets; ++b) {
      const Index from = std::max(i + 1, bucket_first(b)), to = bucket_end(b, n);
      const double part = lanes::sum(ratio + (from - i - 1), to - from);
      bucket_sum[b] += part;
      bucket_pairs[b] += (to - from) - skipped[b];
      sum += part;
    }
  }
  pairs = 0;
  for (int b = 0; b < buckets; ++b) pairs += bucket_pairs[b];
  return sum;
}

// The output directions u_i against a centre c (their normalised sum; any unit vector would do,
// one near the tokens keeps e_i small): gap_(i) = e_i = 1 - <u_i, c>, computed as
// |p_i|^2 / (1 + <u_i, c>) where that is accurate, and across_ row i = p_i = u_i - <u_i, c> c.
void TiledLayer::split_at_centre() {
  const Index n = output_dirs_.rows(), d = output_dirs_.cols();
  Eigen::RowVectorXd centre = Eigen::RowVectorXd::Zero(d);
  for (Index i = 0; i < n; ++i) centre += output_dirs_.row(i);  // row by row: the rows are contiguous
  const double length = centre.norm();
  if (length > 0 && std::isfinite(length)) {
    centre /= length;
  } else {
    centre = output_dirs_.row(0);  // the directions cancel out: any unit vector is correct
  }
  across_.resize(n, d);
  gap_.resize(n);
  for (Index i = 0; i < n; ++i) {  // one pass over each row while it is in the first-level cache
    const auto u = output_dirs_.row(i);
    const double along = u.dot(centre);
    auto p = across_.row(i);
    p = u - along * centre;
    gap_(i) = along > 0 ? lanes::sum_squares(p.data(), d) / (1 + along) : 1 - along;
  }
}

double TiledLayer::angle_ratio(const Matrix* reference) {
  const Index blocks = block_count();
  const int buckets = position_buckets(Y_.rows());
  output_dirs_ = inverse_row_norms(output_, "output token").asDiagonal() * output_;
  split_at_centre();
  block_bucket_sums_.assign(static_cast<size_t>(blocks * buckets), 0.0);
  block_bucket_pairs_.assign(static_cast<size_t>(blocks * buckets), 0);
  team_->run(blocks, [&](std::int64_t b, int member) {
    block_sums_[static_cast<size_t>(b)] =
        angle_block(b, scratch_[static_cast<size_t>(member)], block_pairs_[static_cast<size_t>(b)], reference);
  });
  double sum = 0;
  long long pairs = 0;
  for (Index b = 0; b < blocks; ++b) {
    sum += block_sums_[static_cast<size_t>(b)];
    pairs += block_pairs_[static_cast<size_t>(b)];
  }
  bucket_lambda_.assign(static_cast<size_t>(buckets), 0.0);
  for (int k = 0; k < buckets; ++k) {
    double bucket_sum = 0;
    long long bucket_pairs = 0;
    for (Index b = 0; b < blocks; ++b) {  // in block order: independent of the threads
      bucket_sum += block_bucket_sums_[static_cast<size_t>(b * buckets + k)];
      bucket_pairs += block_bucket_pairs_[static_cast<size_t>(b * buckets + k)];
    }
    bucket_lambda_[static_cast<size_t>(k)] =
        bucket_pairs > 0 ? bucket_sum / static_cast<double>(bucket_pairs) : std::numeric_limits<double>::quiet_NaN();
  }
  return pairs > 0 ? sum / static_cast<double>(pairs) : std::numeric_limits<double>::quiet_NaN();
}

double TiledLayer::angle_ratio_against(const Matrix& reference_directions) {
  if (reference_directions.rows() != output_.rows() || reference_directions.cols() != output_.cols()) {
    throw std::invalid_argument("angle_ratio_against: reference directions must be n x d like the output");
  }
  return angle_ratio(&reference_directions);
}

}  // namespace attnsweep::model
