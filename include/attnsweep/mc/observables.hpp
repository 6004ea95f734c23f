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
};

inline constexpr std::size_t kObservableCount = 2;
inline constexpr std::size_t kLambda = 0;  // MODEL.md section 3: the angle ratio
inline constexpr std::size_t kEta = 1;     // MODEL.md section 4: the normalised Jacobian norm

inline constexpr std::array<ObservableInfo, kObservableCount> kObservables = {{
    {"lambda", "angle ratio lambda", "1", "no pair of distinct input directions"},
    {"eta", "normalised Jacobian norm eta = ||J||_F^2 / (n d)", "1", "a zero-length output token"},
}};

// One trial's value of every observable (NaN: undefined in this trial).
using TrialResult = std::array<double, kObservableCount>;

}  // namespace attnsweep::mc
