// Cost model: seconds per trial from the floating-point count and the O(n^2) elementwise work.
#pragma once

#include "attnsweep/mc/trial.hpp"

namespace attnsweep::sweep {

struct CostModel {
  double flops_per_second = 30e9;   // sustained rate of the trial's matrix products
  double seconds_per_pair = 4e-9;   // softmax, lambda's pair loop, Jacobian loops: per n^2 entry
  double seconds_per_entry = 4e-8;  // random draws: per n d entry

  double trial_seconds(const mc::CellParams& cell) const;

  // Calibrates the three rates on this machine with a few small trials (about a second).
  static CostModel calibrate();
};

// MemAvailable of this machine, in bytes.
double available_memory_bytes();

// Throws io::InputError when one trial of the cell needs more than 90% of the available memory.
void check_fits_in_memory(const mc::CellParams& cell);

}  // namespace attnsweep::sweep
