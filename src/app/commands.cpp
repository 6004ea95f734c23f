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

namespace {

// The values of a query filter: `--rho 0.2 0.5`, `--rho 0.2,0.5` and `--rho 0.2, 0.5` alike.
std::vector<double> filter_values(const std::vector<std::string>& given, const std::string& name,
                                  bool integer = false) {
  std::vector<double> values;
  for (const std::string& item : given) {
    std::string text = item;
    for (char& ch : text)
      if (ch == ',') ch = ' ';
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
      char* end = nullptr;
      const double v = std::strtod(word.c_str(), &end);
      if (end != word.c_str() + word.size() || !std::isfinite(v))
        throw InputError("--" + name + ": '" + word + "' is not a number");
      if (integer && v != std::floor(v)) throw InputError("--" + name + ": '" + word + "' is not an integer");
      values.push_back(v);
    }
  }
  return values;
}

// Index of `value` on an axis; InputError listing the axis when it is not there.
template <class T>
long axis_index(const std::vector<T>& axis, T value, const std::string& name) {
  for (size_t i = 0; i < axis.size(); ++i) {
    if (std::abs(static_cast<double>(axis[i]) - static_cast<double>(value)) <=
        1e-9 * std::max(1.0, std::abs(static_cast<double>(value)))) {
      return static_cast<long>(i);
    }
  }
  std::ostringstream values;
  for (size_t i = 0; i < axis.size() && i < 12; ++i) values << (i ? ", " : "") << axis[i];
  if (axis.size() > 12) values << ", ...";
  std::ostringstream msg;
  msg << "--" << name << " " << value << " is not on the file's " << name << " axis (" << values.str() << ")";
  throw InputError(msg.str());
}
}  // namespace

// ------------------------------------------------------------------------------- cell
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
  // A cell the model cannot compute (a direction of zero length, a non-finite value) fails as
  // it would in a sweep: the message, and exit 1.
  mc::CellSamples samples;
  try {
    samples = mc::run_trials(cell, 0, static_cast<std::uint64_t>(cell.trials));
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "attnsweep: cell failed: %s\n", e.what());
    return 1;
  }
  for (const auto& [trial, value] : samples.by_trial()) {
    if (!std::isfinite(value.lambda) || !std::isfinite(value.eta)) {
      std::fprintf(stderr, "attnsweep: cell failed: non-finite result at trial %llu (lambda %g, eta %g)\n",
                   static_cast<unsigned long long>(trial), value.lambda, value.eta);
      return 1;
    }
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
  if (format == "json") {
    std::printf(
        "{\"rho\": %s, \"gamma\": %s, \"d\": %ld, \"n\": %ld, \"trials\": %ld, \"probes\": %ld, "
        "\"geometry\": \"%s\", \"jacobian\": \"%s\", \"alpha\": %s, \"seed\": %llu, \"beta\": %s, "
        "\"lambda_mean\": %s, \"lambda_stderr\": %s, \"eta_mean\": %s, \"eta_stderr\": %s, \"seconds\": %s, "
        "\"scaling\": \"%s\", \"layers\": %ld, \"theory\": {\"simplex\": %s, \"limit\": %s}}\n",
        json_number(cell.rho).c_str(), json_number(cell.gamma).c_str(), cell.d, cell.n, cell.trials, cell.probes,
        mc::geometry_name(cell.geometry), mc::jacobian_name(cell.jacobian), json_number(cell.alpha).c_str(),
        static_cast<unsigned long long>(cell.seed), json_number(simplex.beta).c_str(), json_number(lambda.mean).c_str(),
        json_number(lambda.std_error).c_str(), json_number(eta.mean).c_str(), json_number(eta.std_error).c_str(),
        json_number(seconds).c_str(), model::scaling_name(cell.scaling), cell.layers, simplex_json.c_str(),
        limit_json.c_str());
    return 0;
  }
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
  std::printf("  %-8s %14s %12s %16s %12s\n", "", "measured", "stderr", "simplex theory", "n -> inf");
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
  std::printf("  %-8s %14.6g %12.3g %16s %12s\n", "lambda", lambda.mean, lambda.std_error,
              theory_text(simplex.lambda).c_str(), limit_text(limit.lambda).c_str());
  std::printf("  %-8s %14.6g %12.3g %16s %12s\n", "eta", eta.mean, eta.std_error, theory_text(simplex.eta).c_str(),
              limit_text(limit.eta).c_str());
  if (!simplex_exists)
    std::printf("  (simplex theory needs d >= n + 1: no simplex of n directions fits in d = %ld)\n", cell.d);
  if (!paper_law) std::printf("  (the n -> inf limits are the paper's, for one layer with beta = gamma ln n only)\n");
  if (simplex_exists && cell.layers > 1)
    std::printf("  (simplex theory of a stack: lambda by iterating the one-layer map; no closed form for eta)\n");
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

// ------------------------------------------------------------------------------- plan
int plan_command(const std::vector<std::string>& args) {
  std::string config_path;
  long ranks_per_node = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  bool output_name = false, critical_output_name = false;
  po::options_description desc("attnsweep plan options");
  desc.add_options()("config", po::value(&config_path)->required(), "sweep config (INI)")(
      "ranks-per-node", po::value(&ranks_per_node)->default_value(ranks_per_node),
      "MPI ranks per node, for the memory per node (default: this machine's cores)")(
      "output-name", po::bool_switch(&output_name), "print only the output file the config names (for job scripts)")(
      "critical-output-name", po::bool_switch(&critical_output_name),
      "print only the file `attnsweep critical` writes by default");
  std::vector<std::string> rest;
  parse(args, desc, nullptr, &rest);
  for (const auto& item : rest)
    if (item.find('=') == std::string::npos) throw InputError("unrecognised argument '" + item + "'");
  if (ranks_per_node < 1 || ranks_per_node > 100000) throw InputError("--ranks-per-node must be 1..100000");
  const io::SweepConfig config = io::load_config(config_path, rest);
  // Job scripts ask the program, which reads the INI as a run would (comments, CRLF, overrides),
  // instead of guessing the name with sed.
  if (output_name || critical_output_name) {
    std::printf("%s\n", output_name ? config.output.c_str() : config.critical_output().c_str());
    return 0;
  }
  const sweep::Grid grid(config);
  const sweep::CostModel cost = sweep::CostModel::calibrate();
  // Cost and memory depend on (d, n) only; every (d, n) pair stands for rho x gamma cells.
  const auto shape = grid.shape();
  const double cells_per_dn = static_cast<double>(shape[0] * shape[1]);
  double total = 0, largest_trial = 0, peak_memory = 0;
  struct PairCost {
    long d, n;
    double seconds, bytes;
  };
  std::vector<PairCost> pairs;
  for (long d = 0; d < shape[2]; ++d)
    for (long n = 0; n < shape[3]; ++n) {
      const auto cell = grid.cell(grid.flat({0, 0, d, n}));
      const double t = cost.trial_seconds(cell);  // core-seconds
      total += t * static_cast<double>(config.trials) * cells_per_dn;
      largest_trial = std::max(largest_trial, t);
      peak_memory = std::max(peak_memory, mc::trial_memory_bytes(cell));
      pairs.push_back({cell.d, cell.n, t, mc::trial_memory_bytes(cell)});
    }
  std::sort(pairs.begin(), pairs.end(), [](const PairCost& a, const PairCost& b) { return a.seconds > b.seconds; });
  std::printf("plan for %s\n", config_path.c_str());
  std::printf("  grid: %zu rho x %zu gamma x %zu d x %zu n = %lld cells, %ld trials each (%lld trials)\n",
              config.rho.size(), config.gamma.size(), config.d.size(), config.n.size(),
              static_cast<long long>(grid.size()), config.trials, static_cast<long long>(grid.size()) * config.trials);
  std::printf(
      "  estimated work: %.0f core-seconds (%.2f core-hours); longest trial %.2f s; peak memory per rank %.2f GiB\n",
      total, total / 3600, largest_trial, peak_memory / (1 << 30));
  std::printf("  (cost model calibrated here: %.1f GFLOP/s, %.2g s per n^2 entry)\n", cost.flops_per_second / 1e9,
              cost.seconds_per_pair);
  // The costliest (d, n): where the time goes, and for the exact method what it costs against
  // Hutchinson (its quartic term grows as n^2 d^2 or n^3; MODEL.md section 4).
  std::printf("  costliest (d, n), one trial on one thread:\n");
  std::printf("  %8s %8s %12s %12s %s\n", "d", "n", "trial [s]", "memory [GiB]", "jacobian");
  for (size_t i = 0; i < std::min<size_t>(5, pairs.size()); ++i) {
    const PairCost& p = pairs[i];
    mc::CellParams cell = grid.cell(0);
    cell.d = p.d;
    cell.n = p.n;
    std::string method = mc::jacobian_name(cell.jacobian);
    mc::CellParams other = cell;
    other.jacobian =
        cell.jacobian == mc::JacobianMethod::exact ? mc::JacobianMethod::hutchinson : mc::JacobianMethod::exact;
    char note[160];
    if (cell.jacobian == mc::JacobianMethod::exact) {
      std::snprintf(note, sizeof note, " (quartic term by %s; %.2fx the time of %ld Hutchinson probes)",
                    model::quartic_route(cell.n, cell.d) == model::QuarticRoute::packed ? "packed products" : "G o G",
                    p.seconds / cost.trial_seconds(other), cell.probes);
    } else {
      std::snprintf(note, sizeof note, " (%ld probes; exact would take %.2fx this)", cell.probes,
                    cost.trial_seconds(other) / p.seconds);
    }
    std::printf("  %8ld %8ld %12.3g %12.3f %s%s\n", p.d, p.n, p.seconds, p.bytes / (1 << 30), method.c_str(), note);
  }
  if (config.threads > 1) {
    std::printf("  %d threads per rank on each trial (run.threads): a trial's wall time about 1/%d of the above\n",
                config.threads, config.threads);
  }
  {
    // Rank 0's node: the master's state, and a computing slot per rank (rank 0's own thread on
    // small jobs); other nodes: a slot per rank.
    const int slots = static_cast<int>(ranks_per_node);
    const double master = sweep::master_memory_bytes(grid.size(), config.trials);
    const double master_node = sweep::node_memory_bytes(slots, peak_memory, master);
    const double other_node = sweep::node_memory_bytes(slots, peak_memory, 0.0);
    std::printf(
        "  memory per node at %ld ranks per node: %.2f GiB (rank 0's node, with the master's %.2f GiB), "
        "%.2f GiB (other nodes); this machine has %.1f GiB available\n",
        ranks_per_node, master_node / (1 << 30), master / (1 << 30), other_node / (1 << 30),
        sweep::available_memory_bytes() / (1 << 30));
  }
  const double threads = static_cast<double>(config.threads);
  largest_trial /= threads;  // wall time of the longest trial, its threads all on it
  std::printf("  %8s %14s\n", "ranks", "wall time");
  int suggested = 0;
  double suggested_wall = 0;
  for (int ranks : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
    const int workers = ranks <= 8 ? ranks : ranks - 1;
    // Trials are the smallest unit a cell splits into: the wall cannot drop below one.
    const double wall = std::max(total / (workers * threads) * 1.05, largest_trial) + 5;
    std::printf("  %8d %14.0f s\n", ranks, wall);
    if (!suggested && (wall < 3600 || ranks == 256 || total / (workers * threads) < 20 * largest_trial)) {
      suggested = ranks;
      suggested_wall = wall;
    }
  }
  const long limit = static_cast<long>(std::ceil((suggested_wall * 1.5 + 300) / 60));
  std::printf("suggested: --ntasks=%d --time=%02ld:%02ld:00\n", suggested, limit / 60, limit % 60);
  std::printf("  sbatch --ntasks=%d --time=%02ld:%02ld:00 jobs/sweep.sbatch %s\n", suggested, limit / 60, limit % 60,
              config_path.c_str());
  return 0;
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

// ------------------------------------------------------------------------------- query
namespace {
// Whether a cell's coordinates pass the filters (an empty filter keeps every value).
bool kept(const std::set<long> (&keep)[4], const sweep::CellCoordinates& c) {
  const long at[4] = {c.rho, c.gamma, c.d, c.n};
  for (int a = 0; a < 4; ++a)
    if (!keep[a].empty() && !keep[a].count(at[a])) return false;
  return true;
}

// `query --trials`: one row per trial of every done cell in the box that the filters keep.
int print_trials(const sweep::Grid& grid, const io::CellBox& box, const std::array<std::int64_t, 4>& shape,
                 const std::set<long> (&keep)[4], const io::SweepState& cells, const std::string& format) {
  if (format == "csv") std::printf("cell,rho,gamma,d,n,trial,lambda,eta\n");
  if (format == "table")
    std::printf("%7s %6s %8s %5s %6s %6s %14s %14s\n", "cell", "rho", "gamma", "d", "n", "trial", "lambda", "eta");
  if (format == "json") std::printf("[");
  long rows = 0, unknown = 0;
  for (std::int64_t k = 0; k < box.size(); ++k) {
    const std::int64_t i = box.flat_index(k, shape);
    if (!kept(keep, grid.coordinates(i))) continue;
    const io::CellRecord r = cells.record(k);
    if (r.status != io::CellStatus::done) continue;
    if (r.trial_lambda.empty()) ++unknown;
    const mc::CellParams p = grid.cell(i);
    for (size_t t = 0; t < r.trial_lambda.size(); ++t, ++rows) {
      if (format == "table") {
        std::printf("%7lld %6g %8g %5ld %6ld %6zu %14.8g %14.8g\n", static_cast<long long>(i), p.rho, p.gamma, p.d, p.n,
                    t, r.trial_lambda[t], r.trial_eta[t]);
      } else if (format == "csv") {
        std::printf("%lld,%s,%s,%ld,%ld,%zu,%s,%s\n", static_cast<long long>(i), io::format_real(p.rho).c_str(),
                    io::format_real(p.gamma).c_str(), p.d, p.n, t, io::format_real(r.trial_lambda[t]).c_str(),
                    io::format_real(r.trial_eta[t]).c_str());
      } else {
        std::printf(
            "%s\n {\"cell\": %lld, \"rho\": %s, \"gamma\": %s, \"d\": %ld, \"n\": %ld, \"trial\": %zu, "
            "\"lambda\": %s, \"eta\": %s}",
            rows ? "," : "", static_cast<long long>(i), json_number(p.rho).c_str(), json_number(p.gamma).c_str(), p.d,
            p.n, t, json_number(r.trial_lambda[t]).c_str(), json_number(r.trial_eta[t]).c_str());
      }
    }
  }
  if (format == "json") std::printf("%s]\n", rows ? "\n" : "");
  if (unknown > 0) {
    std::fprintf(stderr, "attnsweep: %ld done cells have no per-trial values (computed by attnsweep 0.1)\n", unknown);
  }
  return 0;
}
}  // namespace

int query_command(const std::vector<std::string>& args) {
  std::string file, format = "table", status;
  std::vector<std::string> rho, gamma, d, n;  // values, each item possibly a comma-separated list
  bool per_trial = false;
  po::options_description desc("attnsweep query options");
  desc.add_options()("file", po::value(&file)->required(), "HDF5 output")(
      "rho", po::value(&rho)->multitoken(), "keep these rho values")("gamma", po::value(&gamma)->multitoken(),
                                                                     "keep these gamma axis values")(
      "d", po::value(&d)->multitoken(), "keep these d values")("n", po::value(&n)->multitoken(), "keep these n values")(
      "status", po::value(&status), "missing | done | failed")("format", po::value(&format)->default_value("table"),
                                                               "table | csv | json")(
      "trials", po::bool_switch(&per_trial), "one row per trial of the done cells (lambda and eta of each trial)");
  po::positional_options_description positional;
  positional.add("file", 1);
  parse(args, desc, &positional);
  if (format != "table" && format != "csv" && format != "json") {
    throw InputError("format must be table, csv or json, not '" + format + "'");
  }
  const bool by_status = !status.empty();
  const io::CellStatus wanted = by_status ? io::parse_status(status) : io::CellStatus::missing;
  const io::ResultsReader reader(file);
  const io::SweepConfig& config = reader.header().config;
  const sweep::Grid grid(config);
  std::set<long> keep[4];
  for (double v : filter_values(rho, "rho")) keep[0].insert(axis_index(config.rho, v, "rho"));
  for (double v : filter_values(gamma, "gamma")) keep[1].insert(axis_index(config.gamma, v, "gamma"));
  for (double v : filter_values(d, "d", true)) keep[2].insert(axis_index(config.d, static_cast<long>(v), "d"));
  for (double v : filter_values(n, "n", true)) keep[3].insert(axis_index(config.n, static_cast<long>(v), "n"));
  // Read only the box that spans the filters (a hyperslab): a one-cell query costs one chunk
  // per dataset, whatever the size of the grid.
  io::CellBox box = reader.whole();
  for (int a = 0; a < 4; ++a) {
    if (keep[a].empty()) continue;
    box.start[a] = *keep[a].begin();
    box.count[a] = *keep[a].rbegin() - *keep[a].begin() + 1;
  }
  if (per_trial && reader.trial_slots() == 0) {
    throw InputError(file + " has no per-trial values (written by attnsweep 0.1, or a grid of over " +
                     std::to_string(io::kMaxTrialValues) + " cells x trials)");
  }
  const unsigned fields = per_trial ? io::ResultsReader::kAll : io::ResultsReader::kAll & ~io::ResultsReader::kTrials;
  const io::SweepState cells = reader.read(box, fields);
  const auto shape = reader.shape();
  if (per_trial) return print_trials(grid, box, shape, keep, cells, format);

  const char* columns =
      "cell,rho,gamma,d,n,status,trials,lambda_mean,lambda_stderr,eta_mean,eta_stderr,seconds,attempts,error";
  if (format == "csv") std::printf("%s\n", columns);
  if (format == "table") {
    std::printf("%7s %6s %8s %5s %6s %7s %6s %12s %10s %12s %10s %8s %3s  %s\n", "cell", "rho", "gamma", "d", "n",
                "status", "trials", "lambda", "+-", "eta", "+-", "seconds", "att", "error");
  }
  if (format == "json") std::printf("[");
  long rows = 0;
  for (std::int64_t k = 0; k < box.size(); ++k) {
    const std::int64_t i = box.flat_index(k, shape);
    if (!kept(keep, grid.coordinates(i))) continue;
    const io::CellRecord r = cells.record(k);
    if (by_status && r.status != wanted) continue;
    const mc::CellParams p = grid.cell(i);
    if (format == "table") {
      std::printf("%7lld %6g %8g %5ld %6ld %7s %6d %12.6g %10.3g %12.6g %10.3g %8.3f %3d  %s\n",
                  static_cast<long long>(i), p.rho, p.gamma, p.d, p.n, io::status_name(r.status), r.trials,
                  r.lambda_mean, r.lambda_stderr, r.eta_mean, r.eta_stderr, r.seconds, r.attempts, r.error.c_str());
    } else if (format == "csv") {
      std::string error = r.error;
      for (char& ch : error)
        if (ch == '"') ch = '\'';
      std::printf("%lld,%s,%s,%ld,%ld,%s,%d,%s,%s,%s,%s,%.6f,%d,\"%s\"\n", static_cast<long long>(i),
                  io::format_real(p.rho).c_str(), io::format_real(p.gamma).c_str(), p.d, p.n, io::status_name(r.status),
                  r.trials, io::format_real(r.lambda_mean).c_str(), io::format_real(r.lambda_stderr).c_str(),
                  io::format_real(r.eta_mean).c_str(), io::format_real(r.eta_stderr).c_str(), r.seconds, r.attempts,
                  error.c_str());
    } else {
      std::printf(
          "%s\n {\"cell\": %lld, \"rho\": %s, \"gamma\": %s, \"d\": %ld, \"n\": %ld, \"status\": \"%s\", "
          "\"trials\": %d, \"lambda_mean\": %s, \"lambda_stderr\": %s, \"eta_mean\": %s, \"eta_stderr\": %s, "
          "\"seconds\": %s, \"attempts\": %d, \"error\": %s}",
          rows ? "," : "", static_cast<long long>(i), json_number(p.rho).c_str(), json_number(p.gamma).c_str(), p.d,
          p.n, io::status_name(r.status), r.trials, json_number(r.lambda_mean).c_str(),
          json_number(r.lambda_stderr).c_str(), json_number(r.eta_mean).c_str(), json_number(r.eta_stderr).c_str(),
          json_number(r.seconds).c_str(), r.attempts, json_string(r.error).c_str());
    }
    ++rows;
  }
  if (format == "json") std::printf("%s]\n", rows ? "\n" : "");
  return 0;
}

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
      // done beats failed beats missing; two done records of one cell are bitwise equal by design,
      // so two that differ mean one file is damaged or was computed by another build.
      if (theirs.status == io::CellStatus::done && mine == io::CellStatus::done &&
          (std::memcmp(&theirs.lambda_mean, &merged.lambda_mean[k], sizeof(double)) != 0 ||
           std::memcmp(&theirs.eta_mean, &merged.eta_mean[k], sizeof(double)) != 0 ||
           theirs.trials != merged.trials[k])) {
        throw InputError("cell " + std::to_string(c) + " is done in " + inputs[i] + " and in an earlier input with " +
                         "different values; the files do not come from one deterministic sweep (run verify on each)");
      }
      if (theirs.status == io::CellStatus::done && mine != io::CellStatus::done) merged.apply(theirs);
      if (theirs.status == io::CellStatus::failed && mine == io::CellStatus::missing) merged.apply(theirs);
    }
  }
  io::SweepConfig config = files[0].config;
  io::write_results_file(output, config, merged);
  std::printf("%s: merged %zu files: %lld done, %lld failed, %lld missing\n", output.c_str(), files.size(),
              static_cast<long long>(merged.count(io::CellStatus::done)),
              static_cast<long long>(merged.count(io::CellStatus::failed)),
              static_cast<long long>(merged.count(io::CellStatus::missing)));
  return 0;
}

}  // namespace attnsweep::app
