// The critical-point search (`attnsweep critical`), as pure logic: no MPI, no files, no clock.
//
// For one (rho, d, n) and a fixed set of trials, the trial-averaged lambda(gamma) is a smooth,
// deterministic function of gamma: every gamma of a trial sees the same token draw (common
// random numbers). The search finds where it crosses a target inside [gamma_low, gamma_high]:
//
//   1. bracket: lambda at both ends (one task: they share the draw);
//   2. bisection until the bracket is narrower than `tolerance` times its midpoint; gamma_c is
//      the linear interpolation of the mean inside the last bracket;
//   3. interval: lambda at gamma_c +- 2 s and +- 4 s, where s = (standard error of the mean at
//      gamma_c) / |slope| is the delta-method spread of gamma_c; then a bootstrap over trial
//      indices (each trial's values at every gamma kept together), each resample's crossing
//      found by linear interpolation between the evaluated gammas that bracket it.
//
// Every evaluation needs all the search's trials; the driver feeds them in, in any order and in
// any number of pieces, and a resumed search replays the journaled ones (the sequence of gammas
// is a function of the values, so a replay takes the same path bit for bit).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace attnsweep::sweep {

enum class CriticalStatus : std::uint8_t {
  missing = 0,  // not finished
  done = 1,     // gamma_c found
  failed = 2,   // an evaluation failed (the error says why)
  below = 3,    // lambda stays below the target over the whole gamma range
  above = 4,    // lambda stays above the target over the whole gamma range
  // In a file only: no search there (critical.position: a position bucket that n tokens do not
  // have, or one that `last` did not search).
  absent = 5,
};
const char* critical_status_name(CriticalStatus status);

struct CriticalSettings {
  double gamma_low = 0, gamma_high = 0;  // the search range (the grid's gamma range at this rho)
  double target = 0;                     // the lambda to cross
  double tolerance = 1e-4;               // relative width of the final bracket
  long trials = 1;
  long resamples = 2000;     // bootstrap resamples for the interval
  double confidence = 0.95;  // of the interval
  std::uint64_t seed = 0;    // of the bootstrap's resampling
};

// Per-trial lambda at one gamma, in trial order (NaN: not known yet).
struct Evaluation {
  double gamma = 0;
  std::vector<double> lambda;
  long known = 0;
  double mean() const;
  double std_error() const;
  bool complete() const { return known == static_cast<long>(lambda.size()); }
};

struct CriticalResult {
  CriticalStatus status = CriticalStatus::missing;
  double gamma_c = std::numeric_limits<double>::quiet_NaN();
  double low = std::numeric_limits<double>::quiet_NaN(), high = std::numeric_limits<double>::quiet_NaN();
  double spread = std::numeric_limits<double>::quiet_NaN();  // delta-method s
  long evaluations = 0;                                      // gammas evaluated (all trials each)
  long bisection_steps = 0;
  std::string error;
};

class CriticalSearch {
 public:
  explicit CriticalSearch(const CriticalSettings& settings);

  // Gammas the search needs next (all trials each) and does not have yet; empty while waiting
  // for them or when finished. Asking again returns the same gammas until they are provided.
  std::vector<double> wanted() const;
  // All trials of one wanted gamma (lambda[t] for trial t).
  void provide(double gamma, const std::vector<double>& lambda);
  // An evaluation failed: the search ends as failed with this message.
  void fail(const std::string& error);

  bool finished() const { return result_.status != CriticalStatus::missing; }
  const CriticalResult& result() const { return result_; }
  const CriticalSettings& settings() const { return settings_; }
  // Every evaluation so far, in the order they were asked for.
  const std::vector<Evaluation>& evaluations() const { return evaluations_; }

 private:
  enum class Phase { bracket, bisect, interval, finished };
  void advance();
  void finish_interval();
  const Evaluation* find(double gamma) const;
  double mean_at(double gamma) const { return find(gamma)->mean(); }

  CriticalSettings settings_;
  Phase phase_ = Phase::bracket;
  std::vector<double> wanted_;
  std::vector<Evaluation> evaluations_;
  double lo_ = 0, hi_ = 0;  // the bracket: lambda(lo) - target and lambda(hi) - target differ in sign
  CriticalResult result_;
};

// At most how many gammas one search evaluates: the two ends, the bisection steps until the
// bracket is `tolerance` wide relative to its centre, and the interval phase's points. (A range
// starting at 0 is bounded as if it started at tolerance x its width.) For memory planning.
long max_evaluations(const CriticalSettings& settings);

// The bootstrap interval of a crossing from the evaluated gammas (used by the search; exposed
// for tests): each resample draws trial indices with replacement (a counter-based stream keyed
// by `seed`), averages every evaluation over them, and takes the crossing nearest to `centre`
// by linear interpolation between neighbouring evaluated gammas; a resample whose curve does
// not cross in the range counts at the range's end. Returns the (1 - confidence)/2 and
// (1 + confidence)/2 quantiles.
std::pair<double, double> bootstrap_interval(const std::vector<Evaluation>& evaluations, double target, double centre,
                                             long resamples, double confidence, std::uint64_t seed);

// Where the median lambda over trials (not the mean the search follows) crosses the target,
// interpolated like the mean's crossing between neighbouring evaluated gammas, the crossing
// nearest `centre` (gamma_c); NaN when the medians do not cross. Beside gamma_c it says whether
// a tail of trials moves the mean's crossing (they agree within the interval where lambda's
// trials are light-tailed, as at alpha = 0).
double median_crossing(const std::vector<Evaluation>& evaluations, double target, double centre);

}  // namespace attnsweep::sweep
