// Reductions in kLanes independent partial sums (internal to the model floor). A running sum
// `total += x` waits ~4 cycles per term on the previous addition; kLanes sums that a vector
// register holds side by side do not, and each is combined at the end in one fixed order, so the
// result is the same on every machine, rank and thread count (kernel version 2's order).
#pragma once

#include <Eigen/Core>

namespace attnsweep::model::lanes {

inline constexpr int kLanes = 8;

// Partial sums: lane k holds the terms whose index is k modulo kLanes within a loop.
struct Sums {
  double lane[kLanes] = {};
  // The lanes, pairwise in a fixed order.
  double total() const {
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
  }
};

// Calls body(index, lane) for index in [first, end), lane = (index - first) mod kLanes, in
// blocks of kLanes that the compiler turns into vector instructions.
template <class Body>
inline void for_lanes(Eigen::Index first, Eigen::Index end, Body&& body) {
  Eigen::Index i = first;
  for (; i + kLanes <= end; i += kLanes)
    for (int k = 0; k < kLanes; ++k) body(i + k, k);
  for (int k = 0; i < end; ++i, ++k) body(i, k);
}

inline double sum(const double* x, Eigen::Index count) {
  Sums s;
  for_lanes(0, count, [&](Eigen::Index i, int k) { s.lane[k] += x[i]; });
  return s.total();
}

inline double sum_squares(const double* x, Eigen::Index count) {
  Sums s;
  for_lanes(0, count, [&](Eigen::Index i, int k) { s.lane[k] += x[i] * x[i]; });
  return s.total();
}

// 1 - <u, v> for unit rows u, v of length d by the difference form |u - v|^2 / 2, which keeps
// the digits a dot product near 1 loses (layer.hpp's one_minus_cosine, kSmallAngle).
inline double half_squared_distance(const double* u, const double* v, Eigen::Index d) {
  Sums s;
  for_lanes(0, d, [&](Eigen::Index i, int k) {
    const double diff = u[i] - v[i];
    s.lane[k] += diff * diff;
  });
  return 0.5 * s.total();
}

}  // namespace attnsweep::model::lanes
