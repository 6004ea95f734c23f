// Task runner, dispatcher and run store, without MPI (the grid and the scheduler:
// test_scheduler.cpp; the journal and the HDF5 file: test_storage.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

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
