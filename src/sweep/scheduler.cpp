#include "attnsweep/sweep/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace attnsweep::sweep {

namespace {
// What one trial costs, per cost class (rho and gamma do not change it: computed once per class,
// not once per cell): the draw's share (tokens, caches, random numbers), paid once per draw group
// and trial, and one evaluation's (a gamma; the cells of a position axis share one). Counting the
// draw once per group, not once per cell, keeps the classes' estimates in proportion (measured:
// the default sweep's d 512 groups were estimated 2.3x their time, its d 2 and 32 packs 1.4x).
class GroupCosts {
 public:
  GroupCosts(const Grid& grid, const CostModel& cost) : grid_(grid) {
    for (std::int64_t k = 0; k < grid.cost_classes(); ++k) {
      const mc::CellParams cell = grid.cell(k);
      const double one = cost.group_trial_seconds(cell, 1);
      const double evaluation = cost.group_trial_seconds(cell, 2) - one;
      draw_.push_back(one - evaluation);
      evaluation_.push_back(evaluation);
    }
  }
  // One trial of `cells` cells of one draw group, `member` one of them.
  double trial_seconds(std::int64_t member, size_t cells) const {
    const auto k = static_cast<size_t>(grid_.cost_class(member));
    const auto positions = static_cast<size_t>(grid_.positions_per_evaluation());
    return draw_[k] + static_cast<double>((cells + positions - 1) / positions) * evaluation_[k];
  }
  // How many cells of `member`'s group one trial of which fits `seconds` (at least one evaluation's).
  double cells_fitting(std::int64_t member, double seconds) const {
    const auto k = static_cast<size_t>(grid_.cost_class(member));
    const double evaluations = evaluation_[k] > 0 ? std::floor((seconds - draw_[k]) / evaluation_[k]) : 1.0;
    return std::max(1.0, evaluations) * static_cast<double>(grid_.positions_per_evaluation());
  }

 private:
  const Grid& grid_;
  std::vector<double> draw_, evaluation_;
};

// A draw group's cells (flat order), one trial's estimated cost.
struct Group {
  std::vector<std::int64_t> cells;
  double trial_seconds = 0;
};

// The cells by draw group, groups in draw-group order.
std::vector<Group> by_draw_group(const Grid& grid, const std::vector<std::int64_t>& cells, const GroupCosts& costs) {
  std::vector<std::pair<std::int64_t, std::int64_t>> keyed;
  keyed.reserve(cells.size());
  for (std::int64_t cell : cells) keyed.emplace_back(grid.draw_group(cell), cell);
  std::sort(keyed.begin(), keyed.end());
  std::vector<Group> groups;
  for (size_t begin = 0; begin < keyed.size();) {
    Group group;
    size_t end = begin;
    while (end < keyed.size() && keyed[end].first == keyed[begin].first) group.cells.push_back(keyed[end++].second);
    group.trial_seconds = costs.trial_seconds(group.cells.front(), group.cells.size());
    groups.push_back(std::move(group));
    begin = end;
  }
  return groups;
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
// kTailPieces pieces each, so that the workers finish together instead of one waiting out
// another's whole task (measured before: 90% busy on 2 ranks, bench-hutchinson.ini; the default
// sweep's last pack of d 2 and 32 groups ran 1.2 s alone; eight pieces rather than four:
// bench-hutchinson 0.2 s shorter in 3 pairs of runs). A task of one draw group is cut into trial
// ranges, a pack of several into runs of whole groups (a task of several groups holds every trial
// of each; a run of one group is cut into trial ranges). Trials are independent: any cut gives
// bitwise the same cells. The tail is ordered longest piece first; before it, plan_tasks' order.
constexpr std::uint64_t kTailPieces = 8;
// A task's cells are in draw-group order, so it holds one group when its ends share one.
bool holds_one_group(const Grid& grid, const Task& task) {
  return grid.draw_group(task.cells.front()) == grid.draw_group(task.cells.back());
}
// A task of one draw group: up to kTailPieces trial ranges.
void cut_trials(const Task& task, std::vector<Task>& pieces) {
  const std::uint64_t count = std::min(kTailPieces, task.trial_count);
  for (std::uint64_t p = 0; p < count; ++p) {
    const std::uint64_t first = task.trial_count * p / count, last = task.trial_count * (p + 1) / count;
    Task piece = task;
    piece.first_trial = task.first_trial + first;
    piece.trial_count = last - first;
    piece.estimated_seconds =
        task.estimated_seconds * static_cast<double>(last - first) / static_cast<double>(task.trial_count);
    pieces.push_back(std::move(piece));
  }
}

// A pack: up to kTailPieces runs of whole groups of about equal cost; a run of one group is cut
// into trial ranges in turn (measured: three whole d 32 groups of 0.33 s each at the end of the
// default sweep left one rank 0.24 s alone).
void cut_pack(const Grid& grid, const GroupCosts& costs, const Task& pack, std::vector<Task>& pieces) {
  std::vector<size_t> starts;  // where each group of the pack begins
  std::vector<double> seconds;
  double total = 0;
  for (size_t c = 0; c < pack.cells.size(); ++c) {
    if (c > 0 && grid.draw_group(pack.cells[c]) == grid.draw_group(pack.cells[c - 1])) continue;
    size_t end = c;
    while (end < pack.cells.size() && grid.draw_group(pack.cells[end]) == grid.draw_group(pack.cells[c])) ++end;
    starts.push_back(c);
    seconds.push_back(costs.trial_seconds(pack.cells[c], end - c) * static_cast<double>(pack.trial_count));
    total += seconds.back();
  }
  starts.push_back(pack.cells.size());
  const size_t groups = seconds.size(), count = std::min<size_t>(kTailPieces, groups);
  double done = 0;
  size_t g = 0;
  for (size_t piece = 1; piece <= count; ++piece) {
    Task part = pack;
    part.cells.clear();
    part.estimated_seconds = 0;
    // Whole groups up to this piece's share of the pack: at least one, one left for each later
    // piece, and the last piece takes the rest.
    const double share = total * static_cast<double>(piece) / static_cast<double>(count);
    while (g < groups) {
      const bool others_need = groups - g <= count - piece;
      if (!part.cells.empty() && (others_need || (piece < count && done + 0.5 * seconds[g] > share))) break;
      part.cells.insert(part.cells.end(), pack.cells.begin() + static_cast<long>(starts[g]),
                        pack.cells.begin() + static_cast<long>(starts[g + 1]));
      part.estimated_seconds += seconds[g];
      done += seconds[g++];
    }
    if (holds_one_group(grid, part)) {
      cut_trials(part, pieces);
    } else {
      pieces.push_back(std::move(part));
    }
  }
}

std::vector<Task> cut_tail(const Grid& grid, const GroupCosts& costs, std::vector<Task> ordered, int workers,
                           double target) {
  if (workers < 2 || target <= 0) return ordered;
  size_t from = ordered.size();
  double tail = 0;
  while (from > 0 && tail + ordered[from - 1].estimated_seconds <= workers * target)
    tail += ordered[--from].estimated_seconds;
  std::vector<Task> cut(std::make_move_iterator(ordered.begin()),
                        std::make_move_iterator(ordered.begin() + static_cast<long>(from)));
  for (size_t k = from; k < ordered.size(); ++k) {
    Task& task = ordered[k];
    if (holds_one_group(grid, task)) {
      cut_trials(task, cut);
    } else {
      cut_pack(grid, costs, task, cut);
    }
  }
  // The pieces longest first, so that the last to start are the shortest (the default sweep's
  // d 2 groups had come before its d 32 ones: 0.6 s of one worker alone at the end).
  std::stable_sort(cut.begin() + static_cast<long>(from), cut.end(),
                   [](const Task& a, const Task& b) { return a.estimated_seconds > b.estimated_seconds; });
  return cut;
}
}  // namespace

std::vector<Task> plan_tasks(const Grid& grid, const std::vector<std::int64_t>& cells, const CostModel& cost,
                             int workers, double max_task_seconds) {
  const auto trials = static_cast<std::uint64_t>(grid.config().trials);
  const GroupCosts costs(grid, cost);
  const std::vector<Group> groups = by_draw_group(grid, cells, costs);
  double total = 0;
  for (const Group& group : groups) total += group.trial_seconds * static_cast<double>(trials);
  const double target = std::min({total / (std::max(workers, 1) * 8.0), kMaxTaskSeconds, max_task_seconds});
  std::vector<Task> tasks;
  std::vector<double> group_cost_of;   // per task: the cost of the whole group it is a piece of
  std::vector<std::int64_t> group_of;  // per task: its group's first cell
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
  for (const Group& group : groups) {
    const std::vector<std::int64_t>& members = group.cells;
    const double per_trial = group.trial_seconds;  // one trial of every cell
    // First split the trials, then, if one trial of the whole group is still too big, the
    // gammas. Sizes come from floor(target / cost), so every piece fits the target unless it
    // is one trial of one cell.
    std::uint64_t trial_chunks = 1;
    size_t gamma_chunks = 1;
    if (target > 0 && per_trial * static_cast<double>(trials) > target) {
      const auto trials_per_chunk = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(target / per_trial));
      trial_chunks = (trials + trials_per_chunk - 1) / trials_per_chunk;
      if (per_trial > target)
        gamma_chunks = gamma_parts(grid, members.size(), costs.cells_fitting(members.front(), target));
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
      const double part_cost = costs.trial_seconds(part.front(), part.size());
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
  return cut_tail(grid, costs, std::move(ordered), workers, target);
}

}  // namespace attnsweep::sweep
