// The `critical` subcommand's campaign: for every (rho, d, n) of the grid, the gamma where the
// trial-averaged lambda crosses the target (sweep/critical.hpp), on the one runtime of
// sweep/campaign.hpp with the guarantees of `run`: rank 0 schedules (and on small jobs
// computes), worker ranks compute the evaluations' trials, every finished piece is journaled
// (OUTPUT.journal, an evaluation record: search, gamma, per-trial lambda) before it counts, a
// rerun resumes from the journal bitwise, stop signals and --time-limit end in exit 75, bad input
// in 2, I/O faults in 74, failed searches in 1. What is its own: the tasks come from what the
// searches want next (feed), not from a plan made at the start.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/campaign.hpp"
#include "attnsweep/sweep/critical.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

// The searches of a grid, one per (rho, d, n) in C order (rho slowest, n fastest), and under
// critical.position = last or all one per (rho, d, n, position bucket) searched (the last bucket
// of each n, or every bucket of each n).
struct CriticalJob {
  struct Point {
    long rho = 0, d = 0, n = 0;  // indices into the grid's axes
    int position = -1;           // the position bucket whose lambda is followed; -1: all pairs
  };
  // Buckets of the file's position dimension: those of the largest n (0 without positions).
  int positions = 0;
  std::vector<Point> points;
  std::vector<CriticalSettings> settings;
};
CriticalJob plan_critical(const Grid& grid);

struct CriticalOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;  // empty: the config's critical.file (or output.file as .critical.h5)
  // Prints the result on stdout once every rank has its exit code (the CLI's report).
  std::function<void(const io::SweepConfig&, const CriticalJob&, const std::vector<CriticalSearch>&)> publish;
};

// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r);

// The HDF5 file of a search (layout in docs/guide.md, "The critical point"): /rho, /d, /n, per point gamma_c, its
// interval, the target, the paper's 1/(1 - rho), status, evaluations, and every evaluation's
// gamma and per-trial lambda.
void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches);

// The paper's gamma_c = 1 / (1 - rho) where it applies (one layer, alpha = 0, beta = gamma ln n),
// else NaN.
double theory_gamma(const io::SweepConfig& config, double rho);

int run_critical(const CriticalOptions& options, const CampaignLimits& limits, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
