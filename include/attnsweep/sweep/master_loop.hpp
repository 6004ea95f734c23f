// Rank 0's loop, shared by `run` and `critical`: the workers (rank 0's compute thread on small
// jobs, then ranks 1..P-1), the dispatcher, stop signals from any rank, and the shutdown in
// which every worker stops and hands back what it finished. What the results mean (the run
// store of a sweep, the searches of `critical`) is the caller's, through the hooks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/workers.hpp"

namespace attnsweep::sweep {

struct MasterHooks {
  // Before tasks are assigned (the critical search queues its next evaluations here); optional.
  std::function<void(Dispatcher&)> before_assign;
  // Every result received in one pass, in worker order, after the dispatcher counted them back;
  // called every pass (also with none: a store may have durable records to make visible).
  std::function<void(std::vector<TaskResult>&, Dispatcher&)> on_results;
  // Once a pass: snapshots, progress lines; optional.
  std::function<void()> each_pass;
  // Whether the work is done, asked when nothing is in flight (a sweep: nothing queued either;
  // the critical search: every search finished).
  std::function<bool(const Dispatcher&)> finished;
};

struct MasterStats {
  double busy_seconds = 0;  // CPU time of rank 0's main thread inside the loop
  int worker_signal = 0;    // a stop signal a worker rank received on its own (0 if none)
};

// Runs until finished or stopped, then stops every worker and receives what they still return
// (through on_results). `time_origin`: the command's start, for the dispatcher's time limit.
MasterStats run_master_loop(const Grid& grid, int ranks, parallel::Outbox& outbox, Dispatcher& dispatcher,
                            std::chrono::steady_clock::time_point time_origin, const MasterHooks& hooks);

// How many tasks each worker of a job of `ranks` ranks holds at once (rank 0's thread first),
// for the Dispatcher.
std::vector<int> worker_depths(int ranks);

}  // namespace attnsweep::sweep
