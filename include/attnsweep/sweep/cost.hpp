// Cost model: seconds per trial from the floating-point count and the O(n^2) elementwise work.
#pragma once

#include "attnsweep/mc/trial.hpp"

namespace attnsweep::sweep {

struct CostModel {
  double flops_per_second = 30e9;   // sustained rate of the trial's matrix products
  double seconds_per_pair = 4e-9;   // softmax, lambda's pair loop, Jacobian loops: per n^2 entry
  double seconds_per_entry = 2e-8;  // the token draw: per Gaussian n d entry
  double seconds_per_sign = 1e-9;   // Hutchinson's probes: per random sign (m n d of them)

  // The random numbers of one trial's draw: its tokens and, for Hutchinson, its probes.
  double draw_seconds(const mc::CellParams& cell) const;
  double trial_seconds(const mc::CellParams& cell) const;
  // One trial of `gammas` cells of one draw group (they differ only in gamma): the token draw,
  // its caches and the random numbers once, the rest per gamma.
  double group_trial_seconds(const mc::CellParams& cell, long gammas) const;

  // Calibrates the rates on this machine: the draws of tokens and probe signs, then two
  // reference cells (n = 512, d = 2 and 256), each the median of a few repeats after a warm-up
  // (about a second).
  static CostModel calibrate();
  // Every time `factor` times longer (a correction measured on the cells of a grid).
  CostModel scaled(double factor) const;
};

// Seconds of one trial of `cell` on this machine, as a worker pays it: one untimed trial first
// (allocation, page faults), then the median of `repeats` trials.
double measure_trial_seconds(const mc::CellParams& cell, int repeats = 5);

// MemAvailable of this machine, in bytes.
double available_memory_bytes();

// Throws io::InputError when one trial of the cell needs more than 90% of the available memory.
void check_fits_in_memory(const mc::CellParams& cell);

// Bytes rank 0 holds for a grid of this many cells: the state of every cell and, while a
// snapshot is being written, its copy.
double master_memory_bytes(std::int64_t grid_cells, long trials);

// Bytes the critical search's rank 0 holds at most: every search's evaluations, each with its
// per-trial lambda three times (the search, the piece being filled, the snapshot buffer) and,
// during a resume, once more in the replay's map nodes. `evaluations` is a bound per search.
double critical_master_memory_bytes(std::int64_t searches, long evaluations, long trials);

// Bytes a node needs: each computing slot (a worker rank, or rank 0's compute thread) holds
// one trial of the largest cell at a time; the node of rank 0 also holds the master's
// `master_bytes` (0 on the other nodes).
double node_memory_bytes(int computing_slots, double trial_bytes, double master_bytes);

}  // namespace attnsweep::sweep
