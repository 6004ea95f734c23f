#include "attnsweep/sweep/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace attnsweep::sweep {

namespace {
// A trial's cost is the same for every cell of a cost class (rho and gamma do not change it):
// computed once per class, not once per cell. The cells of a position axis share one evaluation
// per gamma, each a share of it.
std::vector<double> class_costs(const Grid& grid, const CostModel& cost) {
  std::vector<double> cost_of_class(static_cast<size_t>(grid.cost_classes()));
  const auto share = static_cast<double>(grid.positions_per_evaluation());
  for (std::int64_t k = 0; k < grid.cost_classes(); ++k)
    cost_of_class[static_cast<size_t>(k)] = cost.trial_seconds(grid.cell(k)) / share;
  return cost_of_class;
}

// (draw group, cell) pairs sorted by group, flat order inside a group; `total` gets the cells'
// estimated cost, all trials.
std::vector<std::pair<std::int64_t, std::int64_t>> by_draw_group(const Grid& grid,
                                                                 const std::vector<std::int64_t>& cells,
                                                                 const std::vector<double>& cost_of_class,
                                                                 double& total) {
  const auto trials = static_cast<double>(grid.config().trials);
  std::vector<std::pair<std::int64_t, std::int64_t>> keyed;
  keyed.reserve(cells.size());
  for (std::int64_t cell : cells) {
    keyed.emplace_back(grid.draw_group(cell), cell);
    total += cost_of_class[static_cast<size_t>(grid.cost_class(cell))] * trials;
  }
  std::sort(keyed.begin(), keyed.end());
  return keyed;
}
// Parts of a draw group of `members` cells, `fit` cells per part at most (at least one cell; whole
// gammas where it can: the positions of one gamma share its evaluation).
size_t gamma_parts(const Grid& grid, size_t members, double fit) {
  const auto positions = static_cast<size_t>(grid.positions_per_evaluation());
  const size_t cells = std::max<size_t>(1, static_cast<size_t>(fit));
  const size_t cells_per_part = std::max(positions, cells / positions * positions);
  return (members + cells_per_part - 1) / cells_per_part;
}

// The tail: the last tasks, worth `workers` x target seconds of work, are cut into up to
// kTailPieces trial ranges each (tasks of one draw group only: packs keep their groups whole), so
// that the workers finish together instead of one waiting out another's whole task (measured
// before: 90% busy on 2 ranks, bench-hutchinson.ini). Trials are independent: any cut gives
// bitwise the same cells.
constexpr std::uint64_t kTailPieces = 4;
std::vector<Task> cut_tail(const Grid& grid, std::vector<Task> ordered, int workers, double target) {
  if (workers < 2 || target <= 0) return ordered;
  size_t from = ordered.size();
  double tail = 0;
  while (from > 0 && tail + ordered[from - 1].estimated_seconds <= workers * target)
    tail += ordered[--from].estimated_seconds;
  std::vector<Task> cut(std::make_move_iterator(ordered.begin()),
                        std::make_move_iterator(ordered.begin() + static_cast<long>(from)));
  for (size_t k = from; k < ordered.size(); ++k) {
    Task& task = ordered[k];
    const bool one_group = grid.draw_group(task.cells.front()) == grid.draw_group(task.cells.back());
    const std::uint64_t pieces = one_group ? std::min(kTailPieces, task.trial_count) : 1;
    for (std::uint64_t p = 0; p < pieces; ++p) {
      const std::uint64_t first = task.trial_count * p / pieces, last = task.trial_count * (p + 1) / pieces;
      Task piece = task;
      piece.first_trial = task.first_trial + first;
      piece.trial_count = last - first;
      piece.estimated_seconds =
          task.estimated_seconds * static_cast<double>(last - first) / static_cast<double>(task.trial_count);
      cut.push_back(std::move(piece));
    }
  }
  return cut;
}
}  // namespace

std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers, double max_task_seconds) {
  const auto trials = static_cast<std::uint64_t>(grid.config().trials);
  const std::vector<double> cost_of_class = class_costs(grid, cost);
  double total = 0;
  const std::vector<std::pair<std::int64_t, std::int64_t>> keyed = by_draw_group(grid, cells, cost_of_class, total);
  const double target = std::min({total / (std::max(workers, 1) * 8.0), kMaxTaskSeconds, max_task_seconds});
  std::vector<Task> tasks;
  std::vector<double> group_cost_of;   // per task: the cost of the whole group it is a piece of
  std::vector<std::int64_t> group_of;  // per task: its group's first cell
  std::vector<std::int64_t> members;
  // Whole groups (all trials) far below the target collect here until the pack reaches it.
  Task pack{{}, 0, trials, 0, {}, false};
  const auto close_pack = [&] {
    if (!pack.cells.empty()) {
      group_cost_of.push_back(pack.estimated_seconds);
      group_of.push_back(pack.cells.front());
      tasks.push_back(std::move(pack));
    }
    pack = Task{{}, 0, trials, 0, {}, false, -1};
  };
  for (size_t begin = 0; begin < keyed.size();) {
    size_t end = begin;
    members.clear();
    while (end < keyed.size() && keyed[end].first == keyed[begin].first) members.push_back(keyed[end++].second);
    begin = end;
    const std::int64_t key = keyed[end - 1].first;
    const double per_cell = cost_of_class[static_cast<size_t>(grid.cost_class(key))];
    const double per_trial = per_cell * static_cast<double>(members.size());  // one trial of every cell
    // First split the trials, then, if one trial of the whole group is still too big, the
    // gammas. Sizes come from floor(target / cost), so every piece fits the target unless it
    // is one trial of one cell (cells of a group cost the same: gamma does not change cost).
    std::uint64_t trial_chunks = 1;
    size_t gamma_chunks = 1;
    if (target > 0 && per_trial * static_cast<double>(trials) > target) {
      const auto trials_per_chunk = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(target / per_trial));
      trial_chunks = (trials + trials_per_chunk - 1) / trials_per_chunk;
      if (per_trial > target) gamma_chunks = gamma_parts(grid, members.size(), target / per_cell);
    }
    const double group_cost = per_trial * static_cast<double>(trials);
    if (trial_chunks == 1 && gamma_chunks == 1) {
      if (pack.estimated_seconds + group_cost > target || pack.cells.size() + members.size() > kMaxCellsPerTask)
        close_pack();
      pack.cells.insert(pack.cells.end(), members.begin(), members.end());
      pack.estimated_seconds += group_cost;
      continue;
    }
    for (size_t g = 0; g < gamma_chunks; ++g) {
      const size_t from = members.size() * g / gamma_chunks, to = members.size() * (g + 1) / gamma_chunks;
      const std::vector<std::int64_t> part(members.begin() + static_cast<long>(from),
                                           members.begin() + static_cast<long>(to));
      const double part_cost = per_cell * static_cast<double>(part.size());
      for (std::uint64_t c = 0; c < trial_chunks; ++c) {
        const std::uint64_t first = trials * c / trial_chunks, last = trials * (c + 1) / trial_chunks;
        tasks.push_back({part, first, last - first, part_cost * static_cast<double>(last - first), {}, false});
        group_cost_of.push_back(group_cost);
        group_of.push_back(members.front());
      }
    }
  }
  close_pack();
  // Largest groups first (balance: the last tasks are small), and the pieces of one group
  // together, so that its cells finish, reach the journal and show in snapshots as soon as they
  // can rather than all at the end of the sweep.
  std::vector<size_t> order(tasks.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (group_cost_of[a] != group_cost_of[b]) return group_cost_of[a] > group_cost_of[b];
    if (group_of[a] != group_of[b]) return group_of[a] < group_of[b];
    if (tasks[a].cells.front() != tasks[b].cells.front()) return tasks[a].cells.front() < tasks[b].cells.front();
    return tasks[a].first_trial < tasks[b].first_trial;
  });
  std::vector<Task> ordered;
  ordered.reserve(tasks.size());
  for (size_t k : order) ordered.push_back(std::move(tasks[k]));
  return cut_tail(grid, std::move(ordered), workers, target);
}

}  // namespace attnsweep::sweep
