#include "attnsweep/sweep/progress.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "attnsweep/io/config.hpp"

namespace attnsweep::sweep {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Under mpirun rank 0's stderr is a pipe to the launcher, whose own stderr is what the user sees.
bool launcher_stderr_is_terminal() {
  if (std::getenv("OMPI_COMM_WORLD_RANK") == nullptr) return false;  // not started by Open MPI
  const std::string path = "/proc/" + std::to_string(::getppid()) + "/fd/2";
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const bool terminal = ::isatty(fd) != 0;
  ::close(fd);
  return terminal;
}

double interval_of(ProgressMode mode) {
  return mode == ProgressMode::bar ? 0.5 : mode == ProgressMode::json ? 5.0 : 10.0;
}

// The ETA's memory: a new estimate moves the shown one by 1 - exp(-dt / tau), whatever the
// report interval, so that one burst of finished tasks does not swing it.
constexpr double kEtaTimeConstant = 30;

std::string json_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", seconds);
  return text;
}
}  // namespace

ProgressMode parse_progress_mode(const std::string& text) {
  if (text == "auto") return ProgressMode::automatic;
  if (text == "bar") return ProgressMode::bar;
  if (text == "lines") return ProgressMode::lines;
  if (text == "json") return ProgressMode::json;
  if (text == "none") return ProgressMode::none;
  throw io::InputError("--progress must be auto, bar, lines, json or none, not '" + text + "'");
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  return text;
}

ProgressReporter::ProgressReporter(ProgressMode mode) : mode_(mode), start_(Clock::now()) {
  if (mode_ == ProgressMode::automatic)
    mode_ = ::isatty(STDERR_FILENO) || launcher_stderr_is_terminal() ? ProgressMode::bar : ProgressMode::lines;
}

double ProgressReporter::eta_seconds(const ProgressCounts& counts, double elapsed) {
  if (counts.work_total <= 0 || counts.work_done <= 0) return -1;
  const double raw = elapsed * (counts.work_total - counts.work_done) / counts.work_done;
  if (smoothed_eta_ < 0) {
    smoothed_eta_ = raw;
  } else {
    const double dt = elapsed - smoothed_at_;
    const double predicted = std::max(0.0, smoothed_eta_ - dt);
    smoothed_eta_ = predicted + (1 - std::exp(-dt / kEtaTimeConstant)) * (raw - predicted);
  }
  smoothed_at_ = elapsed;
  return smoothed_eta_;
}

bool ProgressReporter::due() const {
  if (mode_ == ProgressMode::none) return false;
  return last_report_ == Clock::time_point{} || seconds_between(last_report_, Clock::now()) >= interval_of(mode_);
}

void ProgressReporter::report(const ProgressCounts& c, bool final_line) {
  if (mode_ == ProgressMode::none || (!final_line && !due())) return;
  const auto now = Clock::now();
  last_report_ = now;
  const double elapsed = seconds_between(start_, now);
  const bool complete = c.done >= c.total;
  // The last report of a run that stopped early has no ETA: the rest waits for a resume.
  const double eta = final_line ? (complete ? 0.0 : -1.0) : eta_seconds(c, elapsed);
  // Trials, not cells, measure how far a run is (a cell of many trials is minutes of work).
  const double fraction = c.trials_total > 0 && !c.trials_total_is_bound
                              ? static_cast<double>(c.trials_done) / static_cast<double>(c.trials_total)
                          : c.total > 0 ? static_cast<double>(c.done) / static_cast<double>(c.total)
                                        : 1.0;
  const double rate = elapsed > 0 ? static_cast<double>(c.trials_done) / elapsed : 0.0;
  if (mode_ == ProgressMode::json) {
    std::fprintf(stderr,
                 "{\"progress\":\"%s\",\"unit\":\"%s\",\"done\":%lld,\"total\":%lld,\"failed\":%lld,\"undefined\":%lld,"
                 "\"trials_done\":%llu,\"trials_total\":%llu,\"trials_total_is_bound\":%s,\"trials_per_second\":%.3f,"
                 "\"elapsed_s\":%s,\"eta_s\":%s}\n",
                 final_line ? (complete ? "finished" : "stopped") : "running", c.unit, static_cast<long long>(c.done),
                 static_cast<long long>(c.total), static_cast<long long>(c.failed), static_cast<long long>(c.undefined),
                 static_cast<unsigned long long>(c.trials_done), static_cast<unsigned long long>(c.trials_total),
                 c.trials_total_is_bound ? "true" : "false", rate, json_seconds(elapsed).c_str(),
                 json_seconds(eta).c_str());
    std::fflush(stderr);
    return;
  }
  const std::string eta_text = final_line && !complete ? "none (stopped)" : duration_text(eta);
  char line[384];
  std::snprintf(line, sizeof line,
                "%lld/%lld %s, %llu/%s%llu trials (%.1f%%), %lld failed, %lld undefined, %.1f trials/s, elapsed %s, "
                "ETA %s",
                static_cast<long long>(c.done), static_cast<long long>(c.total), c.unit,
                static_cast<unsigned long long>(c.trials_done), c.trials_total_is_bound ? "<=" : "",
                static_cast<unsigned long long>(c.trials_total), 100 * fraction, static_cast<long long>(c.failed),
                static_cast<long long>(c.undefined), rate, duration_text(elapsed).c_str(), eta_text.c_str());
  if (mode_ == ProgressMode::bar) {
    const int width = 30, filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%.*s%*s] %s\033[K", filled, "##############################", width - filled, "", line);
    if (final_line) std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr, "[attnsweep] %s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace attnsweep::sweep
