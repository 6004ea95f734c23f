// `attnsweep cell`: one cell's trials on this machine, with the theory where it applies.
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "cell_positions.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

// ------------------------------------------------------------------------------- cell
namespace {
// {"0.05": q, "0.25": q, "0.5": median, ...}: the quantiles over the trials.
std::string quantiles_json(const mc::Quantiles& q) {
  std::string text = "{";
  for (size_t k = 0; k < q.size(); ++k)
    text += (k ? ", \"" : "\"") + io::format_real(mc::kQuantileLevels[k]) + "\": " + json_number(q[k]);
  return text + "}";
}
// What `cell` prints: the measured summaries and the theory where it applies (NaN elsewhere),
// each observable in mc::kObservables' order.
struct CellReport {
  mc::CellParams cell;
  std::array<mc::Summary, mc::kObservableCount> summaries;
  model::SimplexTheory simplex;
  model::LimitTheory limit;
  std::array<double, mc::kObservableCount> simplex_values{}, limit_values{};
  PositionReport positions;
  double seconds = 0;
  bool paper_law = false, simplex_exists = false, eta_limit_applies = false;
};

// `cell --format json`: the same as the table, and the theory where it applies (null elsewhere).
void print_cell_json(const CellReport& c) {
  const mc::CellParams& cell = c.cell;
  std::string simplex_json = "null";
  if (c.simplex_exists) {
    simplex_json = "{\"lambda\": " + json_number(c.simplex_values[mc::kLambda]) +
                   ", \"eta\": " + json_number(c.simplex_values[mc::kEta]) +
                   ", \"rho_out\": " + json_number(c.simplex.rho_out) +
                   ", \"self_weight\": " + json_number(c.simplex.p) + "}";
  }
  std::string limit_json = "null";
  if (c.paper_law) {
    limit_json = std::string("{\"regime\": \"") + model::regime_name(c.limit.regime) +
                 "\", \"kappa\": " + json_number(c.limit.kappa) + ", \"lambda\": " + json_number(c.limit.lambda) +
                 ", \"eta\": " + json_number(c.eta_limit_applies ? c.limit_values[mc::kEta] : NAN) +
                 ", \"cosine_out\": " + json_number(c.limit.cosine_out) +
                 ", \"gamma_critical\": " + json_number(model::critical_gamma(cell.rho)) + "}";
  }
  std::string observables;
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const std::string name = mc::kObservables[k].name;
    const mc::Summary& s = c.summaries[k];
    observables +=
        "\"" + name + "_mean\": " + json_number(s.mean) + ", \"" + name + "_stderr\": " + json_number(s.std_error) +
        ", \"" + name + "_quantiles\": " + quantiles_json(s.quantiles) + ", \"" + name +
        "_defined\": " + std::to_string(s.count) + ", \"" + name +
        "_heavy_tail\": " + (mc::heavy_tailed(s.mean, s.std_error, s.count, s.quantiles) ? "true" : "false") + ", ";
  }
  const double floor = mc::lambda_rounding_floor(cell.d, cell.rho);
  observables += "\"lambda_rounding_floor\": " + json_number(floor) + ", \"lambda_at_floor\": " +
                 (mc::lambda_at_floor(c.summaries[mc::kLambda].quantiles[2], cell.d, cell.rho) ? "true" : "false") +
                 ", ";
  std::printf(
      "{\"rho\": %s, \"gamma\": %s, \"d\": %ld, \"n\": %ld, \"trials\": %ld, \"probes\": %ld, "
      "\"geometry\": \"%s\", \"jacobian\": \"%s\", \"alpha\": %s, \"seed\": %llu, \"beta\": %s, %s"
      "\"seconds\": %s, \"scaling\": \"%s\", \"mask\": \"%s\", \"train_length\": %s, \"layers\": %ld, "
      "\"position\": \"%s\", \"positions\": %s, \"theory\": {\"simplex\": %s, \"limit\": %s}}\n",
      json_number(cell.rho).c_str(), json_number(cell.gamma).c_str(), cell.d, cell.n, cell.trials, cell.probes,
      mc::geometry_name(cell.geometry), mc::jacobian_name(cell.jacobian), json_number(cell.alpha).c_str(),
      static_cast<unsigned long long>(cell.seed), json_number(c.simplex.beta).c_str(), observables.c_str(),
      json_number(c.seconds).c_str(), model::scaling_name(cell.scaling), model::mask_name(cell.mask),
      json_number(cell.train_length > 0 ? cell.train_length : NAN).c_str(), cell.layers,
      model::position_name(cell.position).c_str(), position_json(cell, c.positions).c_str(), simplex_json.c_str(),
      limit_json.c_str());
}

std::string number_or_na(double v, bool applies) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return applies && std::isfinite(v) ? std::string(text) : std::string("n/a");
}

// The table's lines for what differs from the paper's layer: the mask, qwen-logn's T, a stack, a bucket.
void print_model_lines(const mc::CellParams& cell) {
  if (cell.mask == model::Mask::causal)
    std::printf("  causal mask: row i attends to tokens 0..i%s\n",
                model::per_position(cell.scaling) ? ", with its own beta_i" : "");
  if (cell.scaling == model::ScalingLaw::qwen_logn)
    std::printf("  qwen-logn: beta_i = gamma max(ln T, ln k_i), training length T = %g\n", cell.train_length);
  if (cell.layers > 1) std::printf("  %ld layers (lambda and eta of the whole L-layer map)\n", cell.layers);
  if (const int b = model::selected_bucket(cell.position, cell.n); b >= 0)
    std::printf(
        "  position bucket %d (tokens %ld..%ld): lambda over the pairs whose later token is in it, eta over "
        "its rows\n",
        b, static_cast<long>(model::bucket_first(b)), static_cast<long>(model::bucket_end(b, cell.n) - 1));
}

// `cell`'s table: the parameters, each observable's mean, standard error, median and 5..95%
// range beside the theory where it applies, and what was undefined.
void print_cell_table(const CellReport& c) {
  const mc::CellParams& cell = c.cell;
  if (c.paper_law) {
    std::printf("cell rho = %g, gamma = %g (kappa = gamma (1 - rho) = %.4g, %s), d = %ld, n = %ld, beta = %.4g\n",
                cell.rho, cell.gamma, c.limit.kappa, model::regime_name(c.limit.regime), cell.d, cell.n,
                c.simplex.beta);
  } else {
    std::printf("cell rho = %g, gamma = %g (scaling %s), d = %ld, n = %ld, beta = %.4g%s\n", cell.rho, cell.gamma,
                model::scaling_name(cell.scaling), cell.d, cell.n, c.simplex.beta,
                positional(cell) ? " (the last row's)" : "");
  }
  print_model_lines(cell);
  std::printf(
      "  %ld trials, %s geometry, %s Jacobian%s, alpha = %g, seed = %llu, %.3f s\n", cell.trials,
      mc::geometry_name(cell.geometry), mc::jacobian_name(cell.jacobian),
      cell.jacobian == mc::JacobianMethod::hutchinson ? (" (" + std::to_string(cell.probes) + " probes)").c_str() : "",
      cell.alpha, static_cast<unsigned long long>(cell.seed), c.seconds);
  // A row per observable measured (the probes' error only where there are probes), labels as wide as the longest.
  const auto shown = [&c](size_t k) { return c.summaries[k].count > 0 || mc::kObservables[k].decides_status; };
  int width = 8;
  for (size_t k = 0; k < mc::kObservableCount; ++k)
    if (shown(k)) width = std::max(width, static_cast<int>(std::strlen(mc::kObservables[k].name)));
  std::printf("  %-*s %14s %12s %12s %25s %16s %12s\n", width, "", "mean", "stderr", "median", "5% .. 95% of trials",
              "simplex theory", "n -> inf");
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const mc::Summary& s = c.summaries[k];
    if (!shown(k)) continue;
    char range[64];
    std::snprintf(range, sizeof range, "%.4g .. %.4g", s.quantiles[0], s.quantiles[4]);
    std::printf("  %-*s %14.6g %12.3g %12.6g %25s %16s %12s\n", width, mc::kObservables[k].name, s.mean, s.std_error,
                s.quantiles[2], range, number_or_na(c.simplex_values[k], c.simplex_exists).c_str(),
                number_or_na(c.limit_values[k], c.paper_law).c_str());
  }
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const mc::Summary& s = c.summaries[k];
    if (mc::heavy_tailed(s.mean, s.std_error, s.count, s.quantiles))
      std::printf(
          "  (%s looks heavy-tailed: its standard deviation is %.3g times its interquartile scale; a few "
          "trials dominate the mean: read the median and quantiles)\n",
          mc::kObservables[k].name,
          s.std_error * std::sqrt(static_cast<double>(s.count)) / ((s.quantiles[3] - s.quantiles[1]) / 1.349));
    if (s.count < cell.trials && mc::kObservables[k].decides_status)
      std::printf("  (%s is undefined in %ld of %ld trials: %s; the statistics are over the other %ld)\n",
                  mc::kObservables[k].name, cell.trials - s.count, cell.trials, mc::kObservables[k].undefined_when,
                  s.count);
  }
  const double floor = mc::lambda_rounding_floor(cell.d, cell.rho);
  if (mc::lambda_at_floor(c.summaries[mc::kLambda].quantiles[2], cell.d, cell.rho))
    std::printf(
        "  (lambda's median is at double precision's rounding floor, %.2g at d = %ld, rho = %g: the tokens "
        "collapsed to one direction within rounding; the value measures rounding, not how far)\n",
        floor, cell.d, cell.rho);
  if (mc::tokens_of(cell) == mc::CellSamples::Tokens::fixed && c.summaries[mc::kEta].count == 1 &&
      std::isfinite(c.summaries[mc::kEta].std_error))
    std::printf(
        "  (eta's standard error is the spread of its %ld probes: the tokens are fixed, the probes are the only "
        "randomness)\n",
        cell.probes);
  if (!c.simplex_exists)
    std::printf("  (simplex theory needs d >= n + 1: no simplex of n directions fits in d = %ld)\n", cell.d);
  if (!c.paper_law)
    std::printf(
        "  (the n -> inf limits are the paper's, for one layer, alpha = 0, no mask, beta = gamma ln n and the whole "
        "sequence only)\n");
  else if (!c.eta_limit_applies)
    std::printf("  (eta has no n -> inf limit here: gaussian tokens at d <= 2 have E[1/|x|^2] infinite)\n");
  else if (cell.geometry == mc::Geometry::gaussian && c.limit_values[mc::kEta] != 0)
    std::printf("  (eta's limit for gaussian tokens: the unit-norm value times E[1/|x|^2] = d/(d - 2))\n");
  if (c.simplex_exists && cell.layers > 1)
    std::printf("  (simplex theory of a stack: lambda by iterating the one-layer map; no closed form for eta)\n");
  if (positional(cell) && cell.layers > 1 && cell.d >= cell.n + 1)
    std::printf(
        "  (no simplex theory for a stack under a mask or a per-position law: a layer's output is no simplex)\n");
  if (positional(cell) || cell.position != model::kWholeSequence) print_position_table(cell, c.positions);
}
}  // namespace

namespace {
// The cell's options and the config keys they are: a cell is a study of one cell, so its options
// go through the config's parser and rules (io::parse_config), the one place a value is checked.
struct CellOption {
  const char* option;
  const char* key;
  const char* help;
};
constexpr CellOption kCellOptions[] = {
    {"rho", "grid.rho", "input pairwise cosine, 0 <= rho < 1"},
    {"gamma", "grid.gamma", "scale: beta = gamma ln n (see --scaling)"},
    {"d", "grid.d", "token dimension"},
    {"n", "grid.n", "number of tokens"},
    {"trials", "mc.trials", "Monte-Carlo trials (8; simplex geometry: 1, its only value)"},
    {"probes", "mc.probes", "Hutchinson probes per trial (4)"},
    {"cache-mb", "mc.cache-mb",
     "MiB of the kernel's cache a trial may use (256; a sweep's value reproduces its cells)"},
    {"geometry", "mc.geometry", "gaussian | simplex (gaussian)"},
    {"alpha", "mc.alpha", "residual weight (0)"},
    {"scaling", "mc.scaling",
     "beta = gamma x: log (ln n) | log-squared ((ln n)^2) | sqrt-log (sqrt(ln n)) | constant (1) | per row i with "
     "k_i keys: log-keys (ln k_i) | qwen-logn (max(ln T, ln k_i))"},
    {"mask", "mc.mask", "none | causal (none): causal = row i attends to tokens 0..i"},
    {"train-length", "mc.train-length", "qwen-logn's training length T (needed by that law only)"},
    {"position", "mc.position",
     "whole | last | a bucket b (whole): the observables of the whole sequence or of position bucket b (tokens "
     "2^b .. 2^(b+1) - 1; a sweep's grid.position)"},
    {"layers", "mc.layers", "the layer applied L times (1; L > 1 needs --jacobian hutchinson)"},
    {"seed", "mc.seed", "random seed (2025)"},
    {"jacobian", "mc.jacobian", "exact | hutchinson (exact)"},
    {"threads", "run.threads", "threads on each trial (1; results do not depend on it)"},
};

// The config's message names its key (`grid.rho = 1.5: must ...`); the user typed --rho.
std::string as_option_message(std::string message) {
  for (const CellOption& o : kCellOptions) {
    const std::string key = o.key;
    for (size_t at = message.find(key); at != std::string::npos; at = message.find(key, at + 1)) {
      const bool whole = (at == 0 || message[at - 1] == ' ' || message[at - 1] == '\'') &&
                         (at + key.size() == message.size() ||
                          std::string(" :=',").find(message[at + key.size()]) != std::string::npos);
      if (whole) message.replace(at, key.size(), std::string("--") + o.option);
    }
  }
  return message;
}

// One cell from the options: parsed and checked as a config whose axes hold one value each.
mc::CellParams cell_from_options(const po::variables_map& given) {
  std::vector<std::string> overrides;
  for (const CellOption& o : kCellOptions) {
    if (!given.count(o.option)) continue;
    const std::string text = given[o.option].as<std::string>();
    // One value: a list or a range (",", ":") would make an axis of several cells.
    if (std::string(o.key).rfind("grid.", 0) == 0 && text.find_first_of(",:") != std::string::npos)
      throw InputError(std::string("--") + o.option + " takes one value, not '" + text + "' (a sweep: attnsweep run)");
    overrides.push_back(std::string(o.key) + "=" + text);
  }
  try {
    const io::SweepConfig config = io::parse_config("", overrides, "cell options");
    return sweep::Grid(config).cell(0);
  } catch (const InputError& e) {
    throw InputError(as_option_message(e.what()));
  }
}
}  // namespace

int cell_command(const std::vector<std::string>& args) {
  std::string format = "table";
  po::options_description desc("attnsweep cell options");
  for (const CellOption& o : kCellOptions) {
    const bool required = std::string(o.key).rfind("grid.", 0) == 0;
    desc.add_options()(o.option, required ? po::value<std::string>()->required() : po::value<std::string>(), o.help);
  }
  desc.add_options()("format", po::value(&format)->default_value("table"), "table | json");
  const mc::CellParams cell = cell_from_options(parse(args, desc));
  if (format != "table" && format != "json") throw InputError("format must be table or json, not '" + format + "'");
  sweep::check_fits_in_memory(cell);

  const auto start = std::chrono::steady_clock::now();
  // A cell the model cannot compute (a fault: a non-finite value) fails as it would in a sweep:
  // the message, and exit 1. A trial in which an observable is undefined by its definition is
  // not a fault: the statistics are over the defined trials, and say how many.
  mc::CellSamples samples;
  std::vector<mc::PositionResult> positions;
  try {
    samples = mc::run_trials(cell, 0, static_cast<std::uint64_t>(cell.trials), &positions);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "attnsweep: cell failed: %s\n", e.what());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CellReport report;
  report.cell = cell;
  report.seconds = seconds;
  for (size_t k = 0; k < mc::kObservableCount; ++k) report.summaries[k] = samples.summary(k, mc::tokens_of(cell));
  report.simplex = model::simplex_theory_layers(cell.rho, cell.gamma, static_cast<double>(cell.n),
                                                static_cast<double>(cell.d), cell.alpha, cell.layers, cell.scaling);
  report.limit = model::limit_theory(cell.rho, cell.gamma, static_cast<double>(cell.d));
  report.positions = position_report(cell, positions);
  static_assert(mc::kObservableCount == 3,
                "cell's theory knows lambda and eta: give a new observable its own (or NaN)");
  report.simplex_values = {report.simplex.lambda, report.simplex.eta, NAN};
  if (positional(cell)) {
    // Row by row (MODEL.md section 11): beta shown is the last row's.
    report.simplex.beta = cell.attention().row_scale(cell.gamma, cell.n - 1, cell.n);
    report.simplex_values = {report.positions.theory.lambda_all, report.positions.theory.eta_all, NAN};
  }
  const int bucket = model::selected_bucket(cell.position, cell.n);
  if (bucket >= 0) {
    // One bucket's values (the closed form bucket by bucket, whatever the mask and law).
    const model::PositionTheory& t = report.positions.theory;
    const bool known = report.positions.theory_applies && static_cast<size_t>(bucket) < t.lambda.size();
    report.simplex_values = {known ? t.lambda[static_cast<size_t>(bucket)] : NAN,
                             known ? t.eta[static_cast<size_t>(bucket)] : NAN, NAN};
  }
  // The n -> infinity limits (and kappa, the regime, gamma_c) are the paper's: one layer without
  // residual (alpha = 0), beta = gamma ln n and the whole sequence. Its eta limit is for unit-norm
  // tokens; gaussian tokens carry E[1/|x|^2] = d/(d - 2), infinite at d <= 2 (MODEL.md section 5).
  report.paper_law = cell.scaling == model::ScalingLaw::log && cell.mask == model::Mask::none && cell.layers == 1 &&
                     cell.alpha == 0 && bucket < 0;
  const double d = static_cast<double>(cell.d);
  const double norm_factor = cell.geometry == mc::Geometry::simplex ? 1.0 : d > 2 ? d / (d - 2) : NAN;
  report.eta_limit_applies = std::isfinite(norm_factor) || report.limit.eta == 0;
  report.limit_values = {report.limit.lambda, report.limit.eta == 0 ? 0.0 : report.limit.eta * norm_factor, NAN};
  // The exact-simplex formulas hold only where a simplex of n directions exists (d >= n + 1);
  // elsewhere they are a formula outside its assumptions, not a prediction, and are not shown.
  report.simplex_exists =
      cell.d >= cell.n + 1 && (!(positional(cell) || bucket >= 0) || report.positions.theory_applies);
  if (format == "json")
    print_cell_json(report);
  else
    print_cell_table(report);
  return 0;
}

}  // namespace attnsweep::app
