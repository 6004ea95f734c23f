#include "attnsweep/sweep/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace attnsweep::sweep {

std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers) {
  double total = 0;
  std::vector<double> trial_cost(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    trial_cost[i] = cost.trial_seconds(grid.cell(cells[i]));
    total += trial_cost[i] * static_cast<double>(grid.config().trials);
  }
  const double target = total / (std::max(workers, 1) * 8.0);
  std::vector<Task> tasks;
  const auto trials = static_cast<std::uint64_t>(grid.config().trials);
  for (size_t i = 0; i < cells.size(); ++i) {
    const double cell_cost = trial_cost[i] * static_cast<double>(trials);
    std::uint64_t chunks = 1;
    if (target > 0 && cell_cost > target) {
      chunks = std::min<std::uint64_t>(trials, static_cast<std::uint64_t>(std::ceil(cell_cost / target)));
    }
    for (std::uint64_t c = 0; c < chunks; ++c) {
      const std::uint64_t first = trials * c / chunks, last = trials * (c + 1) / chunks;
      tasks.push_back({cells[i], first, last - first, trial_cost[i] * static_cast<double>(last - first)});
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) {
    if (a.estimated_seconds != b.estimated_seconds) return a.estimated_seconds > b.estimated_seconds;
    if (a.cell != b.cell) return a.cell < b.cell;
    return a.first_trial < b.first_trial;
  });
  return tasks;
}

}  // namespace attnsweep::sweep
