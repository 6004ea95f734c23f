// Benchmark of one Monte-Carlo trial (forward + lambda + eta), the tiled kernel against the dense
// reference (version 0.1's kernel) and against this machine's GEMM, measured in the same run.
//
//   attnsweep_bench [--n N] [--d D] [--probes M] [--repeats R] [--threads T] [--causal] [--block-rows B]
//       one size: GEMM rate, tiled and dense trials (Hutchinson and exact), their ratios; with
//       --causal also the tiled trials under the causal mask against the full ones.
//   attnsweep_bench --scaling [--max-n N] [--csv FILE]
//       time and peak RSS of one Hutchinson trial (1 probe) for n = 1024 ... N at d = 64 and 512:
//       dense where it fits, tiled with 1 and 2 threads. Each measurement runs in a child process,
//       so its peak RSS (from wait4) is its own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/dense.hpp"
#include "attnsweep/model/kernel.hpp"

using attnsweep::model::JacobianNorm;
using attnsweep::model::Matrix;
namespace mc = attnsweep::mc;
namespace model = attnsweep::model;

namespace {
template <class F>
double best_seconds(int repeats, F&& body) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

long option(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  return fallback;
}
const char* text_option(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}
bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

volatile double sink = 0;

// The trial's inputs as a sweep draws them.
struct Inputs {
  Matrix X, V;
  Inputs(long n, long d, long probes) {
    mc::RandomStream tokens(2025, mc::stream_id(d, n), 0, mc::Purpose::tokens);
    X = mc::gaussian_tokens(n, d, 0.5, tokens);
    mc::RandomStream draws(2025, mc::stream_id(d, n), 0, mc::Purpose::probes);
    V = mc::rademacher_probes(n, d, probes, draws);
  }
};

// One trial with the dense reference kernel (normalise, forward, lambda, eta), its scratch kept.
struct DenseTrial {
  model::dense::NormalizedTokens tokens;
  model::dense::ForwardPass pass;
  model::dense::Scratch scratch;
  void run(const Inputs& in, JacobianNorm method) {
    model::dense::normalize(in.X, tokens);
    model::dense::forward(tokens, in.X, 2.0, 0.0, pass);
    sink = sink + model::dense::angle_ratio(pass, scratch);
    sink = sink + (method == JacobianNorm::exact ? model::dense::jacobian_norm2_exact(pass, scratch)
                                                 : model::dense::jacobian_norm2_hutchinson(pass, in.V, scratch));
  }
};

// The same trial with the tiled kernel.
struct TiledTrial {
  model::TiledLayer layer;
  TiledTrial(int threads, std::size_t cache_bytes, long block_rows = 0) : layer(threads) {
    layer.set_cache_bytes(cache_bytes);
    layer.set_block_rows(block_rows);  // 0: the kernel's own choice
  }
  void run(const Inputs& in, JacobianNorm method, model::Mask mask = model::Mask::none) {
    layer.set_tokens(in.X);
    if (method == JacobianNorm::hutchinson) layer.set_probes(in.V);
    const auto observed = layer.evaluate(2.0, 0.0, method, {model::ScalingLaw::log, mask});
    sink = sink + observed.lambda + observed.jacobian_norm2;
  }
  // A draw group as a sweep computes it: one draw's caches, then `gammas` evaluations.
  void run_group(const Inputs& in, long gammas) {
    layer.set_tokens(in.X);
    layer.set_probes(in.V);
    for (long g = 0; g < gammas; ++g) {
      const auto observed = layer.evaluate(1.0 + 0.5 * static_cast<double>(g), 0.0, JacobianNorm::hutchinson);
      sink = sink + observed.lambda + observed.jacobian_norm2;
    }
  }
};

int one_size(int argc, char** argv) {
  const long n = option(argc, argv, "--n", 1024), d = option(argc, argv, "--d", 512);
  const long probes = option(argc, argv, "--probes", 4);
  const int repeats = static_cast<int>(option(argc, argv, "--repeats", 5));
  const int threads = static_cast<int>(option(argc, argv, "--threads", 1));
  // Gammas of one draw for the draw-group line (a sweep evaluates every gamma of a draw together).
  const long gammas = option(argc, argv, "--gammas", 1);
  // The kernel's cache a trial may use (mc.cache-mb; 256 MiB by default).
  const auto cache = static_cast<std::size_t>(option(argc, argv, "--cache-mb", model::kKernelCacheBytes >> 20)) << 20;

  // The machine's GEMM rate on the shapes the trial multiplies (n x d times d x n).
  Matrix P = Matrix::Random(n, d), Q = Matrix::Random(d, n), R(n, n);
  const double gemm_s = best_seconds(repeats, [&] { R.noalias() = P * Q; });
  const double gemm_gflops = 2.0 * n * n * d / gemm_s / 1e9;

  const Inputs in(n, d, probes);
  // Rows per block (0: the kernel's own choice, kernel_block_rows), to measure another blocking.
  const long block_rows = option(argc, argv, "--block-rows", 0);
  TiledTrial tiled(threads, cache, block_rows);
  DenseTrial dense;
  // Interleaved, best of each: this VM's speed drifts within a run, and a drift must not favour
  // whichever kernel happens to be timed first.
  double hutch_s = 1e300, dense_hutch_s = 1e300, exact_s = 1e300, dense_exact_s = 1e300, group_s = 1e300;
  double causal_hutch_s = 1e300, causal_exact_s = 1e300;
  const bool causal = flag(argc, argv, "--causal");
  // One untimed trial of each method first: the first call sizes the kernel's scratch, which
  // would otherwise be charged to whichever variant is timed first (visible at --repeats 1).
  tiled.run(in, JacobianNorm::hutchinson);
  tiled.run(in, JacobianNorm::exact);
  for (int r = 0; r < repeats; ++r) {
    if (causal) {
      causal_hutch_s = std::min(causal_hutch_s,
                                best_seconds(1, [&] { tiled.run(in, JacobianNorm::hutchinson, model::Mask::causal); }));
      causal_exact_s =
          std::min(causal_exact_s, best_seconds(1, [&] { tiled.run(in, JacobianNorm::exact, model::Mask::causal); }));
    }
    if (gammas > 1) group_s = std::min(group_s, best_seconds(1, [&] { tiled.run_group(in, gammas); }));
    hutch_s = std::min(hutch_s, best_seconds(1, [&] { tiled.run(in, JacobianNorm::hutchinson); }));
    dense_hutch_s = std::min(dense_hutch_s, best_seconds(1, [&] { dense.run(in, JacobianNorm::hutchinson); }));
    exact_s = std::min(exact_s, best_seconds(1, [&] { tiled.run(in, JacobianNorm::exact); }));
    dense_exact_s = std::min(dense_exact_s, best_seconds(1, [&] { dense.run(in, JacobianNorm::exact); }));
  }
  // The arithmetic of the trial as the dense kernel does it (6 n^2 d forward + lambda, 6 n^2 d a
  // probe): the useful work, the same yardstick for both kernels.
  const double useful = 6.0 * n * n * d * (1 + probes);
  const auto cost = model::kernel_cost(n, d, probes, JacobianNorm::hutchinson, threads, cache);
  const double tiled_flops = cost.flops_per_gamma + cost.flops_per_draw;

  std::printf(
      "attnsweep_bench: one trial, n = %ld, d = %ld, %d thread(s) and %zu MiB of cache for the tiled kernel, "
      "best of %d\n",
      n, d, threads, cache >> 20, repeats);
  std::printf("  GEMM (n x d)(d x n), 1 thread           %8.2f ms  %6.1f GFLOP/s\n", gemm_s * 1e3, gemm_gflops);
  std::printf("  tiled, hutchinson, %ld probes            %8.2f ms  %6.1f GFLOP/s useful (%.0f%% of GEMM), %.1f done\n",
              probes, hutch_s * 1e3, useful / hutch_s / 1e9, 100 * useful / hutch_s / 1e9 / gemm_gflops,
              tiled_flops / hutch_s / 1e9);
  if (gammas > 1)
    std::printf("  tiled, hutchinson, a draw of %ld gammas %8.2f ms  (%.2f ms a gamma with the draw's share)\n", gammas,
                group_s * 1e3, group_s * 1e3 / static_cast<double>(gammas));
  std::printf("  dense, hutchinson, %ld probes            %8.2f ms  %6.1f GFLOP/s (%.0f%% of GEMM)\n", probes,
              dense_hutch_s * 1e3, useful / dense_hutch_s / 1e9, 100 * useful / dense_hutch_s / 1e9 / gemm_gflops);
  std::printf("  tiled, exact eta                       %8.2f ms\n", exact_s * 1e3);
  std::printf("  dense, exact eta                       %8.2f ms\n", dense_exact_s * 1e3);
  std::printf("  tiled / dense time: hutchinson %.2f, exact %.2f\n", hutch_s / dense_hutch_s, exact_s / dense_exact_s);
  if (causal) {
    // The flop model's causal trial against its full one (lambda's pairs are not masked).
    const auto masked = model::kernel_cost(n, d, probes, JacobianNorm::hutchinson, threads, cache, model::Mask::causal);
    std::printf("  tiled, hutchinson, causal mask         %8.2f ms  (%.2f of the full trial; flop model %.2f)\n",
                causal_hutch_s * 1e3, causal_hutch_s / hutch_s,
                (masked.flops_per_gamma + masked.flops_per_draw) / tiled_flops);
    std::printf("  tiled, exact eta, causal mask          %8.2f ms  (%.2f of the full trial)\n", causal_exact_s * 1e3,
                causal_exact_s / exact_s);
  }
  std::printf(
      "hutchinson_seconds=%.6f exact_seconds=%.6f dense_hutchinson_seconds=%.6f dense_exact_seconds=%.6f "
      "gemm_gflops=%.3f model_gflops=%.3f\n",
      hutch_s, exact_s, dense_hutch_s, dense_exact_s, gemm_gflops, useful / hutch_s / 1e9);
  return 0;
}

// Runs `body` in a child process; returns its seconds (written through a pipe) and peak RSS.
struct Measured {
  double seconds = -1, peak_gib = -1;
};
template <class F>
Measured in_child(F&& body) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const double s = body();
    if (write(fds[1], &s, sizeof s) != sizeof s) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  Measured m;
  if (read(fds[0], &m.seconds, sizeof m.seconds) != sizeof m.seconds) m.seconds = -1;
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  m.peak_gib = static_cast<double>(usage.ru_maxrss) / (1 << 20);  // ru_maxrss is in KiB
  return m;
}

int scaling(int argc, char** argv) {
  const long max_n = option(argc, argv, "--max-n", 65536);
  const long max_n_d512 = option(argc, argv, "--max-n-d512", 16384);
  const long max_dense_n = option(argc, argv, "--max-dense-n", 16384);
  const char* csv_path = text_option(argc, argv, "--csv", "bench_scaling.csv");
  std::FILE* csv = std::fopen(csv_path, "w");
  if (!csv) {
    std::fprintf(stderr, "attnsweep_bench: cannot write %s\n", csv_path);
    return 2;
  }
  std::fprintf(csv, "kernel,threads,n,d,seconds,peak_rss_gib,gflops\n");
  // GEMM rate at d = 64 and 512, one thread, for the ratios.
  std::printf("attnsweep_bench --scaling: one Hutchinson trial (1 probe), gaussian rho 0.5, gamma 2\n");
  std::printf("%6s %5s %-6s %8s %10s %10s %8s\n", "d", "n", "kernel", "threads", "seconds", "peak GiB", "GFLOP/s");
  for (const long d : {64L, 512L}) {
    for (long n = 1024; n <= (d == 64 ? max_n : max_n_d512); n *= 2) {
      const double useful = 6.0 * n * n * d * 2;  // forward + lambda + one probe, as the dense kernel counts
      const int repeats = n <= 4096 ? 3 : 1;
      auto report = [&](const char* kernel, int threads, const Measured& m) {
        const double gflops = m.seconds > 0 ? useful / m.seconds / 1e9 : 0;
        std::printf("%6ld %5ld %-6s %8d %10.3f %10.3f %8.1f\n", d, n, kernel, threads, m.seconds, m.peak_gib, gflops);
        std::fprintf(csv, "%s,%d,%ld,%ld,%.6f,%.4f,%.3f\n", kernel, threads, n, d, m.seconds, m.peak_gib, gflops);
        std::fflush(stdout);
        std::fflush(csv);
      };
      if (n <= max_dense_n) {
        report("dense", 1, in_child([&] {
                 const Inputs in(n, d, 1);
                 DenseTrial trial;
                 return best_seconds(repeats, [&] { trial.run(in, JacobianNorm::hutchinson); });
               }));
      }
      for (int threads : {1, 2}) {
        report("tiled", threads, in_child([&] {
                 const Inputs in(n, d, 1);
                 TiledTrial trial(threads, model::kKernelCacheBytes);
                 return best_seconds(repeats, [&] { trial.run(in, JacobianNorm::hutchinson); });
               }));
      }
    }
  }
  std::fclose(csv);
  std::printf("wrote %s\n", csv_path);
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return flag(argc, argv, "--scaling") ? scaling(argc, argv) : one_size(argc, argv); }
