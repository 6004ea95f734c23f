#include "attnsweep/sweep/master_loop.hpp"

#include <time.h>

#include <cstdio>
#include <thread>

#include "attnsweep/sweep/stop.hpp"
#include "attnsweep/sweep/topology.hpp"

namespace attnsweep::sweep {

namespace {
constexpr int kRemoteDepth = 2;  // one task computing, one queued: no gap between tasks
constexpr int kLocalDepth = 1;   // rank 0's thread shares its core with the master

// CPU time of the calling thread: the master's own work, whether or not its core is shared
// (wall time inside the loop would count the time the OS gave the core to a worker).
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

bool all_stopped(const std::vector<std::unique_ptr<Worker>>& workers) {
  for (const auto& worker : workers)
    if (!worker->stopped()) return false;
  return true;
}
}  // namespace

std::vector<int> worker_depths(int ranks) {
  std::vector<int> depth;
  if (rank0_computes(ranks)) depth.push_back(kLocalDepth);
  for (int rank = 1; rank < ranks; ++rank) depth.push_back(kRemoteDepth);
  return depth;
}

MasterStats run_master_loop(const Grid& grid, int ranks, parallel::Outbox& outbox, Dispatcher& dispatcher,
                            std::chrono::steady_clock::time_point time_origin, const MasterHooks& hooks) {
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<RemoteWorker*> by_rank(static_cast<size_t>(ranks), nullptr);
  if (rank0_computes(ranks)) workers.push_back(std::make_unique<LocalWorker>(grid));
  for (int rank = 1; rank < ranks; ++rank) {
    auto remote = std::make_unique<RemoteWorker>(rank, outbox);
    by_rank[static_cast<size_t>(rank)] = remote.get();
    workers.push_back(std::move(remote));
  }
  MasterStats stats;
  std::vector<TaskResult> results;
  // Messages and results; true if anything came.
  const auto receive = [&] {
    const WorkerMessages said = WorkerMessages::pump(by_rank);
    if (said.signal != 0) {
      dispatcher.request_stop(StopReason::signal);
      if (!stats.worker_signal) {
        stats.worker_signal = said.signal;
        std::fprintf(stderr, "[attnsweep] a worker rank received signal %d: stopping every rank\n", said.signal);
      }
    }
    results.clear();
    for (size_t w = 0; w < workers.size(); ++w) {
      const size_t before = results.size();
      workers[w]->collect(results);
      for (size_t k = before; k < results.size(); ++k) dispatcher.returned(static_cast<int>(w));
    }
    const bool any = said.any || !results.empty();
    hooks.on_results(results, dispatcher);
    return any;
  };

  bool stop_sent = false;
  while (true) {
    const double busy_start = thread_cpu_seconds();
    leave_if_orphaned();
    if (hooks.before_assign && !dispatcher.stopping()) hooks.before_assign(dispatcher);
    bool active = receive();
    if (stop_signal() != 0) dispatcher.request_stop(StopReason::signal);
    // The time limit counts from the command's start (MPI start-up and calibration included).
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - time_origin).count();
    dispatcher.update(now);
    for (size_t w = 0; w < workers.size() && !dispatcher.stopping(); ++w) {
      while (auto task = dispatcher.assign(static_cast<int>(w), now)) {
        workers[w]->submit(*task);
        active = true;
      }
    }
    if (dispatcher.stopping()) {
      if (!stop_sent) {
        for (auto& worker : workers) worker->request_stop();
        stop_sent = true;
      }
      if (all_stopped(workers)) break;
    } else if (dispatcher.in_flight_total() == 0 && hooks.finished(dispatcher)) {
      break;
    }
    outbox.progress();
    if (hooks.each_pass) hooks.each_pass();
    stats.busy_seconds += thread_cpu_seconds() - busy_start;
    if (!active) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Shut down: every worker stops (results that were finished still count) and acknowledges.
  for (auto& worker : workers) worker->request_stop();
  while (!all_stopped(workers)) {
    leave_if_orphaned();
    if (!receive()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    outbox.progress();
  }
  workers.clear();  // joins rank 0's compute thread
  return stats;
}

}  // namespace attnsweep::sweep
