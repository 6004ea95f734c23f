// The study's grid (io/study_axes.hpp: rho, gamma, d, n, then each swept model parameter) and its
// stable flat cell index: C order over the axes, which is the order of the HDF5 arrays' dimensions.
// The index is the basis of scheduling, the journal, resume, growth, failure injection and
// slicing.
//
// rho and gamma are the two outermost axes, so the cells that differ only in rho and gamma (same
// cost) and the cells that differ only in gamma (same token draws) are found by arithmetic on
// the index.
#pragma once

#include <cstdint>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/mc/trial.hpp"

namespace attnsweep::sweep {

// Positions of the fixed axes in Grid::axes().
enum AxisIndex : size_t { kRhoAxis = 0, kGammaAxis = 1, kDAxis = 2, kNAxis = 3, kFixedAxes = 4 };

class Grid {
 public:
  explicit Grid(const io::SweepConfig& config);

  std::int64_t size() const { return size_; }
  const std::vector<io::Axis>& axes() const { return axes_; }
  std::vector<std::int64_t> shape() const;
  // One index per axis, in axes() order.
  std::vector<std::int64_t> coordinates(std::int64_t flat) const;
  std::int64_t flat(const std::vector<std::int64_t>& at) const;
  // The full parameters of one cell (gamma already scaled when gamma-scale = critical).
  mc::CellParams cell(std::int64_t flat) const;
  // Cells with the same draw group share their token draws (common random numbers: the draws
  // depend on d and n, and everything but gamma and the position is the same), so a task draws
  // once for them all: the cell's flat index with gamma and the position at their first values.
  std::int64_t draw_group(std::int64_t flat) const {
    return flat - (flat / inner_ % gammas_) * inner_ - flat % positions_;
  }
  // Cells per evaluation of the layer: the cells of one draw group and one gamma that differ only
  // in the position (the last axis) read one evaluation's buckets; 1 without a position axis.
  std::int64_t positions_per_evaluation() const { return positions_; }
  // Cells of one cost class differ only in rho and gamma, which do not change a trial's cost:
  // classes are 0 .. cost_classes() - 1, and class k's first cell is cell k.
  std::int64_t cost_class(std::int64_t flat) const { return flat % inner_; }
  std::int64_t cost_classes() const { return inner_; }
  const io::SweepConfig& config() const { return config_; }

 private:
  io::SweepConfig config_;
  std::vector<io::Axis> axes_;
  std::vector<std::int64_t> strides_;
  std::int64_t size_ = 1, inner_ = 1, gammas_ = 1, positions_ = 1;
};

}  // namespace attnsweep::sweep
