// Work units and their order: largest first, big cells split into trial ranges.
#pragma once

#include <cstdint>
#include <vector>

#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

struct Task {
  std::int64_t cell = 0;
  std::uint64_t first_trial = 0;
  std::uint64_t trial_count = 0;
  double estimated_seconds = 0;
};

// Tasks for the given cells. A cell whose cost exceeds total / (workers * 8) is split into
// trial ranges of about that size, so that the last tasks to finish are short and no worker
// idles at the end while one grinds through a large cell. Order: estimated cost descending,
// then cell index, then first trial (deterministic).
std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers);

}  // namespace attnsweep::sweep
