// The sweep's state in memory: one record per cell, as arrays in flat-index order.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attnsweep/io/results_file.hpp"

namespace attnsweep::io {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kLevels = mc::kQuantileLevels.size();

bool ran(CellStatus status) { return status == CellStatus::done || status == CellStatus::undefined; }

std::int32_t defined_count(const std::vector<double>& values) {
  return static_cast<std::int32_t>(
      std::count_if(values.begin(), values.end(), [](double x) { return !std::isnan(x); }));
}
}  // namespace

mc::Quantiles ObservableRecord::no_quantiles() {
  mc::Quantiles q;
  q.fill(kNaN);
  return q;
}

bool CellRecord::has_trial_values() const {
  for (const ObservableRecord& o : observables)
    if (o.trial.empty() || o.trial.size() != static_cast<size_t>(trials)) return false;
  return true;
}

SweepState::SweepState(std::int64_t cells)
    : status(static_cast<size_t>(cells), 0),
      trials(static_cast<size_t>(cells), 0),
      attempts(static_cast<size_t>(cells), 0),
      seconds(static_cast<size_t>(cells), 0) {
  for (Observable& o : observables) {
    o.mean.assign(static_cast<size_t>(cells), kNaN);
    o.std_error.assign(static_cast<size_t>(cells), kNaN);
    o.defined.assign(static_cast<size_t>(cells), 0);
    o.quantile.assign(static_cast<size_t>(cells) * kLevels, kNaN);
  }
}

bool SweepState::keep_trials(std::int32_t per_cell) {
  if (per_cell < 1 || per_cell > kMaxTrialSlots || size() * per_cell > kMaxTrialValues) {
    trial_slots_ = 0;
    for (Observable& o : observables) o.trial.clear();
    return false;
  }
  if (trial_slots_ == per_cell) return true;
  trial_slots_ = per_cell;
  for (Observable& o : observables) o.trial.assign(static_cast<size_t>(size() * per_cell), kNaN);
  return true;
}

void SweepState::set_trial_values(std::int32_t per_cell, std::array<std::vector<double>, mc::kObservableCount> values) {
  trial_slots_ = per_cell;
  for (size_t k = 0; k < mc::kObservableCount; ++k) observables[k].trial = std::move(values[k]);
}

void SweepState::apply(const CellRecord& r) {
  const auto i = static_cast<size_t>(r.cell);
  const bool have_trials = r.has_trial_values();
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const ObservableRecord& in = r.observables[k];
    Observable& out = observables[k];
    if (trial_slots_ > 0) {
      const auto slots = static_cast<size_t>(trial_slots_);
      const size_t known = ran(r.status) ? std::min(slots, in.trial.size()) : 0;
      for (size_t t = 0; t < slots; ++t) out.trial.at(i * slots + t) = t < known ? in.trial[t] : kNaN;
    }
    // Quantiles and counts: the record's, else from its per-trial values (a journal record),
    // else unknown; a record of an engine that failed undefined trials had all of them defined.
    mc::Quantiles q = in.quantiles;
    std::int32_t defined = in.defined;
    if (!ran(r.status)) {
      q = ObservableRecord::no_quantiles();
      defined = 0;
    } else if (have_trials) {
      if (std::isnan(q[2])) q = mc::quantiles(in.trial);  // NaN (undefined) values left out
      if (defined < 0) defined = defined_count(in.trial);
    }
    if (ran(r.status) && defined < 0) defined = r.trials;
    out.defined[i] = defined;
    std::copy(q.begin(), q.end(), out.quantile.begin() + static_cast<std::ptrdiff_t>(i * kLevels));
    out.mean[i] = in.mean;
    out.std_error[i] = in.std_error;
  }
  status.at(i) = static_cast<std::uint8_t>(r.status);
  trials[i] = r.trials;
  attempts[i] = r.attempts;
  seconds[i] = r.seconds;
  if (r.error.empty())
    error.erase(r.cell);
  else
    error[r.cell] = r.error;
}

const std::string& SweepState::error_of(std::int64_t cell) const {
  static const std::string none;
  const auto it = error.find(cell);
  return it == error.end() ? none : it->second;
}

std::int64_t CellBox::size() const {
  std::int64_t cells = 1;
  for (std::int64_t c : count) cells *= c;
  return cells;
}

std::int64_t CellBox::flat_index(std::int64_t k, const std::vector<std::int64_t>& shape) const {
  std::int64_t flat = 0, stride = 1;
  for (size_t a = shape.size(); a-- > 0;) {
    flat += (start[a] + k % count[a]) * stride;
    k /= count[a];
    stride *= shape[a];
  }
  return flat;
}

CellRecord SweepState::record(std::int64_t cell) const {
  const auto i = static_cast<size_t>(cell);
  CellRecord r;
  r.cell = cell;
  r.status = static_cast<CellStatus>(status.at(i));
  r.trials = trials[i];
  r.seconds = seconds[i];
  r.attempts = attempts[i];
  r.error = error_of(cell);
  bool none_defined = true;
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const Observable& in = observables[k];
    ObservableRecord& out = r.observables[k];
    out.mean = in.mean[i];
    out.std_error = in.std_error[i];
    if (in.defined.size() == in.mean.size()) out.defined = in.defined[i];
    if (in.quantile.size() == in.mean.size() * kLevels)
      std::copy_n(in.quantile.begin() + static_cast<std::ptrdiff_t>(i * kLevels), kLevels, out.quantiles.begin());
    none_defined = none_defined && out.defined == 0;
  }
  if (trial_slots_ > 0 && ran(r.status)) {
    const auto slots = static_cast<size_t>(trial_slots_);
    const size_t count = std::min(slots, static_cast<size_t>(std::max(0, trials[i])));
    // Known unless every value is NaN (a file without per-trial values) and the counts do not
    // say that every trial was undefined.
    bool known = none_defined;
    for (size_t t = 0; t < count && !known; ++t)
      for (const Observable& o : observables) known = known || !std::isnan(o.trial[i * slots + t]);
    if (count > 0 && known) {
      for (size_t k = 0; k < mc::kObservableCount; ++k) {
        const auto first = observables[k].trial.begin() + static_cast<std::ptrdiff_t>(i * slots);
        r.observables[k].trial.assign(first, first + static_cast<std::ptrdiff_t>(count));
      }
    }
  }
  return r;
}

std::int64_t SweepState::count(CellStatus s) const {
  std::int64_t c = 0;
  for (auto v : status) c += v == static_cast<std::uint8_t>(s);
  return c;
}

}  // namespace attnsweep::io
