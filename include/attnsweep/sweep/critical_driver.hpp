// The `critical` subcommand: for every (rho, d, n) of the grid, the gamma where the
// trial-averaged lambda crosses the target (sweep/critical.hpp), under MPI with the guarantees of
// `run`: rank 0 schedules (and on small jobs computes), worker ranks compute the evaluations'
// trials (the same worker loop as `run`), every finished piece is journaled (OUTPUT.journal,
// fdatasync) before it counts, a rerun resumes from the journal bitwise, stop signals and
// --time-limit end in exit 75, bad input in 2, I/O faults in 74, failed searches in 1.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/critical.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

struct CriticalOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;            // empty: the config's critical.file (or output.file as .critical.h5)
  std::string format = "table";  // of the result printed on stdout: table | csv | json
  double time_limit = 0;         // seconds since `started`; 0 = none
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// The searches of a grid, one per (rho, d, n) in C order (rho slowest, n fastest).
struct CriticalJob {
  struct Point {
    long rho = 0, d = 0, n = 0;  // indices into the grid's axes
  };
  std::vector<Point> points;
  std::vector<CriticalSettings> settings;
};
CriticalJob plan_critical(const Grid& grid);

// The config hash as stored in a search's file (16 hex digits).
std::string critical_hash_text(std::uint64_t hash);
// Cells of a uniform gamma grid over the search range with the search's resolution (its
// tolerance times gamma_c): what locating the crossing on a grid to the same precision costs.
double grid_equivalent(const CriticalSettings& s, const CriticalResult& r);

// The HDF5 file of a search (layout in docs/guide.md, "The critical point"): /rho, /d, /n, per point gamma_c, its
// interval, the target, the paper's 1/(1 - rho), status, evaluations, and every evaluation's
// gamma and per-trial lambda.
void write_critical_file(const std::string& path, const io::SweepConfig& config, const CriticalJob& job,
                         const std::vector<CriticalSearch>& searches);

// The result as a table, CSV or JSON (one row per (rho, d, n)).
std::string format_critical(const io::SweepConfig& config, const CriticalJob& job,
                            const std::vector<CriticalSearch>& searches, const std::string& format);

int run_critical(const CriticalOptions& options, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
