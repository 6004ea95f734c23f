// Per-trial observations of one cell, mergeable exactly.
//
// A cell's trials may be split across workers. Each part keeps its values keyed by
// trial index; merging is a disjoint union, and the summary is always computed over
// the values in trial order. So a cell split any way across any number of workers
// gives bitwise the same mean and standard error as the cell run in one piece.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "attnsweep/mc/observables.hpp"

namespace attnsweep::mc {

// The quantile levels every observable is summarised at: the median and the quartiles for the
// body, 5% and 95% for the tails (MODEL.md: eta at d = 2 and lambda with alpha != 0 at d <= 3 have
// no finite mean, so their mean +- standard error says nothing; the quantiles always exist).
inline constexpr std::array<double, 5> kQuantileLevels = {0.05, 0.25, 0.5, 0.75, 0.95};
using Quantiles = std::array<double, 5>;

// Quantiles of the values by linear interpolation between order statistics (the "type 7"
// definition: numpy's and R's default): q(p) = x[h] + (h - floor h)(x[h+1] - x[h]) at
// h = (count - 1) p on the sorted values. NaN values (undefined trials) are left out; NaN when
// none is left. Independent of the values' order.
Quantiles quantiles(std::vector<double> values);

// A trial value of NaN is undefined by the observable's definition (mc/trial.cpp decides): the
// statistics are over the defined values, and `count` says how many there are.
struct Summary {
  long count = 0;  // trials on which the observable is defined
  double mean = 0;
  double std_error = 0;   // sample standard deviation / sqrt(count); NaN when count < 2
  Quantiles quantiles{};  // at kQuantileLevels
};

// Whether a cell's trials of an observable are heavy-tailed in a way that makes its mean (and
// standard error) misleading: (1) the sample standard deviation (std_error sqrt(count)) exceeds
// kHeavyTailRatio times the interquartile scale (q75 - q25) / 1.349 (both are the standard
// deviation for normal trials), and (2) the mean lies farther than kHeavyTailShift times
// max(|median|, q75 - q25) from the median (a tail that moves the mean; a skewed spread of 1e-9
// around lambda = 1 does not). Decided on kHeavyTailMinTrials defined trials or more (fewer:
// false). Simulated by tools/heavy_tail_rule.py (20000 cells each): on normal trials it flags
// 2.2% of cells at 8 trials, 0.2% at 16, none at 32; on a variable distributed like eta at d = 2
// (1/|x|^2 of a 2-D gaussian, infinite mean) 41% at 8, 60% at 16, 76% at 32, 91% at 64: a flag is
// strong evidence, its absence with few trials is not (docs/guide.md, "Heavy tails").
// The summary of values in trial order (NaN: undefined), as CellSamples::summary computes it.
Summary summarize(const std::vector<double>& values);

inline constexpr double kHeavyTailRatio = 2.5;
inline constexpr double kHeavyTailShift = 0.05;
inline constexpr long kHeavyTailMinTrials = 8;
bool heavy_tailed(double mean, double std_error, long count, const Quantiles& q);

class CellSamples {
 public:
  // Throws std::logic_error if the trial is already present.
  void add(std::uint64_t trial, TrialResult result);
  // Adds the trial unless present (trial values are deterministic, so a copy is the same
  // value); returns whether it was added.
  bool add_if_absent(std::uint64_t trial, TrialResult result);
  // Throws std::logic_error if the two share a trial.
  void merge(const CellSamples& other);

  long size() const { return static_cast<long>(by_trial_.size()); }
  bool contains(std::uint64_t trial) const;
  // (trial, values) pairs in ascending trial order.
  const std::vector<std::pair<std::uint64_t, TrialResult>>& by_trial() const { return by_trial_; }

  // The summary of observable k (kObservables' order) over the trials, in trial order. With
  // fixed tokens (the same in every trial: the simplex) a one-trial cell's eta takes its
  // standard error from the probes (kEtaProbeStderr); with drawn tokens it stays NaN, as one
  // trial says nothing of the token-to-token spread.
  enum class Tokens { drawn, fixed };
  Summary summary(std::size_t k, Tokens tokens = Tokens::drawn) const;

 private:
  // A sorted vector, not a map: trials arrive almost always in ascending order (an append),
  // and 16 bytes of data should not cost a 64-byte tree node.
  std::vector<std::pair<std::uint64_t, TrialResult>> by_trial_;
};

}  // namespace attnsweep::mc
