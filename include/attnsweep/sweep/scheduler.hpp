// Work units and their order: largest first, big cells split into trial ranges.
#pragma once

#include <cstdint>
#include <vector>

#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

// A unit of work: trials [first_trial, first_trial + trial_count) of one or more cells. Cells
// of one draw group (Grid::draw_group: everything but gamma equal) are adjacent in `cells`: they use the same
// token draws (common random numbers), so a task draws the tokens and forms their Gram matrix
// once per trial and reuses them for every gamma. Small groups are packed several to a task,
// so that a grid of tiny cells does not become a flood of tiny messages and journal commits.
struct Task {
  std::vector<std::int64_t> cells;
  std::uint64_t first_trial = 0;
  std::uint64_t trial_count = 0;
  double estimated_seconds = 0;
  // The critical search's evaluations (sweep/critical.hpp) are not grid points: when `gammas` is
  // not empty, cell k is computed at gammas[k] instead of its grid gamma (its rho, d, n and
  // everything else are the cell's). `lambda_only` skips the Jacobian norm (eta is reported 0).
  std::vector<double> gammas;
  bool lambda_only = false;
  // The critical search per position: the trials' lambda is this position bucket's
  // (mc::CellParams::position); -1 (model::kWholeSequence): all pairs..
  std::int32_t position = -1;
};

// A task's estimated length is capped: a kill -9 loses the tasks in flight (a clean stop
// keeps their finished trials), and under --time-limit a task is started only if it fits.
constexpr double kMaxTaskSeconds = 60;

// Tasks for the given cells: cells of one draw group are grouped, and a group whose cost
// exceeds the target min(total / (workers * 8), kMaxTaskSeconds) is split into trial ranges
// and then into runs of gammas, so that the last tasks to finish are short and no worker
// idles at the end; consecutive whole groups far below the target are packed into one task
// up to the target (and at most kMaxCellsPerTask cells). A task exceeds the cap only if it
// is one trial of one cell. Every trial of every cell is in exactly one task. Order: the
// estimated cost of the whole group a task is a piece of, descending, then first cell, then
// first trial (deterministic): big groups first, and a group's pieces together. With two or
// more workers the last tasks (worth workers x target seconds) are cut again into up to eight
// pieces each (trial ranges of one draw group, runs of whole groups of a pack) and run longest
// first. Estimates pay a group's draw once per trial (CostModel::group_trial_seconds).
constexpr size_t kMaxCellsPerTask = 4096;
// `max_task_seconds` lowers the cap (a run under --time-limit L uses L / 4, so that tasks fit
// in the budget and every run makes progress).
std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers, double max_task_seconds = kMaxTaskSeconds);

}  // namespace attnsweep::sweep
