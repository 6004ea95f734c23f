#include "attnsweep/sweep/grid.hpp"

#include <stdexcept>
#include <string>

namespace attnsweep::sweep {

Grid::Grid(const io::SweepConfig& config) : config_(config) {
  size_ = static_cast<std::int64_t>(config.rho.size() * config.gamma.size() * config.d.size() * config.n.size());
}

std::vector<std::int64_t> Grid::shape() const {
  return {static_cast<std::int64_t>(config_.rho.size()), static_cast<std::int64_t>(config_.gamma.size()),
          static_cast<std::int64_t>(config_.d.size()), static_cast<std::int64_t>(config_.n.size())};
}

CellCoordinates Grid::coordinates(std::int64_t flat) const {
  if (flat < 0 || flat >= size_) throw std::out_of_range("cell index " + std::to_string(flat) + " outside the grid");
  CellCoordinates c;
  const auto nn = static_cast<std::int64_t>(config_.n.size()), nd = static_cast<std::int64_t>(config_.d.size()),
             ng = static_cast<std::int64_t>(config_.gamma.size());
  c.n = flat % nn;
  flat /= nn;
  c.d = flat % nd;
  flat /= nd;
  c.gamma = flat % ng;
  c.rho = flat / ng;
  return c;
}

std::int64_t Grid::flat(const CellCoordinates& c) const {
  return ((c.rho * static_cast<std::int64_t>(config_.gamma.size()) + c.gamma) *
              static_cast<std::int64_t>(config_.d.size()) +
          c.d) *
             static_cast<std::int64_t>(config_.n.size()) +
         c.n;
}

mc::CellParams Grid::cell(std::int64_t index) const {
  const CellCoordinates c = coordinates(index);
  mc::CellParams p;
  p.rho = config_.rho[c.rho];
  p.gamma = io::cell_gamma(config_, p.rho, config_.gamma[c.gamma]);
  p.d = config_.d[c.d];
  p.n = config_.n[c.n];
  p.trials = config_.trials;
  p.probes = config_.probes;
  p.geometry = config_.geometry;
  p.jacobian = config_.jacobian;
  p.alpha = config_.alpha;
  p.scaling = config_.scaling;
  p.layers = config_.layers;
  p.seed = config_.seed;
  p.threads = config_.threads;
  return p;
}

}  // namespace attnsweep::sweep
