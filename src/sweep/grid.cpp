#include "attnsweep/sweep/grid.hpp"

#include <stdexcept>
#include <string>

namespace attnsweep::sweep {

Grid::Grid(const io::SweepConfig& config) : config_(config), axes_(io::study_axes(config)) {
  strides_.assign(axes_.size(), 1);
  for (size_t a = axes_.size(); a-- > 0;) {
    strides_[a] = size_;
    size_ *= axes_[a].size();
  }
  inner_ = strides_[kGammaAxis];
  gammas_ = axes_[kGammaAxis].size();
  // The position axis, when swept, is the last (io/study_axes.cpp lists it last).
  if (axes_.back().name == "position") positions_ = axes_.back().size();
}

std::vector<std::int64_t> Grid::shape() const {
  std::vector<std::int64_t> shape;
  for (const io::Axis& axis : axes_) shape.push_back(axis.size());
  return shape;
}

std::vector<std::int64_t> Grid::coordinates(std::int64_t flat) const {
  if (flat < 0 || flat >= size_) throw std::out_of_range("cell index " + std::to_string(flat) + " outside the grid");
  std::vector<std::int64_t> at(axes_.size());
  for (size_t a = 0; a < axes_.size(); ++a) {
    at[a] = flat / strides_[a];
    flat %= strides_[a];
  }
  return at;
}

std::int64_t Grid::flat(const std::vector<std::int64_t>& at) const {
  std::int64_t flat = 0;
  for (size_t a = 0; a < axes_.size(); ++a) flat += at[a] * strides_[a];
  return flat;
}

mc::CellParams Grid::cell(std::int64_t index) const {
  const std::vector<std::int64_t> at = coordinates(index);
  mc::CellParams p;
  p.rho = config_.rho[static_cast<size_t>(at[kRhoAxis])];
  p.gamma = io::cell_gamma(config_, p.rho, config_.gamma[static_cast<size_t>(at[kGammaAxis])]);
  p.d = config_.d[static_cast<size_t>(at[kDAxis])];
  p.n = config_.n[static_cast<size_t>(at[kNAxis])];
  p.trials = config_.trials;
  p.probes = config_.probes;
  p.geometry = config_.geometry;
  p.jacobian = config_.jacobian;
  p.alpha = config_.alpha;
  p.scaling = config_.scaling;
  p.mask = config_.mask;
  p.train_length = static_cast<double>(config_.train_length);
  p.layers = config_.layers;
  p.position = config_.position;
  p.seed = config_.seed;
  p.threads = config_.threads;
  p.cache_bytes = static_cast<std::size_t>(config_.cache_mb) << 20;
  for (size_t a = kFixedAxes; a < axes_.size(); ++a) io::apply_axis_value(axes_[a], at[a], p);
  return p;
}

}  // namespace attnsweep::sweep
