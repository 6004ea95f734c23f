#include "attnsweep/model/layer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace attnsweep::model {

const char* scaling_name(ScalingLaw law) {
  switch (law) {
    case ScalingLaw::log:
      return "log";
    case ScalingLaw::log_squared:
      return "log-squared";
    case ScalingLaw::sqrt_log:
      return "sqrt-log";
    case ScalingLaw::constant:
      return "constant";
  }
  return "unknown";
}

ScalingLaw parse_scaling(const std::string& text) {
  for (ScalingLaw law : {ScalingLaw::log, ScalingLaw::log_squared, ScalingLaw::sqrt_log, ScalingLaw::constant})
    if (text == scaling_name(law)) return law;
  throw std::invalid_argument("scaling must be log, log-squared, sqrt-log or constant, not '" + text + "'");
}

double attention_scale(double gamma, double n, ScalingLaw law) {
  const double ln_n = std::log(n);
  switch (law) {
    case ScalingLaw::log:
      return gamma * ln_n;
    case ScalingLaw::log_squared:
      return gamma * ln_n * ln_n;
    case ScalingLaw::sqrt_log:
      return gamma * std::sqrt(ln_n);
    case ScalingLaw::constant:
      return gamma;
  }
  return gamma * ln_n;
}

double one_minus_cosine(const Eigen::Ref<const Eigen::RowVectorXd>& u, const Eigen::Ref<const Eigen::RowVectorXd>& v,
                        double cosine) {
  const double naive = 1.0 - cosine;
  if (naive > kSmallAngle) return naive;
  return 0.5 * (u - v).squaredNorm();
}

Vector inverse_row_norms(const MatrixRef& X, const char* what) {
  Vector norms = X.rowwise().norm();
  for (Eigen::Index i = 0; i < norms.size(); ++i) {
    if (norms(i) == 0) {
      throw UndefinedDirection(std::string(what) + " row " + std::to_string(i) +
                               " has norm 0: its direction is undefined");
    }
    if (!(norms(i) > 0) || !std::isfinite(norms(i))) {
      throw std::invalid_argument(std::string(what) + " row " + std::to_string(i) + " has norm " +
                                  std::to_string(norms(i)) + ": its direction is undefined");
    }
  }
  return norms.cwiseInverse();
}

}  // namespace attnsweep::model
