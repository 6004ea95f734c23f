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
  if (c.geometry == Geometry::simplex && c.d < c.n + 1) {
    fail("simplex geometry needs d >= n + 1 (got d = " + std::to_string(c.d) + ", n = " + std::to_string(c.n) + ")");
  }
}

std::uint64_t stream_id(long d, long n) {
  return (static_cast<std::uint64_t>(d) << 32) ^ static_cast<std::uint64_t>(n);
}

std::vector<TrialResult> run_trial_over_gamma(const CellParams& cell, const std::vector<double>& gammas,
                                              std::uint64_t trial, std::vector<std::string>& errors,
                                              TrialWorkspace& w) {
  if (cell.geometry == Geometry::simplex) {
    simplex_tokens(cell.n, cell.d, cell.rho, w.X);
  } else {
    RandomStream stream(cell.seed, stream_id(cell.d, cell.n), trial, Purpose::tokens);
    gaussian_tokens(cell.n, cell.d, cell.rho, stream, w.X);
  }
  model::normalize(w.X, w.tokens);
  if (cell.jacobian == JacobianMethod::hutchinson) {
    RandomStream stream(cell.seed, stream_id(cell.d, cell.n), trial, Purpose::probes);
    rademacher_probes(cell.n, cell.d, cell.probes, stream, w.probes);
  }
  std::vector<TrialResult> results(gammas.size());
  errors.assign(gammas.size(), "");
  for (size_t k = 0; k < gammas.size(); ++k) {
    try {
      model::forward(w.tokens, w.X, gammas[k], cell.alpha, w.pass);
      results[k].lambda = model::angle_ratio(w.pass, w.scratch);
      const double norm2 = cell.jacobian == JacobianMethod::exact
                               ? model::jacobian_norm2_exact(w.pass, w.scratch)
                               : model::jacobian_norm2_hutchinson(w.pass, w.probes, w.scratch);
      results[k].eta = norm2 / (static_cast<double>(cell.n) * static_cast<double>(cell.d));
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

CellSamples run_trials(const CellParams& cell, std::uint64_t first, std::uint64_t count) {
  TrialWorkspace workspace;
  CellSamples samples;
  for (std::uint64_t t = first; t < first + count; ++t) samples.add(t, run_trial(cell, t, workspace));
  return samples;
}

double trial_memory_bytes(const CellParams& c) {
  const double n = static_cast<double>(c.n), d = static_cast<double>(c.d);
  // Forward: X, Y, Xbar, Xout (n x d) and G, A, Gout (n x n).
  double doubles = 4 * n * d + 3 * n * n;
  if (c.jacobian == JacobianMethod::exact) {
    const double packed = d * (d + 1) / 2;
    doubles += 3 * n * n + 2 * n * d + (packed < n ? 2 * n * packed : 2 * n * n);
  } else {
    const double m = static_cast<double>(c.probes);
    doubles += 2 * m * n * n + 5 * m * n * d;  // Q, dA; dY twice, V, out, dA Y
  }
  return 8 * doubles;
}

double trial_flops(const CellParams& c) {
  const double n = static_cast<double>(c.n), d = static_cast<double>(c.d);
  const double forward = 6 * n * n * d;
  if (c.jacobian == JacobianMethod::hutchinson) return forward + 6 * n * n * d * static_cast<double>(c.probes);
  const double packed = d * (d + 1) / 2;
  return forward + 4 * n * n * d + 2 * n * n * std::min(n, packed);
}

}  // namespace attnsweep::mc
