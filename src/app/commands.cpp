#include "commands.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <tuple>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/critical_driver.hpp"
#include "attnsweep/sweep/driver.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "cli.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

// The helpers every command shares (cli.hpp).
// Parses subcommand options; every Boost error becomes a one-line InputError.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const po::positional_options_description* positional, std::vector<std::string>* unrecognised) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::ostringstream text;
      text << desc;
      throw HelpRequested{text.str()};
    }
  }
  po::variables_map vm;
  try {
    auto parser = po::command_line_parser(args).options(desc);
    if (positional) parser.positional(*positional);
    if (unrecognised) parser.allow_unregistered();
    const po::parsed_options parsed = parser.run();
    if (unrecognised) *unrecognised = po::collect_unrecognized(parsed.options, po::include_positional);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  return vm;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;
  }
  return out + "\"";
}

// ------------------------------------------------------------------------------- cell
namespace {
// {"0.05": q, "0.25": q, "0.5": median, ...}: the quantiles over the trials.
std::string quantiles_json(const mc::Quantiles& q) {
  std::string text = "{";
  for (size_t k = 0; k < q.size(); ++k)
    text += (k ? ", \"" : "\"") + io::format_real(mc::kQuantileLevels[k]) + "\": " + json_number(q[k]);
  return text + "}";
}
// `cell --format json`: the same as the table, and the theory where it applies (null elsewhere).
void print_cell_json(const mc::CellParams& cell, const mc::Summary& lambda, const mc::Summary& eta,
                     const model::SimplexTheory& simplex, const model::LimitTheory& limit, double seconds,
                     bool paper_law, bool simplex_exists) {
  std::string simplex_json = "null";
  if (simplex_exists) {
    simplex_json = "{\"lambda\": " + json_number(simplex.lambda) + ", \"eta\": " + json_number(simplex.eta) +
                   ", \"rho_out\": " + json_number(simplex.rho_out) + ", \"self_weight\": " + json_number(simplex.p) +
                   "}";
  }

  std::string limit_json = "null";
  if (paper_law) {
    limit_json = std::string("{\"regime\": \"") + model::regime_name(limit.regime) +
                 "\", \"kappa\": " + json_number(limit.kappa) + ", \"lambda\": " + json_number(limit.lambda) +
                 ", \"eta\": " + json_number(limit.eta) + ", \"cosine_out\": " + json_number(limit.cosine_out) +
                 ", \"gamma_critical\": " + json_number(model::critical_gamma(cell.rho)) + "}";
  }
  std::printf(
      "{\"rho\": %s, \"gamma\": %s, \"d\": %ld, \"n\": %ld, \"trials\": %ld, \"probes\": %ld, "
      "\"geometry\": \"%s\", \"jacobian\": \"%s\", \"alpha\": %s, \"seed\": %llu, \"beta\": %s, "
      "\"lambda_mean\": %s, \"lambda_stderr\": %s, \"eta_mean\": %s, \"eta_stderr\": %s, \"seconds\": %s, "
      "\"scaling\": \"%s\", \"layers\": %ld, \"lambda_quantiles\": %s, \"eta_quantiles\": %s, "
      "\"lambda_defined\": %ld, \"eta_defined\": %ld, "
      "\"theory\": {\"simplex\": %s, \"limit\": %s}}\n",
      json_number(cell.rho).c_str(), json_number(cell.gamma).c_str(), cell.d, cell.n, cell.trials, cell.probes,
      mc::geometry_name(cell.geometry), mc::jacobian_name(cell.jacobian), json_number(cell.alpha).c_str(),
      static_cast<unsigned long long>(cell.seed), json_number(simplex.beta).c_str(), json_number(lambda.mean).c_str(),
      json_number(lambda.std_error).c_str(), json_number(eta.mean).c_str(), json_number(eta.std_error).c_str(),
      json_number(seconds).c_str(), model::scaling_name(cell.scaling), cell.layers,
      quantiles_json(lambda.quantiles).c_str(), quantiles_json(eta.quantiles).c_str(), lambda.count, eta.count,
      simplex_json.c_str(), limit_json.c_str());
}

// `cell`'s table: the parameters, each observable's mean, standard error, median and 5..95%
// range beside the theory where it applies, and what was undefined.
void print_cell_table(const mc::CellParams& cell, const mc::Summary& lambda, const mc::Summary& eta,
                      const model::SimplexTheory& simplex, const model::LimitTheory& limit, double seconds,
                      bool paper_law, bool simplex_exists) {
  if (paper_law) {
    std::printf("cell rho = %g, gamma = %g (kappa = gamma (1 - rho) = %.4g, %s), d = %ld, n = %ld, beta = %.4g\n",
                cell.rho, cell.gamma, limit.kappa, model::regime_name(limit.regime), cell.d, cell.n, simplex.beta);
  } else {
    std::printf("cell rho = %g, gamma = %g (scaling %s), d = %ld, n = %ld, beta = %.4g\n", cell.rho, cell.gamma,
                model::scaling_name(cell.scaling), cell.d, cell.n, simplex.beta);
  }
  if (cell.layers > 1) std::printf("  %ld layers (lambda and eta of the whole L-layer map)\n", cell.layers);
  std::printf(
      "  %ld trials, %s geometry, %s Jacobian%s, alpha = %g, seed = %llu, %.3f s\n", cell.trials,
      mc::geometry_name(cell.geometry), mc::jacobian_name(cell.jacobian),
      cell.jacobian == mc::JacobianMethod::hutchinson ? (" (" + std::to_string(cell.probes) + " probes)").c_str() : "",
      cell.alpha, static_cast<unsigned long long>(cell.seed), seconds);
  std::printf("  %-8s %14s %12s %12s %25s %16s %12s\n", "", "mean", "stderr", "median", "5% .. 95% of trials",
              "simplex theory", "n -> inf");
  const auto theory_text = [simplex_exists](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return simplex_exists ? std::string(buf) : std::string("n/a");
  };
  const auto limit_text = [paper_law](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return paper_law ? std::string(buf) : std::string("n/a");
  };
  for (const auto& [name, summary, simplex_value, limit_value] :
       {std::tuple{"lambda", lambda, simplex.lambda, limit.lambda}, std::tuple{"eta", eta, simplex.eta, limit.eta}}) {
    char range[64];
    std::snprintf(range, sizeof range, "%.4g .. %.4g", summary.quantiles[0], summary.quantiles[4]);
    std::printf("  %-8s %14.6g %12.3g %12.6g %25s %16s %12s\n", name, summary.mean, summary.std_error,
                summary.quantiles[2], range, theory_text(simplex_value).c_str(), limit_text(limit_value).c_str());
  }
  for (const auto& [name, summary] : {std::pair{"lambda", lambda}, std::pair{"eta", eta}}) {
    if (summary.count < cell.trials)
      std::printf("  (%s is undefined in %ld of %ld trials: %s; the statistics are over the other %ld)\n", name,
                  cell.trials - summary.count, cell.trials,
                  std::string(name) == "lambda" ? "no pair of distinct input directions" : "a zero-length output token",
                  summary.count);
  }
  if (!simplex_exists)
    std::printf("  (simplex theory needs d >= n + 1: no simplex of n directions fits in d = %ld)\n", cell.d);
  if (!paper_law) std::printf("  (the n -> inf limits are the paper's, for one layer with beta = gamma ln n only)\n");
  if (simplex_exists && cell.layers > 1)
    std::printf("  (simplex theory of a stack: lambda by iterating the one-layer map; no closed form for eta)\n");
}
}  // namespace

int cell_command(const std::vector<std::string>& args) {
  mc::CellParams cell;
  std::string geometry = "gaussian", jacobian = "exact", format = "table", scaling = "log";
  long long seed = 2025;
  po::options_description desc("attnsweep cell options");
  desc.add_options()("rho", po::value(&cell.rho)->required(), "input pairwise cosine, 0 <= rho < 1")(
      "gamma", po::value(&cell.gamma)->required(), "scale: beta = gamma ln n (see --scaling)")(
      "d", po::value(&cell.d)->required(), "token dimension")("n", po::value(&cell.n)->required(), "number of tokens")(
      "trials", po::value(&cell.trials), "Monte-Carlo trials (8; simplex geometry: 1, its only value)")(
      "probes", po::value(&cell.probes)->default_value(4), "Hutchinson probes per trial")(
      "geometry", po::value(&geometry)->default_value("gaussian"), "gaussian | simplex")(
      "alpha", po::value(&cell.alpha)->default_value(0.0), "residual weight")(
      "scaling", po::value(&scaling)->default_value("log"),
      "beta = gamma x: log (ln n) | log-squared ((ln n)^2) | sqrt-log (sqrt(ln n)) | constant (1)")(
      "layers", po::value(&cell.layers)->default_value(1),
      "the layer applied L times (L > 1 needs --jacobian hutchinson)")("seed", po::value(&seed)->default_value(2025),
                                                                       "random seed")(
      "jacobian", po::value(&jacobian)->default_value("exact"), "exact | hutchinson")(
      "threads", po::value(&cell.threads)->default_value(1), "threads on each trial (results do not depend on it)")(
      "format", po::value(&format)->default_value("table"), "table | json");
  const po::variables_map given = parse(args, desc);
  const bool vm_has_trials = given.count("trials") > 0;
  try {
    cell.geometry = mc::parse_geometry(geometry);
    if (!vm_has_trials) cell.trials = cell.geometry == mc::Geometry::simplex ? 1 : 8;
    cell.jacobian = mc::parse_jacobian(jacobian);
    cell.scaling = model::parse_scaling(scaling);
    if (seed < 0) throw std::invalid_argument("seed must be >= 0");
    cell.seed = static_cast<std::uint64_t>(seed);
    mc::validate(cell);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  if (format != "table" && format != "json") throw InputError("format must be table or json, not '" + format + "'");
  sweep::check_fits_in_memory(cell);

  const auto start = std::chrono::steady_clock::now();
  // A cell the model cannot compute (a fault: a non-finite value) fails as it would in a sweep:
  // the message, and exit 1. A trial in which an observable is undefined by its definition is
  // not a fault: the statistics are over the defined trials, and say how many.
  mc::CellSamples samples;
  try {
    samples = mc::run_trials(cell, 0, static_cast<std::uint64_t>(cell.trials));
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "attnsweep: cell failed: %s\n", e.what());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const mc::Summary lambda = samples.lambda(), eta = samples.eta();
  const auto simplex = model::simplex_theory_layers(cell.rho, cell.gamma, static_cast<double>(cell.n),
                                                    static_cast<double>(cell.d), cell.alpha, cell.layers, cell.scaling);
  const auto limit = model::limit_theory(cell.rho, cell.gamma, static_cast<double>(cell.d));
  // The n -> infinity limits (and kappa, the regime, gamma_c) are the paper's, for one layer
  // with beta = gamma ln n.
  const bool paper_law = cell.scaling == model::ScalingLaw::log && cell.layers == 1;
  // The exact-simplex formulas hold only where a simplex of n directions exists (d >= n + 1);
  // elsewhere they are a formula outside its assumptions, not a prediction, and are not shown.
  const bool simplex_exists = cell.d >= cell.n + 1;
  if (format == "json")
    print_cell_json(cell, lambda, eta, simplex, limit, seconds, paper_law, simplex_exists);
  else
    print_cell_table(cell, lambda, eta, simplex, limit, seconds, paper_law, simplex_exists);
  return 0;
}

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

void check_time_limit(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) {
    throw InputError("--time-limit must be a finite number of seconds >= 0 (0: none)");
  }
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
  std::string slice;
  po::options_description desc("attnsweep run options");
  desc.add_options()("config", po::value(&options.config_path)->required(), "sweep config (INI)")(
      "output", po::value(&options.output), "HDF5 output (default: the config's output.file)")(
      "retry-failed", po::bool_switch(&options.retry_failed), "recompute only the cells whose status is failed")(
      "time-limit", po::value(&options.time_limit)->default_value(0), "stop cleanly before this many seconds")(
      "snapshot-every", po::value(&options.snapshot_every)->default_value(30), "seconds between HDF5 snapshots")(
      "slice", po::value(&slice), "K/N: run only the K-th of N equal ranges of the flat cell index");
  std::vector<std::string> rest;
  // Validate on every rank before MPI starts, so bad usage never reaches MPI_Init.
  require_nonempty_output(parse(args, desc, nullptr, &rest), options.output);
  options.overrides = config_overrides(rest);
  check_time_limit(options.time_limit);
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
  return under_mpi(argc, argv, [&](const parallel::Environment& mpi) { return sweep::run_sweep(options, mpi); });
}

// ------------------------------------------------------------------------------- critical
int critical_command(const std::vector<std::string>& args, int& argc, char**& argv) {
  sweep::CriticalOptions options;
  po::options_description desc("attnsweep critical options");
  desc.add_options()("config", po::value(&options.config_path)->required(),
                     "sweep config (INI) with its [critical] section")(
      "output", po::value(&options.output), "HDF5 output (default: critical.file, or output.file as .critical.h5)")(
      "format", po::value(&options.format)->default_value("table"), "result on stdout: table | csv | json")(
      "time-limit", po::value(&options.time_limit)->default_value(0), "stop cleanly before this many seconds");
  std::vector<std::string> rest;
  require_nonempty_output(parse(args, desc, nullptr, &rest), options.output);
  options.overrides = config_overrides(rest);
  if (options.format != "table" && options.format != "csv" && options.format != "json")
    throw InputError("format must be table, csv or json, not '" + options.format + "'");
  check_time_limit(options.time_limit);
  return under_mpi(argc, argv, [&](const parallel::Environment& mpi) { return sweep::run_critical(options, mpi); });
}

// ------------------------------------------------------------------------------- status
namespace {
std::string single_file(const std::vector<std::string>& args, const char* command) {
  std::string file;
  po::options_description desc(std::string("attnsweep ") + command + " options");
  desc.add_options()("file", po::value(&file)->required(), "HDF5 output");
  po::positional_options_description positional;
  positional.add("file", 1);
  parse(args, desc, &positional);
  return file;
}
}  // namespace

// ------------------------------------------------------------------------------- verify
int verify_command(const std::vector<std::string>& args) {
  const std::string file = single_file(args, "verify");
  const auto problems = io::verify_results_file(file);
  for (const auto& p : problems) {
    if (p.rfind(file + ":", 0) == 0)
      std::printf("%s\n", p.c_str());
    else
      std::printf("%s: %s\n", file.c_str(), p.c_str());
  }
  if (!problems.empty()) {
    std::fprintf(stderr, "attnsweep: %s: %zu problem%s found\n", file.c_str(), problems.size(),
                 problems.size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: OK (structure, shapes, dimension scales, status consistency, Fletcher-32 checksums)\n",
              file.c_str());
  return 0;
}

// ------------------------------------------------------------------------------- merge
int merge_command(const std::vector<std::string>& args) {
  std::string output;
  std::vector<std::string> inputs;
  po::options_description desc("attnsweep merge options");
  desc.add_options()("output", po::value(&output)->required(), "merged HDF5 file to create")(
      "inputs", po::value(&inputs)->multitoken()->required(), "slice files of the same sweep");
  po::positional_options_description positional;
  positional.add("output", 1).add("inputs", -1);
  parse(args, desc, &positional);
  struct stat st {};
  if (stat(output.c_str(), &st) == 0) throw InputError("merge output " + output + " exists; it is never overwritten");
  io::check_output_path(output);
  std::vector<io::ResultsFile> files;
  for (const auto& path : inputs) files.push_back(io::read_results_file(path));
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i].config_hash != files[0].config_hash) {
      throw InputError(inputs[i] + " belongs to another sweep than " + inputs[0] + " (config differs)");
    }
  }
  io::SweepState merged = files[0].state;
  merged.keep_trials(static_cast<std::int32_t>(files[0].config.trials));
  for (size_t i = 1; i < files.size(); ++i) {
    for (std::int64_t c = 0; c < merged.size(); ++c) {
      const auto k = static_cast<size_t>(c);
      const io::CellRecord theirs = files[i].state.record(c);
      const auto mine = static_cast<io::CellStatus>(merged.status[k]);
      // A finished cell (done or undefined) beats failed beats missing; two finished records of
      // one cell are bitwise equal by design, so two that differ mean one file is damaged or was
      // computed by another build.
      const auto finished = [](io::CellStatus st) {
        return st == io::CellStatus::done || st == io::CellStatus::undefined;
      };
      if (finished(theirs.status) && finished(mine) &&
          (theirs.status != mine || std::memcmp(&theirs.lambda_mean, &merged.lambda_mean[k], sizeof(double)) != 0 ||
           std::memcmp(&theirs.eta_mean, &merged.eta_mean[k], sizeof(double)) != 0 ||
           theirs.trials != merged.trials[k])) {
        throw InputError(
            "cell " + std::to_string(c) + " is finished in " + inputs[i] + " and in an earlier input " +
            "with different values; the files do not come from one deterministic sweep (run verify on each)");
      }
      if (finished(theirs.status) && !finished(mine)) merged.apply(theirs);
      if (theirs.status == io::CellStatus::failed && mine == io::CellStatus::missing) merged.apply(theirs);
    }
  }
  io::SweepConfig config = files[0].config;
  io::write_results_file(output, config, merged);
  std::printf("%s: merged %zu files: %lld done, %lld undefined, %lld failed, %lld missing\n", output.c_str(),
              files.size(), static_cast<long long>(merged.count(io::CellStatus::done)),
              static_cast<long long>(merged.count(io::CellStatus::undefined)),
              static_cast<long long>(merged.count(io::CellStatus::failed)),
              static_cast<long long>(merged.count(io::CellStatus::missing)));
  return 0;
}

}  // namespace attnsweep::app
