// The progress of a running campaign on stderr, the same for `run` and `critical`: a live bar at
// a terminal (also under mpirun, whose pipes hide the terminal from rank 0), a line every 10 s
// in a log, one JSON object per line for dashboards, or nothing. Counts trials, not only cells
// (a cell of 10^4 trials is minutes), and smooths the ETA (tasks finish in bursts).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace attnsweep::sweep {

enum class ProgressMode { automatic, bar, lines, json, none };

// "auto", "bar", "lines", "json", "none"; InputError naming the choices otherwise.
ProgressMode parse_progress_mode(const std::string& text);

// What a campaign has done in this run, for one report.
struct ProgressCounts {
  const char* unit = "cells";              // what `done` and `total` count ("cells", "searches")
  std::int64_t done = 0, total = 0;        // finished (any status) / to finish in this run
  std::int64_t failed = 0, undefined = 0;  // of `done`
  std::uint64_t trials_done = 0, trials_total = 0;
  bool trials_total_is_bound = false;    // an adaptive campaign knows only an upper bound
  double work_done = 0, work_total = 0;  // estimated compute seconds, for the ETA (total 0: no ETA)
};

class ProgressReporter {
 public:
  // `automatic`: a bar when stderr, or the launcher's stderr under mpirun, is a terminal; lines
  // otherwise.
  explicit ProgressReporter(ProgressMode mode);
  // At most one report per interval (bar 0.5 s, json 5 s, lines 10 s), and always the final one.
  void report(const ProgressCounts& counts, bool final_line);
  // Whether a report now would be printed (its interval has passed, or none was printed yet).
  bool due() const;
  ProgressMode mode() const { return mode_; }

 private:
  double eta_seconds(const ProgressCounts& counts, double elapsed);

  ProgressMode mode_;
  std::chrono::steady_clock::time_point start_, last_report_{};
  double smoothed_eta_ = -1, smoothed_at_ = 0;  // the last ETA (negative: none yet) and when
};

// "1h02m", "4m05s"; "?" for a negative or non-finite time.
std::string duration_text(double seconds);

}  // namespace attnsweep::sweep
