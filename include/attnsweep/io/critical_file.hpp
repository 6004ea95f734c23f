// The file of a critical-point search (`attnsweep critical`): per (rho, d, n) point the crossing
// gamma_c and its interval, and every evaluation's gamma and per-trial lambda. The search itself
// (sweep/critical.hpp) fills CriticalArrays; this layer only writes and identifies files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"

namespace attnsweep::io {

// Every array of the file, point by point in C order over (rho, d, n), or (rho, d, n, position)
// when P > 0 position buckets were searched; K evaluations of T trials at most per point (NaN
// where a point has fewer, and everywhere at a point without a search).
struct CriticalArrays {
  std::int64_t K = 1, T = 1, P = 0;
  std::vector<double> gamma_c, low, high, target, theory, spread, equivalent, gamma_c_median;
  std::vector<std::int32_t> evaluations, steps;
  std::vector<std::uint8_t> status;
  std::vector<std::string> errors;
  std::vector<double> eval_gamma, eval_mean, eval_stderr, eval_trial;
  std::vector<double> eval_quantile;         // K x mc::kQuantileLevels per point
  std::vector<std::string> status_meanings;  // the name of each status code, from 0
};

// Writes the file atomically (a reader sees the old or the new file, never a partial one).
void write_critical_file(const std::string& path, const SweepConfig& config, const CriticalArrays& arrays);

// The config hash as stored in a search's file (16 hex digits).
std::string critical_hash_text(std::uint64_t hash);

// Refuses (InputError) an existing `output` that is not the file of a critical search with this
// config hash.
void require_same_critical_search(const std::string& output, std::uint64_t config_hash);

}  // namespace attnsweep::io
