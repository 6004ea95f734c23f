// The 4-D grid (rho, gamma, d, n) and its stable flat cell index.
//
// flat = ((i_rho * N_gamma + i_gamma) * N_d + i_d) * N_n + i_n
//
// i.e. C order over the HDF5 arrays' shape [N_rho, N_gamma, N_d, N_n]. The index is the
// basis of scheduling, the journal, resume, failure injection and slicing.
#pragma once

#include <cstdint>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/mc/trial.hpp"

namespace attnsweep::sweep {

struct CellCoordinates {
  long rho = 0, gamma = 0, d = 0, n = 0;
};

class Grid {
 public:
  explicit Grid(const io::SweepConfig& config);

  std::int64_t size() const { return size_; }
  std::vector<std::int64_t> shape() const;
  CellCoordinates coordinates(std::int64_t flat) const;
  std::int64_t flat(const CellCoordinates& c) const;
  // The full parameters of one cell (gamma already scaled when gamma-scale = critical).
  mc::CellParams cell(std::int64_t flat) const;
  const io::SweepConfig& config() const { return config_; }

 private:
  io::SweepConfig config_;
  std::int64_t size_;
};

}  // namespace attnsweep::sweep
