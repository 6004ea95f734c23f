#include "attnsweep/mc/trial.hpp"

#include <cmath>
#include <stdexcept>

#include "attnsweep/model/layer.hpp"

namespace attnsweep::mc {

const char* jacobian_name(JacobianMethod method) { return method == JacobianMethod::exact ? "exact" : "hutchinson"; }

JacobianMethod parse_jacobian(const std::string& text) {
  if (text == "exact") return JacobianMethod::exact;
  if (text == "hutchinson") return JacobianMethod::hutchinson;
  throw std::invalid_argument("jacobian must be exact or hutchinson, not '" + text + "'");
}

void validate(const CellParams& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (!(c.rho >= 0 && c.rho < 1)) fail("rho must satisfy 0 <= rho < 1 (got " + std::to_string(c.rho) + ")");
  if (!(c.gamma >= 0) || !std::isfinite(c.gamma))
    fail("gamma must be finite and >= 0 (got " + std::to_string(c.gamma) + ")");
  if (c.d < 1) fail("d must be >= 1 (got " + std::to_string(c.d) + ")");
  if (c.n < 2) fail("n must be >= 2 (got " + std::to_string(c.n) + ")");
  if (c.d > kMaxDimension) fail("d must be <= " + std::to_string(kMaxDimension) + " (got " + std::to_string(c.d) + ")");
  if (c.n > kMaxTokens) fail("n must be <= " + std::to_string(kMaxTokens) + " (got " + std::to_string(c.n) + ")");
  if (c.trials < 1 || c.trials > kMaxTrials)
    fail("trials must be in [1, " + std::to_string(kMaxTrials) + "] (got " + std::to_string(c.trials) + ")");
  if (c.probes < 1 || c.probes > kMaxProbes)
    fail("probes must be in [1, " + std::to_string(kMaxProbes) + "] (got " + std::to_string(c.probes) + ")");
  if (!std::isfinite(c.alpha)) fail("alpha must be finite");
  if (c.threads < 1 || c.threads > kMaxThreads)
    fail("threads must be in [1, " + std::to_string(kMaxThreads) + "] (got " + std::to_string(c.threads) + ")");
  if (c.layers < 1 || c.layers > kMaxLayers)
    fail("layers must be in [1, " + std::to_string(kMaxLayers) + "] (got " + std::to_string(c.layers) + ")");
  if (c.layers > 1 && c.jacobian == JacobianMethod::exact) {
    fail("layers = " + std::to_string(c.layers) +
         " needs jacobian = hutchinson (the exact Jacobian norm is a one-layer formula)");
  }
  if (c.scaling == model::ScalingLaw::qwen_logn && !(c.train_length >= 2))
    fail("scaling qwen-logn needs a training length T >= 2 (got " + std::to_string(c.train_length) + ")");
  if (c.position < model::kLastBucket || c.position > model::kMaxBucket)
    fail("position must be whole, last or a bucket 0.." + std::to_string(model::kMaxBucket) + " (got " +
         std::to_string(c.position) + ")");
  if (c.geometry == Geometry::simplex && c.trials != 1) {
    fail("simplex geometry needs trials = 1 (its tokens are deterministic: every trial would repeat the first; got " +
         std::to_string(c.trials) + ")");
  }
  if (c.geometry == Geometry::simplex && c.d < c.n + 1) {
    fail("simplex geometry needs d >= n + 1 (got d = " + std::to_string(c.d) + ", n = " + std::to_string(c.n) + ")");
  }
}

namespace {
// What the kernel computes besides lambda for this cell: nothing (the critical search), the
// exact norm, or the Hutchinson estimate.
model::JacobianNorm kernel_method(const CellParams& cell) {
  if (!cell.observe_eta) return model::JacobianNorm::none;
  return cell.jacobian == JacobianMethod::exact ? model::JacobianNorm::exact : model::JacobianNorm::hutchinson;
}

// The standard error of the trial's Hutchinson estimate over its probes, on rows [first, end)
// (all rows: the whole sequence; a bucket's): each probe's e_k = |(J v_k) rows|^2 / (rows d)
// (block k of the products J V), sd(e) / sqrt(m). NaN for one probe.
double probe_standard_error(const model::Matrix& products, long probes, long d, Eigen::Index first, Eigen::Index end) {
  if (probes < 2) return std::nan("");
  const double nd = static_cast<double>(end - first) * static_cast<double>(d);
  double mean = 0, m2 = 0;
  for (long k = 0; k < probes; ++k) {
    // Rows [first, end) of block k: d contiguous values at each row's column k d (row-major),
    // summed by Eigen's vectorised reduction (a single chain of additions was 1% of a Hutchinson
    // sweep at d 512).
    const double sum = products.block(first, k * d, end - first, d).squaredNorm();
    const double e = sum / nd;
    const double delta = e - mean;
    mean += delta / static_cast<double>(k + 1);
    m2 += delta * (e - mean);
  }
  return std::sqrt(m2 / static_cast<double>(probes - 1) / static_cast<double>(probes));
}

// The layer's last values by position bucket: lambda's from the kernel, eta's from its Jacobian
// rows (NaN without a Jacobian norm), the probes' standard error from the products' rows (NaN
// unless Hutchinson).
PositionResult by_position(const model::TiledLayer& layer, const CellParams& cell, model::JacobianNorm method) {
  PositionResult p;
  p.lambda = layer.lambda_by_bucket();
  const auto buckets = static_cast<int>(p.lambda.size());
  p.eta.assign(static_cast<size_t>(buckets), std::nan(""));
  p.eta_probe_stderr = p.eta;
  if (method == model::JacobianNorm::none) return p;
  const model::Vector& rows = layer.jacobian_row_norm2();
  for (int b = 0; b < buckets; ++b) {
    const Eigen::Index first = model::bucket_first(b), end = model::bucket_end(b, cell.n);
    p.eta[static_cast<size_t>(b)] =
        rows.segment(first, end - first).sum() / (static_cast<double>(end - first) * static_cast<double>(cell.d));
    if (method == model::JacobianNorm::hutchinson)
      p.eta_probe_stderr[static_cast<size_t>(b)] =
          probe_standard_error(layer.jacobian_vector_products(), cell.probes, cell.d, first, end);
  }
  return p;
}
}  // namespace

TrialResult bucket_result(const PositionResult& positions, int bucket) {
  TrialResult r;
  r.fill(std::nan(""));
  const auto b = static_cast<size_t>(bucket);
  if (bucket < 0 || b >= positions.lambda.size()) return r;
  r[kLambda] = positions.lambda[b];
  r[kEta] = positions.eta[b];
  r[kEtaProbeStderr] = positions.eta_probe_stderr[b];
  return r;
}

std::uint64_t stream_id(long d, long n) {
  return (static_cast<std::uint64_t>(d) << 32) ^ static_cast<std::uint64_t>(n);
}

namespace {
// The trial's tokens (and Hutchinson's probes) into the workspace, and the layer set up for the cell.
void prepare_trial(const CellParams& cell, std::uint64_t trial, TrialWorkspace& w) {
  if (cell.geometry == Geometry::simplex) {
    simplex_tokens(cell.n, cell.d, cell.rho, w.X);
  } else {
    RandomStream stream(cell.seed, stream_id(cell.d, cell.n), trial, Purpose::tokens);
    gaussian_tokens(cell.n, cell.d, cell.rho, stream, w.X);
  }
  w.layer.set_threads(cell.threads);
  if (w.layer.cache_bytes() != cell.cache_bytes) w.layer.set_cache_bytes(cell.cache_bytes);
  if (kernel_method(cell) == model::JacobianNorm::hutchinson) {
    RandomStream stream(cell.seed, stream_id(cell.d, cell.n), trial, Purpose::probes);
    rademacher_probes(cell.n, cell.d, cell.probes, stream, w.probes);
  }
}
}  // namespace

std::vector<TrialResult> run_trial_over_gamma(const CellParams& cell, const std::vector<double>& gammas,
                                              std::uint64_t trial, std::vector<std::string>& errors,
                                              TrialWorkspace& w) {
  const model::JacobianNorm method = kernel_method(cell);
  const bool hutchinson = method == model::JacobianNorm::hutchinson;
  const double nd = static_cast<double>(cell.n) * static_cast<double>(cell.d);
  std::vector<TrialResult> results(gammas.size());
  errors.assign(gammas.size(), "");
  if (w.keep_positions) w.positions.assign(gammas.size(), PositionResult{});
  // The one place that tells undefined from failed: lambda is NaN exactly when no pair of input
  // directions differs (nothing to compare), and a zero output token leaves both observables
  // without a definition; those are recorded as NaN (undefined). Any other non-finite value is a
  // fault of the computation, reported as this gamma's error.
  const auto undefined = [&](size_t k) {
    results[k].fill(std::nan(""));
    const std::vector<double> none(static_cast<size_t>(model::position_buckets(cell.n)), std::nan(""));
    if (w.keep_positions) w.positions[k] = {none, none, none};
  };
  const int bucket = model::selected_bucket(cell.position, cell.n);
  if (bucket >= model::position_buckets(cell.n)) {  // a bucket n tokens do not reach: nothing to compute
    for (size_t k = 0; k < gammas.size(); ++k) undefined(k);
    return results;
  }
  prepare_trial(cell, trial, w);
  const auto record = [&](size_t k, const model::Observables& observed) {
    PositionResult positions;
    if (w.keep_positions || bucket >= 0) positions = by_position(w.layer, cell, method);
    TrialResult r = bucket_result(positions, bucket);
    if (bucket < 0) {
      r[kLambda] = observed.lambda;
      r[kEta] = observed.jacobian_norm2 / nd;
      r[kEtaProbeStderr] =
          hutchinson ? probe_standard_error(w.layer.jacobian_vector_products(), cell.probes, cell.d, 0, cell.n)
                     : std::nan("");
    }
    // Without a Jacobian norm (the critical search) a bucket's eta is NaN and the whole one's 0.
    const bool eta_fault = method == model::JacobianNorm::none ? std::isinf(r[kEta]) : !std::isfinite(r[kEta]);
    if (std::isinf(r[kLambda]) || eta_fault) {
      errors[k] = "non-finite result at trial " + std::to_string(trial) + " (lambda " + std::to_string(r[kLambda]) +
                  ", eta " + std::to_string(r[kEta]) + ")";
      return;
    }
    results[k] = r;
    if (w.keep_positions) w.positions[k] = std::move(positions);
  };

  if (cell.layers == 1) {
    // One layer: the tokens' caches (Gram rows, probe products) are shared by every gamma.
    w.layer.set_tokens(w.X);
    if (hutchinson) w.layer.set_probes(w.probes);
    for (size_t k = 0; k < gammas.size(); ++k) {
      try {
        record(k, w.layer.evaluate(gammas[k], cell.alpha, method, cell.attention()));
      } catch (const model::UndefinedDirection&) {
        undefined(k);
      } catch (const std::exception& e) {
        errors[k] = e.what();
      }
    }
    return results;
  }
  // A stack: the inner layers' inputs depend on gamma, so each gamma runs its own L layers.
  (void)model::inverse_row_norms(w.X, "input token");  // a zero token fails every gamma, as above
  for (size_t k = 0; k < gammas.size(); ++k) {
    try {
      record(k, model::evaluate_stack(w.layer, w.X, hutchinson ? &w.probes : nullptr, cell.layers, gammas[k],
                                      cell.alpha, method, cell.attention(), w.stack));
    } catch (const model::UndefinedDirection&) {
      undefined(k);
    } catch (const std::exception& e) {
      errors[k] = e.what();
    }
  }
  return results;
}

std::vector<TrialResult> run_trial_over_gamma(const CellParams& cell, const std::vector<double>& gammas,
                                              std::uint64_t trial, std::vector<std::string>& errors) {
  TrialWorkspace workspace;
  return run_trial_over_gamma(cell, gammas, trial, errors, workspace);
}

namespace {
TrialResult run_trial(const CellParams& cell, std::uint64_t trial, TrialWorkspace& workspace) {
  std::vector<std::string> errors;
  const TrialResult result = run_trial_over_gamma(cell, {cell.gamma}, trial, errors, workspace).front();
  if (!errors.front().empty()) throw std::runtime_error(errors.front());
  return result;
}
}  // namespace

TrialResult run_trial(const CellParams& cell, std::uint64_t trial) {
  TrialWorkspace workspace;
  return run_trial(cell, trial, workspace);
}

CellSamples run_trials(const CellParams& cell, std::uint64_t first, std::uint64_t count,
                       std::vector<PositionResult>* positions) {
  TrialWorkspace workspace;
  workspace.keep_positions = positions != nullptr;
  CellSamples samples;
  for (std::uint64_t t = first; t < first + count; ++t) {
    samples.add(t, run_trial(cell, t, workspace));
    if (positions) positions->push_back(workspace.positions.front());
  }
  return samples;
}

namespace {
model::KernelCost cost_of(const CellParams& c) {
  model::KernelCost cost = model::kernel_cost(c.n, c.d, c.probes, kernel_method(c), c.threads, c.cache_bytes, c.mask);
  if (c.layers > 1) {
    // Every layer of a stack draws its own caches per gamma; the stack keeps the input's
    // directions, the next layer's tokens and directions.
    const double layers = static_cast<double>(c.layers);
    cost.flops_per_gamma = layers * (cost.flops_per_gamma + cost.flops_per_draw);
    cost.flops_per_draw = 0;
    cost.bytes += 8.0 * static_cast<double>(c.n) * static_cast<double>(c.d) * (2.0 + static_cast<double>(c.probes));
  }
  return cost;
}
}  // namespace

double trial_memory_bytes(const CellParams& c) {
  const double n = static_cast<double>(c.n), d = static_cast<double>(c.d);
  const double drawn = n * d * (1 + (c.jacobian == JacobianMethod::hutchinson ? static_cast<double>(c.probes) : 0));
  return cost_of(c).bytes + 8 * drawn;
}

double trial_flops(const CellParams& c) {
  const model::KernelCost cost = cost_of(c);
  return cost.flops_per_gamma + cost.flops_per_draw;
}

double draw_flops(const CellParams& c) { return cost_of(c).flops_per_draw; }

}  // namespace attnsweep::mc
