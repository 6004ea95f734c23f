#include "attnsweep/model/layer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lanes.hpp"

namespace attnsweep::model {

namespace {
constexpr ScalingLaw kLaws[] = {ScalingLaw::log,      ScalingLaw::log_squared, ScalingLaw::sqrt_log,
                                ScalingLaw::constant, ScalingLaw::log_keys,    ScalingLaw::qwen_logn};
}  // namespace

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
    case ScalingLaw::log_keys:
      return "log-keys";
    case ScalingLaw::qwen_logn:
      return "qwen-logn";
  }
  return "unknown";
}

ScalingLaw parse_scaling(const std::string& text) {
  for (ScalingLaw law : kLaws)
    if (text == scaling_name(law)) return law;
  throw std::invalid_argument("scaling must be log, log-squared, sqrt-log, constant, log-keys or qwen-logn, not '" +
                              text + "'");
}

bool per_position(ScalingLaw law) { return law == ScalingLaw::log_keys || law == ScalingLaw::qwen_logn; }

double attention_scale(double gamma, double n, ScalingLaw law, double train_length) {
  const double ln_n = std::log(n);
  switch (law) {
    case ScalingLaw::log:
    case ScalingLaw::log_keys:
      return gamma * ln_n;
    case ScalingLaw::log_squared:
      return gamma * ln_n * ln_n;
    case ScalingLaw::sqrt_log:
      return gamma * std::sqrt(ln_n);
    case ScalingLaw::constant:
      return gamma;
    case ScalingLaw::qwen_logn:
      return gamma * std::max(std::log(train_length), ln_n);
  }
  return gamma * ln_n;
}

const char* mask_name(Mask mask) { return mask == Mask::causal ? "causal" : "none"; }

Mask parse_mask(const std::string& text) {
  if (text == "none") return Mask::none;
  if (text == "causal") return Mask::causal;
  throw std::invalid_argument("mask must be none or causal, not '" + text + "'");
}

int position_bucket(Eigen::Index i) {
  int bucket = 0;
  while (i >= 4) {
    i >>= 1;
    ++bucket;
  }
  return i >= 2 ? bucket + 1 : bucket;
}

int position_buckets(Eigen::Index n) { return position_bucket(n - 1) + 1; }

Eigen::Index bucket_first(int bucket) { return bucket == 0 ? 0 : Eigen::Index{1} << bucket; }

Eigen::Index bucket_end(int bucket, Eigen::Index n) { return std::min(n, Eigen::Index{2} << bucket); }

std::string position_name(int position) {
  if (position == kWholeSequence) return "whole";
  if (position == kLastBucket) return "last";
  return std::to_string(position);
}

int parse_position(const std::string& text) {
  if (text == "whole") return kWholeSequence;
  if (text == "last") return kLastBucket;
  const bool digits = !text.empty() && text.size() <= 2 && text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && std::stoi(text) <= kMaxBucket) return std::stoi(text);
  throw std::invalid_argument("position must be whole, last or a bucket 0.." + std::to_string(kMaxBucket) + ", not '" +
                              text + "'");
}

int selected_bucket(int position, Eigen::Index n) {
  return position == kLastBucket ? position_buckets(n) - 1 : position;
}

double one_minus_cosine(const Eigen::Ref<const Eigen::RowVectorXd>& u, const Eigen::Ref<const Eigen::RowVectorXd>& v,
                        double cosine) {
  const double naive = 1.0 - cosine;
  if (naive > kSmallAngle) return naive;
  return lanes::half_squared_distance(u.data(), v.data(), u.size());
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
