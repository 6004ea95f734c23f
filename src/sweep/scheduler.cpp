#include "attnsweep/sweep/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace attnsweep::sweep {

std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers) {
  const auto trials = static_cast<std::uint64_t>(grid.config().trials);
  // Group by (rho, d, n), keeping the cells' order inside a group.
  std::map<std::tuple<long, long, long>, std::vector<std::int64_t>> groups;
  std::map<std::int64_t, double> trial_cost;
  double total = 0;
  for (std::int64_t cell : cells) {
    const CellCoordinates c = grid.coordinates(cell);
    groups[{c.rho, c.d, c.n}].push_back(cell);
    trial_cost[cell] = cost.trial_seconds(grid.cell(cell));
    total += trial_cost[cell] * static_cast<double>(trials);
  }
  const double target = std::min(total / (std::max(workers, 1) * 8.0), kMaxTaskSeconds);

  std::vector<Task> tasks;
  for (const auto& [key, members] : groups) {
    double per_trial = 0;  // one trial of every cell in the group
    for (std::int64_t cell : members) per_trial += trial_cost[cell];
    // First split the trials, then, if one trial of the whole group is still too big, the
    // gammas. Sizes come from floor(target / cost), so every piece fits the target unless it
    // is one trial of one cell (cells of a group cost the same: gamma does not change cost).
    std::uint64_t trial_chunks = 1;
    size_t gamma_chunks = 1;
    if (target > 0 && per_trial * static_cast<double>(trials) > target) {
      const auto trials_per_chunk = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(target / per_trial));
      trial_chunks = (trials + trials_per_chunk - 1) / trials_per_chunk;
      if (per_trial > target) {
        const double per_cell = per_trial / static_cast<double>(members.size());
        const auto cells_per_part = std::max<size_t>(1, static_cast<size_t>(target / per_cell));
        gamma_chunks = (members.size() + cells_per_part - 1) / cells_per_part;
      }
    }
    for (size_t g = 0; g < gamma_chunks; ++g) {
      const size_t begin = members.size() * g / gamma_chunks, end = members.size() * (g + 1) / gamma_chunks;
      const std::vector<std::int64_t> part(members.begin() + static_cast<long>(begin),
                                           members.begin() + static_cast<long>(end));
      double part_cost = 0;
      for (std::int64_t cell : part) part_cost += trial_cost[cell];
      for (std::uint64_t c = 0; c < trial_chunks; ++c) {
        const std::uint64_t first = trials * c / trial_chunks, last = trials * (c + 1) / trial_chunks;
        tasks.push_back({part, first, last - first, part_cost * static_cast<double>(last - first)});
      }
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) {
    if (a.estimated_seconds != b.estimated_seconds) return a.estimated_seconds > b.estimated_seconds;
    if (a.cells.front() != b.cells.front()) return a.cells.front() < b.cells.front();
    return a.first_trial < b.first_trial;
  });
  return tasks;
}

}  // namespace attnsweep::sweep
