// How the tiled kernel is planned: block rows, cache budgets, the quartic route, and its cost
// model (kernel_cost), shared by the kernel and by the sweep's cost estimates.
#include "kernel_plan.hpp"

#include <algorithm>
#include <cmath>

#include "attnsweep/model/kernel.hpp"

namespace attnsweep::model {

using Eigen::Index;

namespace kernel_plan {

// Rows of an n-column matrix (times `copies`) that fit in `bytes`, in whole blocks.
Index cached_rows(Index n, Index copies, Index block, std::size_t bytes) {
  const Index rows = static_cast<Index>(bytes / (sizeof(double) * static_cast<std::size_t>(n * copies)));
  return std::min(n, rows / block * block);
}
std::size_t rows_bytes(Index rows, Index n, Index copies) {
  return sizeof(double) * static_cast<std::size_t>(rows * n * copies);
}

Index packed_width(Index d) { return d * (d + 1) / 2; }

// Columns of the quartic factor handled per GEMM: wide enough for GEMM speed, narrow enough
// that a thread's recomputed chunk (n x width) stays a few MB.
Index quartic_chunk_cols(Index n, Index width) {
  const Index cols = std::max<Index>(64, (Index{4} << 20) / (static_cast<Index>(sizeof(double)) * n));
  return std::min(width, cols);
}

// Columns of the quartic factor (of `width`) that fit in `bytes`, in whole chunks.
Index cached_quartic_cols(Index n, Index width, std::size_t bytes) {
  const Index chunk = quartic_chunk_cols(n, width);
  const Index cols = static_cast<Index>(bytes / (sizeof(double) * static_cast<std::size_t>(n)));
  return std::min(width, cols / chunk * chunk);
}

struct QuarticCost {
  double per_gamma = 0, per_draw = 0;
};
QuarticCost quartic_cost(QuarticRoute route, Index n_, Index d_, Index block, std::size_t bytes) {
  const double n = static_cast<double>(n_), d = static_cast<double>(d_);
  const double blocks = std::ceil(n / static_cast<double>(block));
  if (route == QuarticRoute::packed) {
    const Index width = packed_width(d_);
    const double cached = static_cast<double>(cached_quartic_cols(n_, width, bytes));
    // Recomputing a factor entry costs about what two multiply-adds of the GEMM do (it is a store).
    return {2 * n * n * static_cast<double>(width) + 4 * blocks * n * (static_cast<double>(width) - cached),
            2 * n * cached};
  }
  // Columns of G o G come free from the quartic cache or, as rows of G, from the Gram cache
  // (which the budget filled first); the rest are recomputed per block.
  const double gram_rows = static_cast<double>(cached_rows(n_, 1, block, kKernelCacheBytes));
  const double cached = std::max(static_cast<double>(cached_quartic_cols(n_, n_, bytes)), gram_rows);
  return {2 * n * n * n + blocks * 2 * n * d * (n - cached), 2 * n * d * cached};
}

QuarticRoute cheaper_route(Index n, Index d, Index block, std::size_t bytes) {
  const auto packed = quartic_cost(QuarticRoute::packed, n, d, block, bytes);
  const auto gram = quartic_cost(QuarticRoute::gram, n, d, block, bytes);
  return packed.per_gamma <= gram.per_gamma ? QuarticRoute::packed : QuarticRoute::gram;
}

// A block's products repack their shared operand (Y, the quartic factor) once per block, so
// larger blocks cost less; their scratch (about 4 B x n doubles a thread) bounds them.
constexpr double kBlockScratchBytes = 128.0 * (1 << 20);
constexpr Index kMinBlockRows = 128;

Index round_rows(double rows, Index low, Index high) {
  const Index r = static_cast<Index>(rows) / 64 * 64;
  return std::clamp(r, low, high);
}

}  // namespace kernel_plan

using namespace kernel_plan;

Index kernel_block_rows(Index n, Index d) {
  if (n <= kMinBlockRows) return n;
  const double by_memory = kBlockScratchBytes / (4.0 * sizeof(double) * static_cast<double>(n));
  // At least 8 blocks (threads need blocks to share); 128 to 512 rows.
  const Index base = std::min(n, round_rows(std::min(by_memory, static_cast<double>(n) / 8), kMinBlockRows, 512));
  // The exact method's G o G route recomputes (per block) the tiles of G o G the cache cannot
  // hold, 2 n^2 d per block: up to 1024 rows there, as long as there are 16 blocks.
  if (n <= 2048 || cheaper_route(n, d, base, kKernelCacheBytes) == QuarticRoute::packed) return base;
  return std::min(n, round_rows(std::min(by_memory, static_cast<double>(n) / 16), base, 1024));
}

QuarticRoute quartic_route(Index n, Index d) {
  const Index block = kernel_block_rows(n, d);
  const std::size_t left = kKernelCacheBytes - rows_bytes(cached_rows(n, 1, block, kKernelCacheBytes), n, 1);
  return cheaper_route(n, d, block, left);
}

double causal_share(Index n, Index d) {
  // Block k of B rows reads (k + 1) B columns: on average (n + B) / 2 of n.
  const double block = static_cast<double>(std::min(n, kernel_block_rows(n, d)));
  return (static_cast<double>(n) + block) / (2 * static_cast<double>(n));
}

KernelCost kernel_cost(Index n_, Index d_, Index probes_, JacobianNorm method, int threads, std::size_t cache_bytes,
                       Mask mask) {
  const double n = static_cast<double>(n_), d = static_cast<double>(d_), m = static_cast<double>(probes_);
  const Index block_ = kernel_block_rows(n_, d_);
  const double block = static_cast<double>(block_);
  // The cache is handed out as the kernel does: Gram rows, then the probes' Q rows, then the
  // quartic factor.
  std::size_t budget = cache_bytes;
  const Index gram_rows_ = cached_rows(n_, 1, block_, budget);
  budget -= rows_bytes(gram_rows_, n_, 1);
  const double gram_rows = static_cast<double>(gram_rows_);
  KernelCost cost;
  // Forward: the Gram rows not cached, A Y. Lambda: the upper triangles of G (where not cached)
  // and of G' (n^2 d each).
  const double lambda_flops = n * n * d + n * n * d * (1 - gram_rows / n);
  cost.flops_per_gamma = 2 * (n - gram_rows) * n * d + 2 * n * n * d;
  cost.flops_per_draw = 2 * gram_rows * n * d;
  // Per thread: Gram rows, softmax rows, the product rows, plus per method; per trial: X, Y, X',
  // its directions and their parts across the centre, Y and Y^T packed as right operands (7 n d)
  // and the caches.
  double thread_doubles = 3 * block * n + 2 * block * d;
  double trial_doubles = 7 * n * d + gram_rows * n;
  if (method == JacobianNorm::hutchinson) {
    const Index probe_rows_ = cached_rows(n_, probes_, block_, budget);
    const double q_rows = static_cast<double>(probe_rows_);
    // A probe: S = Y_B dy^T + dy_B Y^T (each 2 n^2 d, the part from cached Q rows free after a
    // fill of 2 q n d), then A dy and (A o S) Y (2 n^2 d each).
    cost.flops_per_gamma += m * (2 * (n - q_rows) * n * d + 2 * n * (n - q_rows) * d + 4 * n * n * d);
    cost.flops_per_draw += m * 2 * q_rows * n * d;
    thread_doubles += block * m * d;
    // V, dy, J V, dy packed twice (as dy and as each dy_k^T), Y^T beyond the Q cache packed; the Q cache.
    trial_doubles += 5 * n * m * d + (n - q_rows) * d + m * q_rows * n;
  } else if (method == JacobianNorm::exact) {
    const QuarticRoute route = cheaper_route(n_, d_, block_, budget);
    const auto quartic = quartic_cost(route, n_, d_, block_, budget);
    cost.flops_per_gamma += 4 * n * n * d + quartic.per_gamma;
    cost.flops_per_draw += quartic.per_draw;
    const Index width = route == QuarticRoute::packed ? packed_width(d_) : n_;
    const double chunk = static_cast<double>(quartic_chunk_cols(n_, width));
    thread_doubles += block * n + n * chunk + block * chunk + block * d;
    trial_doubles += n * static_cast<double>(cached_quartic_cols(n_, width, budget));
  }
  if (mask == Mask::causal) cost.flops_per_gamma *= causal_share(n_, d_);
  cost.flops_per_gamma += lambda_flops;
  cost.bytes = sizeof(double) * (trial_doubles + std::max(1, threads) * thread_doubles);
  return cost;
}

}  // namespace attnsweep::model
