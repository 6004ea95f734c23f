// The `run` subcommand's campaign: every cell of the grid (or of a slice of it), each trial
// computed once, journaled before it counts, summarised into the results file. Runs on the one
// runtime of sweep/campaign.hpp (rank 0 the master, ranks 1..P-1 workers); what is its own:
//
//   sweep/growth      a file of a smaller study carried into the grown grid
//   sweep/scheduler   the cells cut into tasks (draw groups, trial ranges)
//   sweep/run_store   journal, in-memory state, snapshots
#pragma once

#include <string>
#include <vector>

#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/campaign.hpp"

namespace attnsweep::sweep {

struct RunOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;          // empty: the config's output.file
  bool retry_failed = false;   // recompute cells whose status is failed
  double snapshot_every = 30;  // least seconds between HDF5 snapshots while running
  long slice_index = 0;        // run only cells [size * k / N, size * (k + 1) / N) of the flat index
  long slice_count = 1;        // (independent slices of one sweep, merged with `attnsweep merge`)
};

// The whole `run` subcommand on every rank; returns the process exit code.
int run_sweep(const RunOptions& options, const CampaignLimits& limits, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
