// `attnsweep run` and `attnsweep critical`: the options of the two campaigns, checked on every
// rank before MPI starts, then the campaign on the one runtime (sweep/campaign.hpp).
#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/critical_campaign.hpp"
#include "attnsweep/sweep/exit_codes.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "attnsweep/sweep/sweep_campaign.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "report.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

// ------------------------------------------------------------------------------- run
namespace {
// The arguments after the options: config overrides, each section.key=value.
std::vector<std::string> config_overrides(const std::vector<std::string>& rest) {
  for (const auto& item : rest) {
    if (item.find('=') == std::string::npos || item.rfind("--", 0) == 0) {
      throw InputError("unrecognised argument '" + item + "' (overrides are section.key=value)");
    }
  }
  return rest;
}

// `--output ''` is a mistake (a variable that expanded to nothing), not a request for the
// config's default name.
void require_nonempty_output(const po::variables_map& given, const std::string& output) {
  if (given.count("output") && output.empty()) {
    throw InputError("--output is empty (leave it out to use the config's output file name)");
  }
}

// The options every campaign has (sweep/campaign.hpp's CampaignLimits).
void add_limit_options(po::options_description& desc, sweep::CampaignLimits& limits, std::string& progress) {
  desc.add_options()("time-limit", po::value(&limits.time_limit)->default_value(0),
                     "stop cleanly before this many seconds")(
      "progress", po::value(&progress)->default_value("auto"),
      "on stderr: auto (a bar at a terminal, else lines) | bar | lines | json (an object per line) | none");
}

void check_limits(sweep::CampaignLimits& limits, const std::string& progress) {
  if (!(limits.time_limit >= 0) || !std::isfinite(limits.time_limit)) {
    throw InputError("--time-limit must be a finite number of seconds >= 0 (0: none)");
  }
  limits.progress = sweep::parse_progress_mode(progress);
}

// Runs an MPI command (`run`, `critical`) on every rank. The stop handlers are installed before
// MPI_Init: a stop signal in a rank's first moments is a clean stop, not a kill.
int under_mpi(int& argc, char**& argv, const std::function<int(const parallel::Environment&)>& body) {
  sweep::install_stop_handlers();
  parallel::Environment mpi(argc, argv);
  try {
    return body(mpi);
  } catch (const io::IoError& e) {
    // Disk full, a write or read error: the journal is consistent up to its last durable batch,
    // so a rerun once the fault is fixed resumes. Every rank ends, never a hang.
    parallel::abort_all(std::string("I/O error: ") + e.what() + " (fix it and rerun the same command to resume)",
                        sweep::kExitIoError);
  } catch (const std::exception& e) {
    // Any failure on any rank ends the whole job with the message, never a hang.
    parallel::abort_all(e.what(), sweep::kExitInternal);
  }
}
}  // namespace

int run_command(const std::vector<std::string>& args, int& argc, char**& argv) {
  sweep::RunOptions options;
  sweep::CampaignLimits limits;
  std::string slice, progress;
  po::options_description desc("attnsweep run options");
  desc.add_options()("config", po::value(&options.config_path)->required(), "sweep config (INI)")(
      "output", po::value(&options.output), "HDF5 output (default: the config's output.file)")(
      "retry-failed", po::bool_switch(&options.retry_failed), "recompute only the cells whose status is failed")(
      "snapshot-every", po::value(&options.snapshot_every)->default_value(30), "seconds between HDF5 snapshots")(
      "slice", po::value(&slice), "K/N: run only the K-th of N equal ranges of the flat cell index");
  add_limit_options(desc, limits, progress);
  std::vector<std::string> rest;
  // Validate on every rank before MPI starts, so bad usage never reaches MPI_Init.
  require_nonempty_output(parse(args, desc, nullptr, &rest), options.output);
  options.overrides = config_overrides(rest);
  check_limits(limits, progress);
  if (!(options.snapshot_every > 0) || !std::isfinite(options.snapshot_every)) {
    throw InputError("--snapshot-every must be a finite number of seconds > 0");
  }
  if (!slice.empty()) {
    const auto slash = slice.find('/');
    const auto number = [&slice](const std::string& text) {
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE || !std::isdigit(static_cast<unsigned char>(text[0])))
        throw InputError("--slice '" + slice + "' is not K/N with 0 <= K < N <= 1000000");
      return v;
    };
    if (slash == std::string::npos) throw InputError("--slice '" + slice + "' is not K/N with 0 <= K < N <= 1000000");
    const long k = number(slice.substr(0, slash)), n = number(slice.substr(slash + 1));
    if (n < 1 || n > 1000000 || k >= n)
      throw InputError("--slice '" + slice + "' is not K/N with 0 <= K < N <= 1000000");
    options.slice_index = k;
    options.slice_count = n;
  }
  return under_mpi(argc, argv,
                   [&](const parallel::Environment& mpi) { return sweep::run_sweep(options, limits, mpi); });
}

// ------------------------------------------------------------------------------- critical
namespace {
// The searches' results, a row per (rho, d, n) (and position bucket under critical.position); the table shows the
// interval and the difference from the paper's gamma_c in one column each, CSV and JSON every number at full precision.
void print_critical(const io::SweepConfig& config, const sweep::CriticalJob& job,
                    const std::vector<sweep::CriticalSearch>& searches, const std::string& format) {
  using C = Column;
  const bool positions = job.positions > 0;
  std::vector<Column> columns = {{"rho", "", 5, 3}, {"d", "", 6}, {"n", "", 6}};
  // A search per position bucket: which bucket, and its tokens (the pairs whose later token is there).
  if (positions) columns.insert(columns.end(), {{"position", "bucket", 6}, {"tokens", "", 13}});
  columns.insert(columns.end(), {{"lambda_target", "target", 8, 5},
                                 {"gamma_c", "", 12, 6},
                                 {"interval", "", -25, -1, C::table_only},
                                 {"gamma_c_median", "median x", 10, 6},
                                 {"gamma_c_low", "", 0, -1, C::data_only},
                                 {"gamma_c_high", "", 0, -1, C::data_only},
                                 {"gamma_theory", "theory", 10, 6},
                                 {"relative_difference", "rel.diff", 9, -1, C::data_only},
                                 {"rel.diff", "", 9, -1, C::table_only},
                                 {"relative_low", "", 0, -1, C::data_only},
                                 {"relative_high", "", 0, -1, C::data_only},
                                 {"status", "", -8},
                                 {"evaluations", "evals", 6},
                                 {"grid_equivalent", "grid cells", 11}});
  Report report(format, columns);
  for (size_t p = 0; p < job.points.size(); ++p) {
    const sweep::CriticalJob::Point& point = job.points[p];
    const sweep::CriticalResult& r = searches[p].result();
    const double rho = config.rho[static_cast<size_t>(point.rho)];
    const long n = config.n[static_cast<size_t>(point.n)];
    const double theory = sweep::theory_gamma(config, rho);
    const double relative = (r.gamma_c - theory) / theory;
    char interval[64], percent[32], tokens[48];
    std::snprintf(interval, sizeof interval, "[%.6g, %.6g]", r.low, r.high);
    std::snprintf(percent, sizeof percent, std::isfinite(relative) ? "%+.2f%%" : "n/a", 100 * relative);
    std::vector<Cell> cells = {Cell::real(rho), Cell::whole(config.d[static_cast<size_t>(point.d)]), Cell::whole(n)};
    if (positions) {
      std::snprintf(tokens, sizeof tokens, "%ld..%ld", static_cast<long>(model::bucket_first(point.position)),
                    static_cast<long>(model::bucket_end(point.position, n) - 1));
      cells.insert(cells.end(), {Cell::whole(point.position), Cell::label(tokens)});
    }
    cells.insert(cells.end(),
                 {Cell::real(job.settings[p].target), Cell::real(r.gamma_c), Cell::label(interval),
                  Cell::real(sweep::median_crossing(searches[p].evaluations(), job.settings[p].target, r.gamma_c)),
                  Cell::real(r.low), Cell::real(r.high), Cell::real(theory), Cell::real(relative), Cell::label(percent),
                  Cell::real((r.low - theory) / theory), Cell::real((r.high - theory) / theory),
                  Cell::label(sweep::critical_status_name(r.status)),
                  Cell::whole(static_cast<long long>(searches[p].evaluations().size())),
                  Cell::fixed(sweep::grid_equivalent(job.settings[p], r), 0)});
    report.row(cells);
  }
}
}  // namespace

int critical_command(const std::vector<std::string>& args, int& argc, char**& argv) {
  sweep::CriticalOptions options;
  sweep::CampaignLimits limits;
  std::string progress, format;
  po::options_description desc("attnsweep critical options");
  desc.add_options()("config", po::value(&options.config_path)->required(),
                     "sweep config (INI) with its [critical] section")(
      "output", po::value(&options.output), "HDF5 output (default: critical.file, or output.file as .critical.h5)")(
      "format", po::value(&format)->default_value("table"), "result on stdout: table | csv | json");
  add_limit_options(desc, limits, progress);
  std::vector<std::string> rest;
  require_nonempty_output(parse(args, desc, nullptr, &rest), options.output);
  options.overrides = config_overrides(rest);
  if (format != "table" && format != "csv" && format != "json")
    throw InputError("format must be table, csv or json, not '" + format + "'");
  options.publish = [&format](const io::SweepConfig& config, const sweep::CriticalJob& job,
                              const std::vector<sweep::CriticalSearch>& searches) {
    print_critical(config, job, searches, format);
  };
  check_limits(limits, progress);
  return under_mpi(argc, argv,
                   [&](const parallel::Environment& mpi) { return sweep::run_critical(options, limits, mpi); });
}

}  // namespace attnsweep::app
