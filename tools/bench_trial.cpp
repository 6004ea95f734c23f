// Benchmark of one Monte-Carlo trial at the paper's size, single thread.
//
// Prints the time of a trial (forward + lambda + eta), the GFLOP/s of the model's
// arithmetic (forward 6 n^2 d, plus 6 n^2 d per Hutchinson probe), this machine's
// GEMM rate measured in the same run, and the ratio of the two; then the exact
// Jacobian norm against the same trial with Hutchinson probes.
//
//   attnsweep_bench [--n N] [--d D] [--probes M] [--repeats R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/layer.hpp"

using attnsweep::model::Matrix;
namespace mc = attnsweep::mc;

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
}  // namespace

int main(int argc, char** argv) {
  const long n = option(argc, argv, "--n", 1024), d = option(argc, argv, "--d", 512);
  const long probes = option(argc, argv, "--probes", 4);
  const int repeats = static_cast<int>(option(argc, argv, "--repeats", 5));

  // The machine's GEMM rate on the shapes the trial multiplies (n x d times d x n).
  Matrix P = Matrix::Random(n, d), Q = Matrix::Random(d, n), R(n, n);
  const double gemm_s = best_seconds(repeats, [&] { R.noalias() = P * Q; });
  const double gemm_gflops = 2.0 * n * n * d / gemm_s / 1e9;

  mc::CellParams cell;
  cell.rho = 0.5;
  cell.gamma = 2.0;
  cell.n = n;
  cell.d = d;
  cell.probes = probes;
  cell.seed = 2025;
  cell.jacobian = mc::JacobianMethod::hutchinson;
  volatile double sink = 0;
  // As a worker runs trials: one workspace kept across them (the first trial sizes it).
  mc::TrialWorkspace workspace;
  std::vector<std::string> errors;
  const auto trial = [&] { sink = sink + mc::run_trial_over_gamma(cell, {cell.gamma}, 0, errors, workspace)[0].eta; };
  const double cold_s = best_seconds(1, [&] { sink = sink + mc::run_trial(cell, 0).eta; });  // fresh memory
  const double hutch_s = best_seconds(repeats, trial);
  const double model_flops = 6.0 * n * n * d * (1 + probes);
  const double hutch_gflops = model_flops / hutch_s / 1e9;

  cell.jacobian = mc::JacobianMethod::exact;
  const double exact_s = best_seconds(repeats, trial);

  std::printf("attnsweep_bench: one trial, n = %ld, d = %ld, single thread, best of %d\n", n, d, repeats);
  std::printf("  GEMM (n x d)(d x n)           %8.2f ms  %7.1f GFLOP/s\n", gemm_s * 1e3, gemm_gflops);
  std::printf("  trial, hutchinson, %ld probes  %8.2f ms  %7.1f GFLOP/s  (%.0f%% of GEMM)\n", probes, hutch_s * 1e3,
              hutch_gflops, 100 * hutch_gflops / gemm_gflops);
  std::printf("  trial, exact eta              %8.2f ms  (%.2fx faster than %ld probes)\n", exact_s * 1e3,
              hutch_s / exact_s, probes);
  std::printf("  (a trial in fresh memory, as without a kept workspace: %.2f ms, %.2fx the steady state)\n",
              cold_s * 1e3, cold_s / hutch_s);
  std::printf("hutchinson_seconds=%.6f exact_seconds=%.6f gemm_gflops=%.3f model_gflops=%.3f\n", hutch_s, exact_s,
              gemm_gflops, hutch_gflops);
  return 0;
}
