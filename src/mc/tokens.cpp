#include "attnsweep/mc/tokens.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace attnsweep::mc {

const char* geometry_name(Geometry geometry) { return geometry == Geometry::gaussian ? "gaussian" : "simplex"; }

Geometry parse_geometry(const std::string& text) {
  if (text == "gaussian") return Geometry::gaussian;
  if (text == "simplex") return Geometry::simplex;
  throw std::invalid_argument("geometry must be gaussian or simplex, not '" + text + "'");
}

model::Matrix gaussian_tokens(long n, long d, double rho, RandomStream& stream) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Eigen::RowVectorXd z0(d);
  for (long a = 0; a < d; ++a) z0(a) = scale * stream.normal();
  const double shared = std::sqrt(rho), own = std::sqrt(1 - rho);
  model::Matrix X(n, d);
  for (long i = 0; i < n; ++i)
    for (long a = 0; a < d; ++a) X(i, a) = shared * z0(a) + own * scale * stream.normal();
  return X;
}

model::Matrix simplex_tokens(long n, long d, double rho) {
  if (d < n + 1) {
    throw std::invalid_argument("simplex geometry needs d >= n + 1 (d = " + std::to_string(d) +
                                ", n = " + std::to_string(n) + ")");
  }
  model::Matrix X = model::Matrix::Zero(n, d);
  const double shared = std::sqrt(rho), own = std::sqrt(1 - rho);
  for (long i = 0; i < n; ++i) {
    X(i, 0) = shared;
    X(i, i + 1) = own;
  }
  return X;
}

model::Matrix rademacher_probes(long n, long d, long m, RandomStream& stream) {
  // 64 signs per random word, written straight into the (row-major) storage: the same
  // bit order as RandomStream::sign(), without a call and a branch per entry.
  model::Matrix V(n, m * d);
  double* out = V.data();
  const long total = V.size();
  for (long start = 0; start < total; start += 64) {
    std::uint64_t bits = stream.next_u64();
    const long stop = std::min(total, start + 64);
    for (long i = start; i < stop; ++i, bits >>= 1) out[i] = (bits & 1u) ? 1.0 : -1.0;
  }
  return V;
}

}  // namespace attnsweep::mc
