// Helpers shared by the kernel and stack tests: fixed-seed token draws and probes, and relative
// differences.
#pragma once

#include <cmath>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/model/layer.hpp"

namespace test_helpers {
using attnsweep::model::Matrix;
inline Matrix gaussian(long n, long d, double rho, std::uint64_t seed) {
  attnsweep::mc::RandomStream stream(seed, 5, 0, attnsweep::mc::Purpose::tokens);
  return attnsweep::mc::gaussian_tokens(n, d, rho, stream);
}
inline Matrix probes(long n, long d, long m, std::uint64_t seed) {
  attnsweep::mc::RandomStream stream(seed, 5, 0, attnsweep::mc::Purpose::probes);
  return attnsweep::mc::rademacher_probes(n, d, m, stream);
}
// Relative difference; 0 when both are NaN (lambda with no pair of distinct directions), the
// absolute difference when the reference is 0 (at d = 1 every direction change is 0).
inline double relative(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return 0;
  return std::abs(a - b) / (b == 0 ? 1.0 : std::abs(b));
}
inline double relative(const Matrix& a, const Matrix& b) {
  const double scale = b.cwiseAbs().maxCoeff();
  return (a - b).cwiseAbs().maxCoeff() / (scale == 0 ? 1.0 : scale);
}
}  // namespace test_helpers
