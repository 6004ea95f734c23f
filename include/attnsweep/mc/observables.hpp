// The observables of a trial, declared once. Every layer that stores or moves per-trial values
// (the samples and their summaries, the messages between ranks, the journal, the results file,
// `query`, `cell`) loops over this table, so a new observable is an entry here plus the kernel
// code that measures it (mc/trial.cpp). The order is the order of every record and column.
#pragma once

#include <array>
#include <cstddef>

namespace attnsweep::mc {

struct ObservableInfo {
  const char* name;            // "lambda": the file's lambda_mean, query's lambda_q05, ...
  const char* long_name;       // what it is, for the file's long_name and messages
  const char* units;           // CF units ("1": dimensionless)
  const char* undefined_when;  // when a trial leaves it undefined (NaN), for messages
  // A cell whose trials leave this observable undefined in every trial has the status
  // "undefined" (the physics observables); false for what describes an estimator (its noise).
  bool decides_status;
  // The file schema that first stores it (an older file reads it as unknown: NaN).
  int since_schema;
};

inline constexpr std::size_t kObservableCount = 3;
inline constexpr std::size_t kLambda = 0;  // MODEL.md section 3: the angle ratio
inline constexpr std::size_t kEta = 1;     // MODEL.md section 4: the normalised Jacobian norm
// The standard error of a trial's Hutchinson eta over its m probes, sd(e_1..e_m) / sqrt(m) with
// e_k = |J v_k|^2 / (n d) (MODEL.md section 4): the error bar of a one-trial cell whose tokens are
// fixed (the simplex), where the probes are the only randomness.
inline constexpr std::size_t kEtaProbeStderr = 2;

inline constexpr std::array<ObservableInfo, kObservableCount> kObservables = {{
    {"lambda", "angle ratio lambda", "1",
     "no pair of distinct input directions (or a position bucket n tokens do not reach)", true, 1},
    {"eta", "normalised Jacobian norm eta = ||J||_F^2 / (n d)", "1",
     "a zero-length output token (or a position bucket n tokens do not reach)", true, 1},
    {"eta_probe_stderr", "standard error of the trial's Hutchinson eta over its probes", "1",
     "the exact Jacobian (no probes), a single probe or an undefined eta", false, 4},
}};

// One trial's value of every observable (NaN: undefined in this trial).
using TrialResult = std::array<double, kObservableCount>;

// Where lambda is double precision's rounding, not a measurement (MODEL.md section 3): a pair's
// 1 - cos' of nearly equal outputs is |y'_i - y'_j|^2 / 2, whose unit vectors carry a rounding of
// about eps = 2^-53 per component, so below d eps^2 it is rounding; lambda divides it by the
// inputs' 1 - cos, 1 - rho on average. A collapsed stack's lambda lands here (0.8e-31 .. 5.6e-31
// at d = 64, rho = 0.5, against the floor's 1.6e-30: docs/results.md).
inline double lambda_rounding_floor(long d, double rho) {
  constexpr double eps = 0x1p-53;
  return static_cast<double>(d) * eps * eps / (1 - rho);
}
// Whether a cell's lambda is at that floor: its median over trials is (NaN: not known, false).
inline bool lambda_at_floor(double median, long d, double rho) { return median <= lambda_rounding_floor(d, rho); }

}  // namespace attnsweep::mc
