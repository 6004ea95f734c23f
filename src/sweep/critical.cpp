#include "attnsweep/sweep/critical.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/samples.hpp"

namespace attnsweep::sweep {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Spreads at which the interval phase evaluates lambda around gamma_c (in units of the
// delta-method spread s): the bootstrap crossings lie within about +-2 s, and the points at
// +-4 s bracket the tails, so every resample's crossing is interpolated between close points.
constexpr double kIntervalSpreads[] = {-4, -2, 2, 4};
}  // namespace

const char* critical_status_name(CriticalStatus status) {
  switch (status) {
    case CriticalStatus::missing:
      return "missing";
    case CriticalStatus::done:
      return "done";
    case CriticalStatus::failed:
      return "failed";
    case CriticalStatus::below:
      return "below";
    case CriticalStatus::above:
      return "above";
    case CriticalStatus::absent:
      return "absent";
  }
  return "?";
}

double Evaluation::mean() const {
  double sum = 0;
  for (double v : lambda) sum += v;
  return sum / static_cast<double>(lambda.size());
}

double Evaluation::std_error() const {
  const double m = mean(), count = static_cast<double>(lambda.size());
  if (lambda.size() < 2) return kNaN;
  double squares = 0;
  for (double v : lambda) squares += (v - m) * (v - m);
  return std::sqrt(squares / (count - 1) / count);
}

long max_evaluations(const CriticalSettings& s) {
  const double width = s.gamma_high - s.gamma_low;
  const double lowest_centre = std::max(s.gamma_low, s.tolerance * width);
  const double steps = width > 0 && lowest_centre > 0 ? std::ceil(std::log2(width / (s.tolerance * lowest_centre))) : 0;
  return 2 + static_cast<long>(std::clamp(steps, 0.0, 1100.0)) + static_cast<long>(std::size(kIntervalSpreads));
}

CriticalSearch::CriticalSearch(const CriticalSettings& settings) : settings_(settings) {
  if (!(settings.gamma_low < settings.gamma_high) || !(settings.gamma_low >= 0) || !std::isfinite(settings.gamma_high))
    throw std::invalid_argument("critical search: the gamma range must be 0 <= low < high");
  if (!(settings.tolerance > 0) || settings.trials < 1 || settings.resamples < 1)
    throw std::invalid_argument("critical search: tolerance > 0, trials >= 1 and resamples >= 1 are needed");
  lo_ = settings.gamma_low;
  hi_ = settings.gamma_high;
  wanted_ = {lo_, hi_};
}

std::vector<double> CriticalSearch::wanted() const { return wanted_; }

const Evaluation* CriticalSearch::find(double gamma) const {
  for (const Evaluation& e : evaluations_)
    if (e.gamma == gamma) return &e;
  return nullptr;
}

void CriticalSearch::provide(double gamma, const std::vector<double>& lambda) {
  const auto at = std::find(wanted_.begin(), wanted_.end(), gamma);
  if (at == wanted_.end()) throw std::logic_error("critical search: a gamma that was not asked for");
  if (static_cast<long>(lambda.size()) != settings_.trials)
    throw std::logic_error("critical search: wrong trial count");
  Evaluation e;
  e.gamma = gamma;
  e.lambda = lambda;
  e.known = static_cast<long>(lambda.size());
  evaluations_.push_back(std::move(e));
  wanted_.erase(at);
  ++result_.evaluations;
  if (!std::isfinite(evaluations_.back().mean())) {
    fail("lambda is not finite at gamma = " + std::to_string(gamma));
    return;
  }
  if (wanted_.empty()) advance();
}

void CriticalSearch::fail(const std::string& error) {
  result_.status = CriticalStatus::failed;
  result_.error = error;
  wanted_.clear();
  phase_ = Phase::finished;
}

void CriticalSearch::advance() {
  const double target = settings_.target;
  if (phase_ == Phase::bracket) {
    const double f_lo = mean_at(lo_) - target, f_hi = mean_at(hi_) - target;
    if (f_lo == 0 || f_hi == 0) {
      // Exactly on the target at an end: that end is the crossing.
      result_.gamma_c = f_lo == 0 ? lo_ : hi_;
    } else if ((f_lo < 0) == (f_hi < 0)) {
      result_.status = f_lo < 0 ? CriticalStatus::below : CriticalStatus::above;
      phase_ = Phase::finished;
      return;
    }
    phase_ = Phase::bisect;
  }
  if (phase_ == Phase::bisect && std::isnan(result_.gamma_c)) {
    // The last midpoint narrows the bracket; keep the half whose ends differ in sign.
    if (!evaluations_.empty() && evaluations_.size() > 2) {
      const double mid = evaluations_.back().gamma;
      const double f_mid = evaluations_.back().mean() - target;
      if (f_mid == 0) {
        result_.gamma_c = mid;
      } else if ((f_mid < 0) == (mean_at(lo_) - target < 0)) {
        lo_ = mid;
      } else {
        hi_ = mid;
      }
    }
    if (std::isnan(result_.gamma_c)) {
      if (hi_ - lo_ > settings_.tolerance * 0.5 * (lo_ + hi_)) {
        wanted_ = {0.5 * (lo_ + hi_)};
        ++result_.bisection_steps;
        return;
      }
      const double f_lo = mean_at(lo_) - target, f_hi = mean_at(hi_) - target;
      result_.gamma_c = lo_ - f_lo * (hi_ - lo_) / (f_hi - f_lo);
    }
  }
  if (phase_ == Phase::bisect) {
    phase_ = Phase::interval;
    // The delta-method spread: the mean's standard error over the local slope. The slope comes
    // from the bracket (or, when the crossing was hit exactly, the nearest evaluations).
    std::vector<const Evaluation*> sorted;
    for (const Evaluation& e : evaluations_) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->gamma < b->gamma; });
    const auto right = std::upper_bound(sorted.begin(), sorted.end(), result_.gamma_c,
                                        [](double g, const Evaluation* e) { return g < e->gamma; });
    const Evaluation* a = right == sorted.begin() ? sorted.front() : *(right - 1);
    const Evaluation* b = right == sorted.end() ? sorted.back() : *right;
    if (a == b) b = right == sorted.end() ? *(sorted.end() - 2) : *(right + 1);
    const double slope = (b->mean() - a->mean()) / (b->gamma - a->gamma);
    const double se = 0.5 * (a->std_error() + b->std_error());
    result_.spread = std::abs(se / slope);
    if (!std::isfinite(result_.spread) || result_.spread == 0) {
      // One trial (no standard error) or a flat curve: no interval to resolve.
      result_.status = CriticalStatus::done;
      phase_ = Phase::finished;
      return;
    }
    for (double k : kIntervalSpreads) {
      const double g = std::clamp(result_.gamma_c + k * result_.spread, settings_.gamma_low, settings_.gamma_high);
      if (!find(g) && std::find(wanted_.begin(), wanted_.end(), g) == wanted_.end()) wanted_.push_back(g);
    }
    if (!wanted_.empty()) return;
  }
  if (phase_ == Phase::interval) finish_interval();
}

void CriticalSearch::finish_interval() {
  const auto [low, high] = bootstrap_interval(evaluations_, settings_.target, result_.gamma_c, settings_.resamples,
                                              settings_.confidence, settings_.seed);
  result_.low = low;
  result_.high = high;
  result_.status = CriticalStatus::done;
  phase_ = Phase::finished;
}

namespace {
std::vector<const Evaluation*> by_gamma(const std::vector<Evaluation>& evaluations) {
  std::vector<const Evaluation*> sorted;
  for (const Evaluation& e : evaluations) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->gamma < b->gamma; });
  return sorted;
}

// The crossing of zero by `offsets` (a curve minus the target at the sorted gammas) nearest to
// `centre`, by linear interpolation between neighbouring gammas; NaN when it does not cross.
double nearest_crossing(const std::vector<const Evaluation*>& sorted, const std::vector<double>& offsets,
                        double centre) {
  double best = kNaN;
  for (size_t k = 0; k + 1 < sorted.size(); ++k) {
    if ((offsets[k] < 0) == (offsets[k + 1] < 0) && offsets[k] != 0) continue;
    const double g0 = sorted[k]->gamma, g1 = sorted[k + 1]->gamma;
    const double crossing =
        offsets[k] == offsets[k + 1] ? g0 : g0 - offsets[k] * (g1 - g0) / (offsets[k + 1] - offsets[k]);
    if (std::isnan(best) || std::abs(crossing - centre) < std::abs(best - centre)) best = crossing;
  }
  return best;
}
}  // namespace

double median_crossing(const std::vector<Evaluation>& evaluations, double target, double centre) {
  const std::vector<const Evaluation*> sorted = by_gamma(evaluations);
  std::vector<double> offsets;
  for (const Evaluation* e : sorted) offsets.push_back(mc::quantiles(e->lambda)[2] - target);
  return sorted.size() < 2 ? kNaN : nearest_crossing(sorted, offsets, centre);
}

std::pair<double, double> bootstrap_interval(const std::vector<Evaluation>& evaluations, double target, double centre,
                                             long resamples, double confidence, std::uint64_t seed) {
  const std::vector<const Evaluation*> sorted = by_gamma(evaluations);
  if (sorted.size() < 2) return {kNaN, kNaN};
  const size_t trials = sorted.front()->lambda.size(), points = sorted.size();
  std::vector<long> counts(trials);
  std::vector<double> means(points), crossings;
  crossings.reserve(static_cast<size_t>(resamples));
  for (long b = 0; b < resamples; ++b) {
    // Trial indices with replacement: each draw is a 64-bit number scaled to [0, trials)
    // (multiply-shift, no std:: distribution, so every platform resamples alike).
    mc::RandomStream stream(seed, 0, static_cast<std::uint64_t>(b), mc::Purpose::bootstrap);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t t = 0; t < trials; ++t) {
      const auto pick = static_cast<size_t>((static_cast<unsigned __int128>(stream.next_u64()) * trials) >> 64);
      ++counts[pick];
    }
    for (size_t k = 0; k < points; ++k) {
      double sum = 0;
      for (size_t t = 0; t < trials; ++t) sum += static_cast<double>(counts[t]) * sorted[k]->lambda[t];
      means[k] = sum / static_cast<double>(trials) - target;
    }
    double best = nearest_crossing(sorted, means, centre);
    if (std::isnan(best)) best = means.front() < 0 ? sorted.back()->gamma : sorted.front()->gamma;
    crossings.push_back(best);
  }
  std::sort(crossings.begin(), crossings.end());
  const auto quantile = [&crossings](double q) {
    const double at = q * static_cast<double>(crossings.size() - 1);
    const auto i = static_cast<size_t>(std::floor(at));
    const size_t j = std::min(i + 1, crossings.size() - 1);
    return crossings[i] + (at - static_cast<double>(i)) * (crossings[j] - crossings[i]);
  };
  return {quantile((1 - confidence) / 2), quantile((1 + confidence) / 2)};
}

}  // namespace attnsweep::sweep
