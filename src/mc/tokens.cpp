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

void gaussian_tokens(long n, long d, double rho, RandomStream& stream, model::Matrix& X) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Eigen::RowVectorXd z0(d);
  for (long a = 0; a < d; ++a) z0(a) = scale * stream.normal();
  const double shared = std::sqrt(rho), own = std::sqrt(1 - rho);
  X.resize(n, d);
  for (long i = 0; i < n; ++i)
    for (long a = 0; a < d; ++a) X(i, a) = shared * z0(a) + own * scale * stream.normal();
}

model::Matrix gaussian_tokens(long n, long d, double rho, RandomStream& stream) {
  model::Matrix X;
  gaussian_tokens(n, d, rho, stream, X);
  return X;
}

model::Matrix simplex_tokens(long n, long d, double rho) {
  model::Matrix X;
  simplex_tokens(n, d, rho, X);
  return X;
}

void simplex_tokens(long n, long d, double rho, model::Matrix& X) {
  if (d < n + 1) {
    throw std::invalid_argument("simplex geometry needs d >= n + 1 (d = " + std::to_string(d) +
                                ", n = " + std::to_string(n) + ")");
  }
  X.setZero(n, d);
  const double shared = std::sqrt(rho), own = std::sqrt(1 - rho);
  for (long i = 0; i < n; ++i) {
    X(i, 0) = shared;
    X(i, i + 1) = own;
  }
}

model::Matrix rademacher_probes(long n, long d, long m, RandomStream& stream) {
  model::Matrix V;
  rademacher_probes(n, d, m, stream, V);
  return V;
}

void rademacher_probes(long n, long d, long m, RandomStream& stream, model::Matrix& V) {
  // 64 signs per random word, written straight into the (row-major) storage: the same
  // bit order as RandomStream::sign(), without a call and a branch per entry.
  V.resize(n, m * d);
  double* out = V.data();
  const long total = V.size();
  for (long start = 0; start < total; start += 64) {
    std::uint64_t bits = stream.next_u64();
    const long stop = std::min(total, start + 64);
    for (long i = start; i < stop; ++i, bits >>= 1) out[i] = (bits & 1u) ? 1.0 : -1.0;
  }
}

}  // namespace attnsweep::mc
