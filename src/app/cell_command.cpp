// `attnsweep cell`: one cell's trials on this machine, with the theory where it applies.
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/theory.hpp"
#include "attnsweep/sweep/cost.hpp"
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

}  // namespace attnsweep::app
