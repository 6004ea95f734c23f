// Running one task (trials of cells sharing rho, d, n) and what it produces. No MPI, no files.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "attnsweep/mc/samples.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/scheduler.hpp"

namespace attnsweep::sweep {

// What a task produced for one of its cells.
struct CellOutcome {
  std::int64_t cell = 0;
  bool ok = true;
  std::string error;
  mc::CellSamples samples;
};

struct TaskResult {
  Task task;
  bool abandoned = false;  // stopped before finishing: the trials it finished are kept
  double seconds = 0;
  std::vector<CellOutcome> outcomes;  // one per task cell, in the task's order
};

// Cells listed in ATTNSWEEP_INJECT_FAILURE (comma-separated flat indices) throw on every
// attempt: a testing aid for the failure paths. Throws io::InputError for an item that is not a
// flat index of the grid (checked by rank 0 before a sweep starts).
std::set<std::int64_t> injected_failures(std::int64_t grid_size);

// Runs one task trial by trial, asking `should_stop` between trials (a stop abandons the
// rest of the task). Never throws for a cell's failure: an exception, a non-finite value or
// an injected failure fails only the cells it concerns, with the message.
// `workspace` is the worker's, kept across its tasks (a trial then allocates nothing large).
TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop, mc::TrialWorkspace& workspace);
TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop);

}  // namespace attnsweep::sweep
