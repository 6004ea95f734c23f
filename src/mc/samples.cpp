#include "attnsweep/mc/samples.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace attnsweep::mc {

void CellSamples::add(std::uint64_t trial, TrialResult result) {
  if (!add_if_absent(trial, result)) throw std::logic_error("trial " + std::to_string(trial) + " recorded twice");
}

bool CellSamples::add_if_absent(std::uint64_t trial, TrialResult result) {
  if (by_trial_.empty() || by_trial_.back().first < trial) {
    by_trial_.emplace_back(trial, result);
    return true;
  }
  const auto at = std::lower_bound(by_trial_.begin(), by_trial_.end(), trial,
                                   [](const auto& entry, std::uint64_t t) { return entry.first < t; });
  if (at != by_trial_.end() && at->first == trial) return false;
  by_trial_.emplace(at, trial, result);
  return true;
}

bool CellSamples::contains(std::uint64_t trial) const {
  const auto at = std::lower_bound(by_trial_.begin(), by_trial_.end(), trial,
                                   [](const auto& entry, std::uint64_t t) { return entry.first < t; });
  return at != by_trial_.end() && at->first == trial;
}

void CellSamples::merge(const CellSamples& other) {
  for (const auto& [trial, result] : other.by_trial_) add(trial, result);
}

Quantiles quantiles(std::vector<double> values) {
  // NaN values are undefined trials: left out.
  values.erase(std::remove_if(values.begin(), values.end(), [](double x) { return std::isnan(x); }), values.end());
  Quantiles q;
  if (values.empty()) {
    q.fill(std::numeric_limits<double>::quiet_NaN());
    return q;
  }
  std::sort(values.begin(), values.end());
  const double last = static_cast<double>(values.size() - 1);
  for (size_t k = 0; k < q.size(); ++k) {
    const double h = last * kQuantileLevels[k];
    const auto below = static_cast<size_t>(std::floor(h));
    const size_t above = std::min(below + 1, values.size() - 1);
    q[k] = values[below] + (h - static_cast<double>(below)) * (values[above] - values[below]);
  }
  return q;
}

namespace {
// Welford's update in trial order: stable, and fixed order means fixed rounding.
template <class Items, class Field>
Summary summarize(const Items& by_trial, Field field) {
  Summary s;
  double m2 = 0;
  for (const auto& item : by_trial) {
    const double x = field(item);
    if (std::isnan(x)) continue;  // undefined in this trial: the statistics are over the defined ones
    ++s.count;
    const double delta = x - s.mean;
    s.mean += delta / static_cast<double>(s.count);
    m2 += delta * (x - s.mean);
  }
  if (s.count == 0) s.mean = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> values;
  values.reserve(by_trial.size());
  for (const auto& item : by_trial) values.push_back(field(item));
  s.quantiles = quantiles(std::move(values));
  s.std_error = s.count >= 2 ? std::sqrt(m2 / static_cast<double>(s.count - 1) / static_cast<double>(s.count))
                             : std::numeric_limits<double>::quiet_NaN();
  return s;
}
}  // namespace

Summary summarize(const std::vector<double>& values) {
  return summarize(values, [](double x) { return x; });
}

bool heavy_tailed(double mean, double std_error, long count, const Quantiles& q) {
  if (count < kHeavyTailMinTrials || !std::isfinite(std_error) || !std::isfinite(mean)) return false;
  const double sd = std_error * std::sqrt(static_cast<double>(count));
  const double iqr = q[3] - q[1];
  const double robust_sd = iqr / 1.349;  // the interquartile range of a normal is 1.349 sd
  const double shift = std::abs(mean - q[2]);
  return sd > kHeavyTailRatio * robust_sd && shift > kHeavyTailShift * std::max(std::abs(q[2]), iqr);
}

Summary CellSamples::summary(std::size_t k, Tokens tokens) const {
  Summary s = summarize(by_trial_, [k](const std::pair<std::uint64_t, TrialResult>& entry) { return entry.second[k]; });
  // One trial on fixed tokens: the probes are eta's only randomness, and their spread within the
  // trial is its standard error (NaN for the exact method, which has no error).
  if (k == kEta && tokens == Tokens::fixed && s.count == 1) {
    for (const auto& [trial, result] : by_trial_)
      if (!std::isnan(result[kEta])) s.std_error = result[kEtaProbeStderr];
  }
  return s;
}

}  // namespace attnsweep::mc
