// Who computes tasks, behind one interface: remote MPI ranks, and rank 0's own compute thread
// on small runs. The master hands out work and collects results the same way for both.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>
#include <vector>

#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/task_runner.hpp"

namespace attnsweep::sweep {

class Worker {
 public:
  virtual ~Worker() = default;
  virtual void submit(const Task& task) = 0;
  // Moves the results finished since the last call into `out` (never blocks).
  virtual void collect(std::vector<TaskResult>& out) = 0;
  // Stop: the task being computed is abandoned at its next trial boundary (its finished trials
  // still come back), queued tasks are dropped, then the worker acknowledges.
  virtual void request_stop() = 0;
  // The stop is acknowledged: nothing more will come from this worker.
  virtual bool stopped() const = 0;
};

// Rank 0's compute thread. Owned RAII (std::jthread: destruction stops and joins it), and an
// exception inside it is carried to the master thread by collect(), never std::terminate.
class LocalWorker final : public Worker {
 public:
  explicit LocalWorker(const Grid& grid);
  ~LocalWorker() override;
  void submit(const Task& task) override;
  void collect(std::vector<TaskResult>& out) override;
  void request_stop() override;
  bool stopped() const override;

 private:
  void loop(std::stop_token stop);

  const Grid& grid_;
  const std::set<std::int64_t> inject_;
  mc::TrialWorkspace workspace_;  // used by the thread only
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<Task> queue_;
  std::vector<TaskResult> done_;
  std::exception_ptr error_;
  bool exited_ = false;
  std::atomic<bool> abandon_{false};
  std::jthread thread_;  // last: it starts once every member above exists
};

// A worker rank, seen from rank 0: tasks go out through the outbox; results and the stop
// acknowledgement are delivered by pump_worker_messages().
class RemoteWorker final : public Worker {
 public:
  RemoteWorker(int rank, parallel::Outbox& outbox) : rank_(rank), outbox_(outbox) {}
  void submit(const Task& task) override;
  void collect(std::vector<TaskResult>& out) override;
  void request_stop() override;
  bool stopped() const override { return acknowledged_; }
  int rank() const { return rank_; }

 private:
  friend struct WorkerMessages;
  int rank_;
  parallel::Outbox& outbox_;
  std::vector<TaskResult> mailbox_;
  bool stop_sent_ = false;
  bool acknowledged_ = false;
};

// What the workers' messages said, besides results: received anything, and the signal a
// worker received on its own (0 if none).
struct WorkerMessages {
  bool any = false;
  int signal = 0;
  // Receives every waiting message and routes it to its RemoteWorker (indexed by rank; entry 0
  // unused).
  static WorkerMessages pump(const std::vector<RemoteWorker*>& by_rank);
};

// Tells every worker rank the sweep's exit code (after they all acknowledged the stop).
void send_exit_code(parallel::Outbox& outbox, int ranks, int code);

// The whole life of a worker rank (1..P-1): compute the tasks rank 0 sends, report results,
// pass on a stop signal received here, stop when rank 0 says so, and return the exit code
// rank 0 sends (every rank of a sweep exits with the same code).
int run_worker_rank(const Grid& grid);

}  // namespace attnsweep::sweep
