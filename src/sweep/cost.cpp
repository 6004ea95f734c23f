#include "attnsweep/sweep/cost.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/tokens.hpp"

namespace attnsweep::sweep {

namespace {
// Hutchinson draws m probes of n x d random signs; the exact method none.
double probe_count(const mc::CellParams& cell) {
  return cell.jacobian == mc::JacobianMethod::hutchinson ? static_cast<double>(cell.probes) : 0.0;
}

// The median seconds of `repeats` calls of run(r) for r = 1..repeats, after one untimed run(0):
// a worker reuses its workspace, so a size's first call (allocations, page faults) is not what a
// sweep pays; the median is stable against one slow repeat on a shared machine.
template <class Run>
double median_seconds(int repeats, Run run) {
  run(0);
  std::vector<double> times;
  for (int r = 1; r <= std::max(1, repeats); ++r) {
    const auto start = std::chrono::steady_clock::now();
    run(static_cast<std::uint64_t>(r));
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

// The draws (a trial's tokens and probes, once per draw group), timed alone: a tenth of a d 512
// exact trial here, and what a single-gamma check cell pays on top of its products.
void calibrate_draws(CostModel& cost) {
  constexpr long kDrawN = 512, kDrawD = 256, kDrawProbes = 4;
  attnsweep::model::Matrix drawn;
  const double tokens = median_seconds(5, [&](std::uint64_t r) {
    mc::RandomStream stream(1, 0, r, mc::Purpose::tokens);
    mc::gaussian_tokens(kDrawN, kDrawD, 0.5, stream, drawn);
  });
  const double signs = median_seconds(5, [&](std::uint64_t r) {
    mc::RandomStream stream(1, 0, r, mc::Purpose::probes);
    mc::rademacher_probes(kDrawN, kDrawD, kDrawProbes, stream, drawn);
  });
  cost.seconds_per_entry = tokens / (kDrawN * kDrawD);
  cost.seconds_per_sign = signs / (kDrawN * kDrawD * kDrawProbes);
}
}  // namespace

double CostModel::draw_seconds(const mc::CellParams& cell) const {
  const double entries = static_cast<double>(cell.n) * static_cast<double>(cell.d);
  return seconds_per_entry * entries + seconds_per_sign * entries * probe_count(cell);
}

double CostModel::trial_seconds(const mc::CellParams& cell) const {
  const double n = static_cast<double>(cell.n);
  const double passes = cell.jacobian == mc::JacobianMethod::hutchinson ? 1 + probe_count(cell) : 2.0;
  return mc::trial_flops(cell) / flops_per_second + seconds_per_pair * n * n * passes + draw_seconds(cell);
}

double CostModel::group_trial_seconds(const mc::CellParams& cell, long gammas) const {
  const double shared = mc::draw_flops(cell) / flops_per_second + draw_seconds(cell);
  const double per_gamma = trial_seconds(cell) - shared;
  return shared + static_cast<double>(std::max(1L, gammas)) * per_gamma;
}

double measure_trial_seconds(const mc::CellParams& cell, int repeats) {
  mc::TrialWorkspace workspace;
  std::vector<std::string> errors;
  const std::vector<double> gammas{cell.gamma};
  return median_seconds(repeats,
                        [&](std::uint64_t r) { (void)mc::run_trial_over_gamma(cell, gammas, r, errors, workspace); });
}

CostModel CostModel::calibrate() {
  CostModel model;
  calibrate_draws(model);
  mc::CellParams cell;
  cell.rho = 0.5;
  cell.gamma = 2;
  cell.seed = 1;
  cell.jacobian = mc::JacobianMethod::exact;
  // Small d: dominated by the n^2 loops.
  cell.n = 512;
  cell.d = 2;
  const double pair_seconds = measure_trial_seconds(cell);
  model.seconds_per_pair = pair_seconds / (2.0 * 512 * 512);
  // Large d: dominated by the matrix products.
  cell.d = 256;
  const double gemm_seconds = measure_trial_seconds(cell);
  const double rest =
      std::max(gemm_seconds - model.seconds_per_pair * 2.0 * 512 * 512 - model.draw_seconds(cell), 0.2 * gemm_seconds);
  model.flops_per_second = mc::trial_flops(cell) / rest;
  return model;
}

CostModel CostModel::scaled(double factor) const {
  CostModel model = *this;
  model.flops_per_second /= factor;
  model.seconds_per_pair *= factor;
  model.seconds_per_entry *= factor;
  model.seconds_per_sign *= factor;
  return model;
}

double available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    double kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %lf kB", &kib) == 1) return kib * 1024;
  }
  return static_cast<double>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

void check_fits_in_memory(const mc::CellParams& cell) {
  const double need = mc::trial_memory_bytes(cell), have = available_memory_bytes();
  if (need > 0.9 * have) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "n = %ld, d = %ld needs %.1f GiB per trial, this machine has %.1f GiB available",
                  cell.n, cell.d, need / (1 << 30), have / (1 << 30));
    throw io::InputError(msg);
  }
}

double master_memory_bytes(std::int64_t grid_cells, long trials) {
  // Per cell: status 1 + trials 4 + attempts 4 + seconds 8 bytes, and per observable its mean,
  // standard error, defined count and five quantiles (60 bytes); plus the per-trial values (a
  // double per observable a trial) where they are kept; twice (state + snapshot copy).
  const double cells = static_cast<double>(grid_cells), observables = static_cast<double>(mc::kObservableCount);
  const bool per_trial = trials <= io::kMaxTrialSlots && cells * static_cast<double>(trials) <= io::kMaxTrialValues;
  return 2.0 * ((17.0 + 60.0 * observables) * cells +
                (per_trial ? 8.0 * observables * cells * static_cast<double>(trials) : 0.0));
}

double critical_master_memory_bytes(std::int64_t searches, long evaluations, long trials) {
  // 3 copies of 8 bytes, plus a std::map node (about 64 bytes) per replayed trial.
  constexpr double kBytesPerTrialValue = 3 * 8.0 + 64.0;
  return static_cast<double>(searches) * static_cast<double>(evaluations) * static_cast<double>(trials) *
         kBytesPerTrialValue;
}

double node_memory_bytes(int computing_slots, double trial_bytes, double master_bytes) {
  return computing_slots * trial_bytes + master_bytes;
}

}  // namespace attnsweep::sweep
