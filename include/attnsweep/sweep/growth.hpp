// Studies that grow in place: a run whose config is the file's config with more values on an
// axis (a superset, in any order; a parameter the file fixes may become an axis holding its value)
// and/or more trials computes only the new work, and its file is
// bitwise the file a fresh run of the grown config gives (trial values depend only on the seed,
// (d, n) and the trial index, never on a cell's flat index; see mc/trial.hpp).
//
// How: the file's state (its HDF5 snapshot with its journal replayed over it) is carried into the
// grown grid and written as a new journal for the grown config, which is renamed over the old one
// while the old one is locked. From then on the run is an ordinary resume: cells that take more
// trials are partial cells whose first trials are known. A kill at any point loses nothing: before
// the rename the old journal is intact, after it the new one holds everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

class Growth {
 public:
  Growth(io::SweepConfig from, const io::SweepConfig& to);
  const io::SweepConfig& from() const { return from_grid_.config(); }
  // The grown grid's flat index of the file's cell `old_cell`.
  std::int64_t map(std::int64_t old_cell) const;
  // Whether the cells take more trials than the file's.
  bool more_trials() const { return to_grid_.config().trials > from().trials; }
  // Per axis of the grown grid, the grown index of each of the file's values (-1: not in the
  // grown axis); a parameter the file fixes counts as an axis of its one value.
  const std::vector<std::vector<std::int64_t>>& axis_maps() const { return axis_maps_; }

 private:
  Grid from_grid_, to_grid_;
  std::vector<std::vector<std::int64_t>> axis_maps_;
  std::vector<int> from_axis_;  // per axis of the grown grid, the file's axis (-1: a fixed parameter)
};

// nullopt when `to` defines the same sweep as `from` (the file's config); a Growth when `to` is
// `from` grown. Anything else is an InputError naming `output` and each differing key with both
// values (and the values an axis would lose).
std::optional<Growth> plan_growth(const io::SweepConfig& from, const io::SweepConfig& to, const std::string& output);

// Carries the file's state at `output` (snapshot plus its journal, which is locked meanwhile)
// into the grown grid and makes it the journal at `journal_path`, for `grid`'s config. InputError
// when cells must take more trials but the file has no per-trial values to extend (a grid above
// the per-trial cap, or a file of attnsweep 0.1); nothing is changed then. Returns what it did,
// for the run's log.
std::string grow_journal(const Growth& growth, const std::string& output, const std::string& journal_path,
                         const Grid& grid);

}  // namespace attnsweep::sweep
