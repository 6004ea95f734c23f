// Config, grid, scheduler, task runner, dispatcher and run store, without MPI (the journal and
// the HDF5 file: test_storage.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/messages.hpp"
#include "attnsweep/sweep/run_store.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "attnsweep/sweep/task_runner.hpp"
#include "attnsweep/sweep/workers.hpp"
#include "engine_helpers.hpp"
#include "hdf5.hpp"  // io's internal HDF5 layer (src/io)

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
  // About 2 x 8 packs of the target's size, the cell cap's, and the last two packs cut in four
  // (the tail).
  EXPECT_LE(packed.size(), 2u * 8u + tiny_cells.size() / sw::kMaxCellsPerTask + 2u + 2u * 3u)
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
  // Cheap groups are packed; the last packs are cut into runs of whole groups (all trials each).
  const sw::Grid cheap(io::parse_config(kGood, {"rho=0.01:0.99:0.01", "gamma=1, 2, 3, 4", "d=2", "n=64"}, "t"));
  std::vector<std::int64_t> all;
  for (std::int64_t i = 0; i < cheap.size(); ++i) all.push_back(i);
  const auto tasks = sw::plan_tasks(cheap, all, sw::CostModel{}, 2);
  double largest = 0;
  for (const auto& t : tasks) {
    largest = std::max(largest, t.estimated_seconds);
    EXPECT_EQ(t.trial_count, 8u) << "a pack keeps every trial of its groups";
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

TEST(Driver, GroupedTaskEqualsCellsRunAloneBitwise) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.3", "gamma=0.5, 1.5, 3", "d=6", "n=40", "trials=3"}, "t"));
  const auto stop = [] { return false; };
  const sw::TaskResult grouped = sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {}, stop);
  ASSERT_EQ(grouped.outcomes.size(), 3u);
  for (std::int64_t cell = 0; cell < 3; ++cell) {
    const sw::TaskResult alone = sw::run_task(grid, {{cell}, 0, 3, 1.0}, {}, stop);
    const auto& g = grouped.outcomes[static_cast<size_t>(cell)];
    ASSERT_TRUE(g.ok && alone.outcomes[0].ok);
    EXPECT_EQ(g.samples.summary(attnsweep::mc::kLambda).mean,
              alone.outcomes[0].samples.summary(attnsweep::mc::kLambda).mean);
    EXPECT_EQ(g.samples.summary(attnsweep::mc::kEta).std_error,
              alone.outcomes[0].samples.summary(attnsweep::mc::kEta).std_error);
    // And what `attnsweep cell` computes.
    EXPECT_EQ(g.samples.summary(attnsweep::mc::kEta).mean,
              attnsweep::mc::run_trials(grid.cell(cell), 0, 3).summary(attnsweep::mc::kEta).mean);
  }
  // An injected failure fails its own cell only.
  const sw::TaskResult injected = sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {1}, stop);
  // A stop request abandons the task.
  EXPECT_TRUE(sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {}, [] { return true; }).abandoned);
  EXPECT_TRUE(injected.outcomes[0].ok);
  EXPECT_FALSE(injected.outcomes[1].ok);
  EXPECT_TRUE(injected.outcomes[2].ok);
  EXPECT_EQ(injected.outcomes[2].samples.summary(attnsweep::mc::kEta).mean,
            grouped.outcomes[2].samples.summary(attnsweep::mc::kEta).mean);
}

TEST(Driver, APackedTaskOfSeveralGroupsEqualsEachCellAlone) {
  // Cells ordered (rho, gamma, d, n): groups (rho, d, n) are {0, 2}, {1, 3}, {4, 6}, {5, 7}.
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.2, 0.7", "gamma=1, 2.5", "d=3, 9", "n=30", "trials=2"}, "t"));
  const auto stop = [] { return false; };
  const std::vector<std::int64_t> packed_cells = {0, 2, 1, 3, 4, 6, 5, 7};
  const sw::TaskResult packed = sw::run_task(grid, {packed_cells, 0, 2, 1.0}, {}, stop);
  ASSERT_EQ(packed.outcomes.size(), 8u);
  for (const auto& outcome : packed.outcomes) {
    const sw::TaskResult alone = sw::run_task(grid, {{outcome.cell}, 0, 2, 1.0}, {}, stop);
    ASSERT_TRUE(outcome.ok);
    EXPECT_EQ(outcome.samples.summary(attnsweep::mc::kLambda).mean,
              alone.outcomes[0].samples.summary(attnsweep::mc::kLambda).mean)
        << outcome.cell;
    EXPECT_EQ(outcome.samples.summary(attnsweep::mc::kEta).mean,
              alone.outcomes[0].samples.summary(attnsweep::mc::kEta).mean)
        << outcome.cell;
  }
  // A stop after the first run of cells abandons the rest: later runs have no trials.
  int calls = 0;
  const sw::TaskResult stopped = sw::run_task(grid, {packed_cells, 0, 2, 1.0}, {}, [&calls] { return ++calls > 2; });
  EXPECT_TRUE(stopped.abandoned);
  EXPECT_EQ(stopped.outcomes[0].samples.size(), 2);
  EXPECT_EQ(stopped.outcomes[7].samples.size(), 0);
}

TEST(Driver, MessagesRoundTrip) {
  sw::TaskResult r;
  r.task = {{42, 45}, 3, 2, 1.5, {0.5, 2.5}, true, 6};
  r.seconds = 0.25;
  sw::CellOutcome failed, good;
  failed.cell = 42;
  failed.ok = false;
  failed.error = "boom";
  good.cell = 45;
  good.samples.add(3, {0.5, 0.7});
  good.samples.add(4, {0.6, 0.8});
  r.outcomes = {failed, good};
  const sw::TaskResult back = sw::decode_result(sw::encode(r));
  EXPECT_EQ(back.task.cells, (std::vector<std::int64_t>{42, 45}));
  EXPECT_EQ(back.task.first_trial, 3u);
  EXPECT_EQ(back.task.gammas, (std::vector<double>{0.5, 2.5}));
  EXPECT_TRUE(back.task.lambda_only);
  EXPECT_EQ(back.task.position, 6);  // the critical search's position bucket
  EXPECT_EQ(sw::decode_task(sw::encode(r.task)).position, 6);
  ASSERT_EQ(back.outcomes.size(), 2u);
  EXPECT_FALSE(back.outcomes[0].ok);
  EXPECT_EQ(back.outcomes[0].error, "boom");
  EXPECT_EQ(back.outcomes[1].samples.summary(attnsweep::mc::kLambda).mean,
            good.samples.summary(attnsweep::mc::kLambda).mean);
  EXPECT_THROW(sw::decode_result(sw::encode(r).substr(0, 60)), std::runtime_error);
}

TEST(Dispatcher, AssignsUpToEachWorkersDepthAndFinishes) {
  std::vector<sw::Task> tasks;
  for (std::int64_t c = 0; c < 5; ++c) tasks.push_back({{c}, 0, 1, 1.0});
  sw::Dispatcher d(tasks, {1, 2}, 0, 2);
  EXPECT_TRUE(d.assign(0, 0).has_value());
  EXPECT_FALSE(d.assign(0, 0).has_value());  // depth 1
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 1);
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 2);  // in queue order
  EXPECT_FALSE(d.assign(1, 0).has_value());
  EXPECT_EQ(d.in_flight_total(), 3);
  EXPECT_FALSE(d.finished());
  d.returned(1);
  // Worker 1 still has one: a second would leave 1 s of queue for 2 workers (the end rule below).
  EXPECT_FALSE(d.assign(1, 0).has_value());
  d.returned(1);
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 3);
  d.returned(0);
  d.returned(1);
  EXPECT_EQ(d.assign(0, 0)->cells.front(), 4);
  EXPECT_FALSE(d.finished());
  d.returned(0);
  EXPECT_TRUE(d.finished());
  EXPECT_FALSE(d.stopping());
  EXPECT_THROW(d.returned(0), std::logic_error);  // a task nobody had
}

// At the end of a sweep a task queued on a busy worker is out of the others' reach: a worker gets
// a second task only while the rest of the queue holds, for each worker, that task's estimate.
TEST(Dispatcher, KeepsTheLastTasksForIdleWorkers) {
  sw::Dispatcher d({{{0}, 0, 1, 4.0}, {{1}, 0, 1, 1.0}, {{2}, 0, 1, 1.0}, {{3}, 0, 1, 1.0}}, {2, 2}, 0, 2);
  EXPECT_EQ(d.assign(0, 0)->cells.front(), 0);
  EXPECT_EQ(d.assign(0, 0)->cells.front(), 1) << "3 s queued behind 1 s: room for both workers";
  EXPECT_FALSE(d.assign(0, 0).has_value()) << "depth 2";
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 2);
  EXPECT_FALSE(d.assign(1, 0).has_value()) << "the last task was queued behind a busy worker";
  d.returned(0);
  d.returned(0);
  EXPECT_EQ(d.assign(0, 0)->cells.front(), 3) << "the idle worker takes it";
  EXPECT_EQ(d.queued(), 0u);
}

TEST(Dispatcher, RetriesAFailedCellAloneUntilItsAttemptsAreUsedUp) {
  sw::Dispatcher d({{{7, 8, 9}, 2, 3, 6.0}}, {1}, 0, 2);
  const sw::Task task = *d.assign(0, 0);
  d.returned(0);
  EXPECT_TRUE(d.retry_failed_cell(8, task, 2.0, 1));
  const sw::Task retry = *d.assign(0, 0);
  EXPECT_EQ(retry.cells, std::vector<std::int64_t>{8});
  EXPECT_EQ(retry.first_trial, 2u);
  EXPECT_EQ(retry.trial_count, 3u);
  d.returned(0);
  EXPECT_FALSE(d.retry_failed_cell(8, retry, 2.0, 2));  // 2 attempts of 2: given up
  EXPECT_TRUE(d.finished());
}

TEST(Dispatcher, StopsOnSignalTimeLimitAndABudgetThatCannotFit) {
  {
    sw::Dispatcher d({{{0}, 0, 1, 1.0}, {{1}, 0, 1, 1.0}}, {2}, 0, 2);
    ASSERT_TRUE(d.assign(0, 0).has_value());
    d.request_stop(sw::StopReason::signal);
    d.request_stop(sw::StopReason::time_limit);  // the first reason wins
    EXPECT_EQ(d.stop_reason(), sw::StopReason::signal);
    EXPECT_FALSE(d.assign(0, 0).has_value());  // nothing new once stopping
    EXPECT_FALSE(d.finished());                // one task still in flight
    d.returned(0);
    EXPECT_TRUE(d.finished());
  }
  {
    sw::Dispatcher d({{{0}, 0, 1, 1.0}, {{1}, 0, 1, 1.0}}, {1}, 10, 2);
    ASSERT_TRUE(d.assign(0, 0).has_value());
    d.update(9.99);  // the next task would not fit, but one is still in flight
    EXPECT_FALSE(d.stopping());
    d.update(10);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::time_limit);
  }
  {
    // The run's first task needs only to fit in the budget, without the margin: 8 s of work in a
    // 10 s limit, even when start-up already took 3 s.
    sw::Dispatcher d({{{0}, 0, 1, 8.0}, {{1}, 0, 1, 8.0}}, {2}, 10, 2);
    d.update(3);
    EXPECT_FALSE(d.stopping());
    EXPECT_TRUE(d.assign(0, 3).has_value());
    EXPECT_FALSE(d.assign(0, 3).has_value());  // the second needs the margin: 3 + 8 x 1.5 > 10
  }
  {
    // Start-up used the whole budget: the first task still runs, then the limit stops the run.
    sw::Dispatcher d({{{0}, 0, 1, 2.0}, {{1}, 0, 1, 2.0}}, {1}, 10, 2);
    d.update(11);
    EXPECT_FALSE(d.stopping());
    EXPECT_TRUE(d.assign(0, 11).has_value());
    d.update(12);  // in flight and within its estimate: not stopped, or the run would do nothing
    EXPECT_FALSE(d.stopping());
    d.returned(0);
    d.update(13);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::time_limit);
  }
  {
    // 100 s of work under a 60 s limit: never assigned; with nothing in flight, a budget stop.
    sw::Dispatcher d({{{0}, 0, 1, 100.0}}, {1}, 60, 2);
    EXPECT_FALSE(d.assign(0, 0).has_value());
    d.update(0);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::budget);
    EXPECT_TRUE(d.finished());
  }
}

namespace {
// A task result with the given trials of each cell (values derived from cell and trial).
sw::TaskResult result_of(const sw::Task& task, bool abandoned = false) {
  sw::TaskResult r;
  r.task = task;
  r.abandoned = abandoned;
  r.seconds = 1.0;
  for (std::int64_t cell : task.cells) {
    sw::CellOutcome o;
    o.cell = cell;
    for (std::uint64_t t = task.first_trial; t < task.first_trial + task.trial_count; ++t)
      o.samples.add(t, {0.1 * static_cast<double>(cell) + 0.01 * static_cast<double>(t), 1.0 + static_cast<double>(t)});
    r.outcomes.push_back(std::move(o));
  }
  return r;
}
}  // namespace

TEST(RunStore, CommitsDurablyThenVisiblyAndFreesFinishedCells) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2, 3", "d=4", "n=8", "trials=4"}, "t"));
  const std::string out = temp_path("store.h5"), journal = out + ".journal";
  std::remove(out.c_str());
  std::remove(journal.c_str());
  {
    sw::RunStore store(grid, out, io::SweepState(grid.size()), {}, std::make_unique<io::Journal>(journal, 1), {0, 1, 2},
                       1000);
    // Cell 0 whole in one task; cells 1 and 2 in two halves.
    EXPECT_TRUE(store.accept(result_of({{0}, 0, 4, 1.0})).empty());
    EXPECT_TRUE(store.accept(result_of({{1, 2}, 0, 2, 1.0})).empty());
    EXPECT_EQ(store.cells_in_progress(), 2u);
    EXPECT_EQ(store.state().status[0], 0);  // not durable yet, so not visible
    store.flush();
    EXPECT_EQ(store.journal_commits(), 1u);  // one fdatasync for both results
    EXPECT_EQ(store.state().status[0], 1);
    EXPECT_EQ(store.state().status[1], 0);
    store.accept(result_of({{1, 2}, 2, 2, 1.0}));
    store.flush();
    EXPECT_EQ(store.cells_in_progress(), 0u);  // per-trial data freed once summarised
    EXPECT_EQ(store.state().status[1], 1);
    EXPECT_EQ(store.state().trials[2], 4);
    // The same cell computed in one piece gives bitwise the same summary.
    attnsweep::mc::CellSamples whole = result_of({{1}, 0, 4, 1.0}).outcomes[0].samples;
    EXPECT_EQ(store.state().observables[attnsweep::mc::kLambda].mean[1], whole.summary(attnsweep::mc::kLambda).mean);
    EXPECT_EQ(store.state().observables[attnsweep::mc::kLambda].std_error[1],
              whole.summary(attnsweep::mc::kLambda).std_error);
    store.final_snapshot();
  }
  Replayed seen;
  io::Journal j(journal, 1, seen.visitor());
  EXPECT_EQ(seen.cells.size(), 3u);
  EXPECT_EQ(seen.trials.size(), 2u);  // the first halves of cells 1 and 2
  EXPECT_EQ(io::read_results_file(out).state.count(io::CellStatus::done), 3);
  std::remove(out.c_str());
  std::remove(journal.c_str());
}

TEST(RunStore, RestoresJournaledTrialsAndCountsFailuresOnlyWhenNotAbandoned) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2", "d=4", "n=8", "trials=4"}, "t"));
  const std::string out = temp_path("restore.h5"), journal = out + ".journal";
  std::remove(out.c_str());
  std::remove(journal.c_str());
  sw::PartialCells partials;
  for (std::uint64_t t = 0; t < 4; ++t) partials[0].samples.add(t, {0.5, 1.0});  // complete
  partials[1].samples.add(0, {0.25, 2.0});
  partials[1].samples.add(1, {0.25, 2.0});
  sw::RunStore store(grid, out, io::SweepState(grid.size()), std::move(partials),
                     std::make_unique<io::Journal>(journal, 1), {0, 1}, 1000);
  std::vector<sw::Task> tasks = {{{0, 1}, 0, 4, 8.0}};
  EXPECT_EQ(store.restore(tasks), 6u);
  EXPECT_EQ(store.state().status[0], 1);  // finished from the journal alone
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].first_trial, 2u);  // both cells have trials 0, 1; cell 1 lacks 2, 3
  EXPECT_EQ(tasks[0].trial_count, 2u);
  EXPECT_EQ(tasks[0].estimated_seconds, 4.0);
  sw::TaskResult abandoned = result_of({{1}, 2, 2, 1.0}, true);
  abandoned.outcomes[0].ok = false;
  abandoned.outcomes[0].error = "x";
  EXPECT_TRUE(store.accept(abandoned).empty());
  sw::TaskResult failing = result_of({{1}, 2, 2, 1.0});
  failing.outcomes[0].ok = false;
  failing.outcomes[0].error = "boom";
  const auto failed = store.accept(failing);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 1);
  store.give_up(failed[0]);
  store.flush();
  const io::CellRecord r = store.state().record(1);
  EXPECT_EQ(r.status, io::CellStatus::failed);
  EXPECT_EQ(r.error, "boom");
  EXPECT_EQ(store.cells_in_progress(), 0u);
  store.final_snapshot();
  std::remove(out.c_str());
  std::remove(journal.c_str());
}

TEST(LocalWorker, ComputesTasksAndStopsWhenAsked) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.3", "gamma=0.5, 1.5", "d=6", "n=40", "trials=3"}, "t"));
  sw::LocalWorker worker(grid);
  worker.submit({{0, 1}, 0, 3, 1.0});
  std::vector<sw::TaskResult> got;
  for (int i = 0; i < 5000 && got.empty(); ++i) {
    worker.collect(got);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(got.size(), 1u);
  const sw::TaskResult alone = sw::run_task(grid, {{0, 1}, 0, 3, 1.0}, {}, [] { return false; });
  EXPECT_EQ(got[0].outcomes[1].samples.summary(attnsweep::mc::kEta).mean,
            alone.outcomes[1].samples.summary(attnsweep::mc::kEta).mean);
  EXPECT_FALSE(worker.stopped());
  worker.request_stop();
  for (int i = 0; i < 5000 && !worker.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(worker.stopped());
}
