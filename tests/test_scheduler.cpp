// The grid's flat index and the scheduler's tasks (sizes, order, the tail, the estimates),
// without MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "engine_helpers.hpp"

namespace io = attnsweep::io;
namespace sw = attnsweep::sweep;

using namespace engine_test;

TEST(Grid, FlatIndexRoundTripsInCOrder) {
  const sw::Grid grid(io::parse_config(kGood, {}, "t"));
  EXPECT_EQ(grid.size(), 19 * 40 * 3 * 1);
  for (std::int64_t i : {0L, 1L, 2L, 3L, 119L, 2279L}) EXPECT_EQ(grid.flat(grid.coordinates(i)), i);
  const auto c = grid.coordinates(1);  // last axis (n) has one value, so index 1 is the next d
  EXPECT_EQ(c[sw::kDAxis], 1);
  EXPECT_EQ(grid.cell(3).gamma, 0.5);
  const sw::Grid critical(io::parse_config(kGood, {"gamma-scale=critical"}, "t"));
  EXPECT_DOUBLE_EQ(critical.cell(critical.flat({1, 3, 0, 0})).gamma, 1.0 / (1 - 0.1));
}

namespace {
// How many tasks hold each trial of each cell: every count must be 1.
void expect_every_trial_once(const std::vector<sw::Task>& tasks, const std::vector<std::int64_t>& cells,
                             std::uint64_t trials_per_cell) {
  std::map<std::int64_t, std::vector<int>> seen;
  for (const auto& t : tasks)
    for (std::int64_t cell : t.cells) {
      auto& trials = seen[cell];
      trials.resize(trials_per_cell, 0);
      for (auto k = t.first_trial; k < t.first_trial + t.trial_count; ++k) ++trials[k];
    }
  ASSERT_EQ(seen.size(), cells.size());
  for (const auto& [cell, trials] : seen)
    for (int count : trials) ASSERT_EQ(count, 1) << "cell " << cell;
}
}  // namespace

TEST(Scheduler, EveryTrialOfEveryCellExactlyOnceLargestFirst) {
  const sw::Grid grid(io::parse_config(kGood, {}, "t"));
  std::vector<std::int64_t> cells;
  for (std::int64_t i = 0; i < grid.size(); ++i) cells.push_back(i);
  for (int workers : {1, 2, 3, 64, 4096}) {
    const auto tasks = sw::plan_tasks(grid, cells, sw::CostModel{}, workers);
    for (const auto& t : tasks) {
      // A task's cells come in adjacent runs sharing (rho, d, n); a task of several runs holds
      // whole groups (every trial, all 40 gammas).
      std::set<std::tuple<long, long, long>> runs;
      std::tuple<long, long, long> previous{-1, -1, -1};
      for (std::int64_t cell : t.cells) {
        const auto c = grid.coordinates(cell);
        const std::tuple<long, long, long> key{c[sw::kRhoAxis], c[sw::kDAxis], c[sw::kNAxis]};
        if (key != previous) {
          ASSERT_TRUE(runs.insert(key).second) << "group split inside a task";
        }
        previous = key;
      }
      if (runs.size() > 1) {
        EXPECT_EQ(t.trial_count, 8u);
        EXPECT_EQ(t.cells.size(), runs.size() * 40u);
      }
    }
    expect_every_trial_once(tasks, cells, 8);
    // The tail (scheduler.hpp: the last tasks, worth workers x target, cut again) runs longest
    // piece first; the tasks before it keep the plan's order, checked below.
    double total = 0;
    for (const auto& t : tasks) total += t.estimated_seconds;
    const double target = std::min(total / (workers * 8.0), sw::kMaxTaskSeconds);
    size_t tail = tasks.size();
    double tail_seconds = 0;
    while (workers > 1 && tail > 0 && tail_seconds + tasks[tail - 1].estimated_seconds <= workers * target * (1 + 1e-9))
      tail_seconds += tasks[--tail].estimated_seconds;
    for (size_t k = tail + 1; k < tasks.size(); ++k)
      ASSERT_GE(tasks[k - 1].estimated_seconds, tasks[k].estimated_seconds) << "tail not longest first";
    // Largest groups first, and the pieces of one group (rho, d, n) next to each other.
    std::vector<std::pair<std::tuple<long, long, long>, double>> runs_in_order;  // (group, its total estimate)
    for (size_t k = 0; k < tail; ++k) {
      const auto& t = tasks[k];
      const auto c = grid.coordinates(t.cells.front());
      const std::tuple<long, long, long> key{c[sw::kRhoAxis], c[sw::kDAxis], c[sw::kNAxis]};
      if (runs_in_order.empty() || runs_in_order.back().first != key) runs_in_order.push_back({key, 0.0});
      runs_in_order.back().second += t.estimated_seconds;
    }
    std::set<std::tuple<long, long, long>> distinct;
    for (const auto& [key, total] : runs_in_order)
      ASSERT_TRUE(distinct.insert(key).second) << "a group's pieces are apart";
    for (size_t i = 1; i < runs_in_order.size(); ++i)
      ASSERT_GE(runs_in_order[i - 1].second * (1 + 1e-12), runs_in_order[i].second) << "not largest first";
    if (workers == 1) {  // gammas stay grouped (the cap splits only the trials of big groups)
      for (const auto& t : tasks) EXPECT_EQ(t.cells.size() % 40u, 0u);
    }
    if (workers == 4096) {
      EXPECT_GT(tasks.size(), 19u * 3u * 8u);  // split by trials and by gammas
    }
  }
  // A long sweep on few workers: no task longer than the cap unless it is one trial of one cell.
  const sw::Grid big(io::parse_config(kGood, {"d=512", "n=8192, 16384", "trials=64"}, "t"));
  std::vector<std::int64_t> all;
  for (std::int64_t i = 0; i < big.size(); ++i) all.push_back(i);
  const sw::CostModel cost;
  double longest_single = 0;
  for (std::int64_t cell : all) longest_single = std::max(longest_single, cost.trial_seconds(big.cell(cell)));
  ASSERT_GT(longest_single, 0.0);
  for (const auto& t : sw::plan_tasks(big, all, cost, 2)) {
    if (t.cells.size() > 1 || t.trial_count > 1) {
      EXPECT_LE(t.estimated_seconds, sw::kMaxTaskSeconds * 1.0000001) << t.cells.size() << " cells x " << t.trial_count;
    }
  }
  // A grid of tiny cells: groups are packed, so tasks are few and each holds many cells.
  const sw::Grid tiny(
      io::parse_config(kGood, {"rho=0.01:0.99:0.01", "gamma=0.1:10:0.1", "d=2, 3", "n=4", "trials=1"}, "t"));
  std::vector<std::int64_t> tiny_cells;
  for (std::int64_t i = 0; i < tiny.size(); ++i) tiny_cells.push_back(i);
  const auto packed = sw::plan_tasks(tiny, tiny_cells, sw::CostModel{}, 2);
  size_t packed_cells = 0;
  for (const auto& t : packed) {
    EXPECT_LE(t.cells.size(), sw::kMaxCellsPerTask);
    packed_cells += t.cells.size();
  }
  EXPECT_EQ(packed_cells, tiny_cells.size());
  // About 2 x 8 packs of the target's size, the cell cap's, and the last two packs cut in up to
  // eight (the tail).
  EXPECT_LE(packed.size(), 2u * 8u + tiny_cells.size() / sw::kMaxCellsPerTask + 2u + 2u * 7u)
      << "groups were not packed";
  // Two large cells on three workers: split into trial ranges so no worker idles.
  const sw::Grid few(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2", "d=512"}, "t"));
  const auto tasks = sw::plan_tasks(few, {0, 1}, sw::CostModel{}, 3);
  EXPECT_GE(tasks.size(), 6u);
}

// With two workers the last tasks (worth 2 x the target) are cut into trial ranges, so that the
// workers finish together; every trial of every cell is still in exactly one task.
TEST(Scheduler, TheLastTasksAreCutShort) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.1, 0.5, 0.9", "d=512", "trials=64"}, "t"));
  std::vector<std::int64_t> cells;
  for (std::int64_t i = 0; i < grid.size(); ++i) cells.push_back(i);
  for (int workers : {1, 2}) {
    const auto tasks = sw::plan_tasks(grid, cells, sw::CostModel{}, workers);
    double total = 0, largest = 0;
    for (const auto& t : tasks) {
      total += t.estimated_seconds;
      largest = std::max(largest, t.estimated_seconds);
    }
    expect_every_trial_once(tasks, cells, 64);
    const double target = std::min(total / (workers * 8.0), sw::kMaxTaskSeconds);  // the scheduler's
    if (workers == 1) {
      EXPECT_GT(tasks.back().estimated_seconds, target / 2) << "one worker: nothing to balance, nothing cut";
    } else {
      EXPECT_LE(tasks.back().estimated_seconds, target / 2) << "the last task was not cut";
      EXPECT_LT(tasks.back().estimated_seconds, largest / 2);
    }
  }
  // Cheap groups are packed; the last packs are cut into runs of whole groups (all trials each;
  // a run of one group into trial ranges).
  const sw::Grid cheap(io::parse_config(kGood, {"rho=0.01:0.99:0.01", "gamma=1, 2, 3, 4", "d=2", "n=64"}, "t"));
  std::vector<std::int64_t> all;
  for (std::int64_t i = 0; i < cheap.size(); ++i) all.push_back(i);
  const auto tasks = sw::plan_tasks(cheap, all, sw::CostModel{}, 2);
  double largest = 0;
  for (const auto& t : tasks) {
    largest = std::max(largest, t.estimated_seconds);
    if (t.cells.size() > 4u) EXPECT_EQ(t.trial_count, 8u) << "a pack keeps every trial of its groups";
    EXPECT_EQ(t.cells.size() % 4u, 0u) << "a pack keeps its groups whole";
  }
  expect_every_trial_once(tasks, all, 8);
  EXPECT_GT(tasks.front().cells.size(), 4u) << "groups were packed";
  ASSERT_GE(tasks.size(), 4u);
  for (size_t k = tasks.size() - 4; k < tasks.size(); ++k)
    EXPECT_LE(tasks[k].estimated_seconds, largest / 2) << "the last packs were not cut";
}

// A task's estimate pays its group's draw (tokens, caches, random numbers) once per trial, not
// once per cell: the estimates add up to what the cost model says of each whole group.
TEST(Scheduler, EstimatesPayEachDrawOnce) {
  const sw::Grid grid(io::parse_config(kGood, {"d=64, 512", "n=256"}, "t"));
  std::vector<std::int64_t> cells;
  std::map<std::int64_t, std::pair<std::int64_t, long>> groups;  // draw group -> (a cell, its cells)
  for (std::int64_t i = 0; i < grid.size(); ++i) {
    cells.push_back(i);
    auto& group = groups.try_emplace(grid.draw_group(i), i, 0).first->second;
    ++group.second;
  }
  const sw::CostModel cost;
  double expected = 0, per_cell = 0;
  for (const auto& [key, group] : groups)
    expected += 8 * cost.group_trial_seconds(grid.cell(group.first), group.second);
  for (std::int64_t cell : cells) per_cell += 8 * cost.trial_seconds(grid.cell(cell));
  ASSERT_LT(expected, 0.9 * per_cell) << "the draw is a visible share here";
  for (int workers : {1, 2, 64}) {
    double total = 0;
    bool gammas_split = false;
    for (const auto& t : sw::plan_tasks(grid, cells, cost, workers)) {
      total += t.estimated_seconds;
      gammas_split |= t.cells.size() < 40;
    }
    if (workers == 1) EXPECT_FALSE(gammas_split) << "one worker: whole groups";
    if (gammas_split) {  // each run of a group's gammas draws its tokens again
      EXPECT_GT(total, expected * (1 + 1e-9)) << workers << " workers";
    } else {
      EXPECT_NEAR(total, expected, 1e-9 * expected) << workers << " workers";
    }
  }
}

// The draw's random numbers: Gaussian tokens (n d) for every method, plus m n d probe signs for
// Hutchinson, charged once per trial of a draw group whatever its gammas, and scaled with the rest.
TEST(CostModel, ChargesTheDrawOnceAGroupTokensAndProbeSignsApart) {
  sw::CostModel cost;
  cost.seconds_per_entry = 3e-8;
  cost.seconds_per_sign = 2e-9;
  attnsweep::mc::CellParams cell;
  cell.rho = 0.5;
  cell.gamma = 2;
  cell.n = 256;
  cell.d = 64;
  cell.jacobian = attnsweep::mc::JacobianMethod::exact;
  const double entries = 256.0 * 64;
  EXPECT_DOUBLE_EQ(cost.draw_seconds(cell), 3e-8 * entries) << "exact: tokens only";
  cell.jacobian = attnsweep::mc::JacobianMethod::hutchinson;
  cell.probes = 4;
  EXPECT_DOUBLE_EQ(cost.draw_seconds(cell), 3e-8 * entries + 2e-9 * 4 * entries);
  const double draw_products = attnsweep::mc::draw_flops(cell) / cost.flops_per_second;
  const double per_gamma = cost.trial_seconds(cell) - cost.draw_seconds(cell) - draw_products;
  ASSERT_GT(per_gamma, 0);
  for (long gammas : {1L, 2L, 16L})
    EXPECT_NEAR(cost.group_trial_seconds(cell, gammas), cost.draw_seconds(cell) + draw_products + gammas * per_gamma,
                1e-12 * cost.group_trial_seconds(cell, gammas))
        << gammas << " gammas";
  EXPECT_DOUBLE_EQ(cost.scaled(2).draw_seconds(cell), 2 * cost.draw_seconds(cell));
  EXPECT_NEAR(cost.scaled(2).trial_seconds(cell), 2 * cost.trial_seconds(cell), 1e-12 * cost.trial_seconds(cell));
}
