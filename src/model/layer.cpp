#include "attnsweep/model/layer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace attnsweep::model {

double attention_scale(double gamma, Eigen::Index n) { return gamma * std::log(static_cast<double>(n)); }

double one_minus_cosine(const Eigen::Ref<const Eigen::RowVectorXd>& u, const Eigen::Ref<const Eigen::RowVectorXd>& v,
                        double cosine) {
  const double naive = 1.0 - cosine;
  if (naive > kSmallAngle) return naive;
  return 0.5 * (u - v).squaredNorm();
}

Vector inverse_row_norms(const MatrixRef& X, const char* what) {
  Vector norms = X.rowwise().norm();
  for (Eigen::Index i = 0; i < norms.size(); ++i) {
    if (!(norms(i) > 0) || !std::isfinite(norms(i))) {
      throw std::invalid_argument(std::string(what) + " row " + std::to_string(i) + " has norm " +
                                  std::to_string(norms(i)) + ": its direction is undefined");
    }
  }
  return norms.cwiseInverse();
}

}  // namespace attnsweep::model
