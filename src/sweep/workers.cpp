#include "attnsweep/sweep/workers.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "attnsweep/io/bytes.hpp"
#include "attnsweep/sweep/messages.hpp"
#include "attnsweep/sweep/stop.hpp"

namespace attnsweep::sweep {

namespace {
// Open MPI's blocking receive spins; a worker with nothing to do sleeps instead so that it does
// not steal a core from ranks that compute: 1 ms at first, doubling while nothing comes (up to
// 16 ms), so that many idle ranks on few cores (the end of a sweep, oversubscribed nodes) do
// not wake thousands of times a second.
constexpr auto kIdleSleepFirst = std::chrono::microseconds(1000);
constexpr auto kIdleSleepMost = std::chrono::microseconds(16000);
}  // namespace

// ------------------------------------------------------------------ LocalWorker
LocalWorker::LocalWorker(const Grid& grid)
    : grid_(grid), inject_(injected_failures(grid.size())), thread_([this](std::stop_token stop) { loop(stop); }) {}

LocalWorker::~LocalWorker() {
  abandon_ = true;
  thread_.request_stop();  // wakes the condition variable; the jthread joins on destruction
}

void LocalWorker::loop(std::stop_token stop) {
  try {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (stop.stop_requested()) break;
      const Task task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      TaskResult result = run_task(
          grid_, task, inject_, [this] { return abandon_.load(); }, workspace_);
      lock.lock();
      done_.push_back(std::move(result));
    }
  } catch (...) {
    std::lock_guard guard(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard guard(mutex_);
  exited_ = true;
}

void LocalWorker::submit(const Task& task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(task);
  }
  wake_.notify_one();
}

void LocalWorker::collect(std::vector<TaskResult>& out) {
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
  for (auto& r : done_) out.push_back(std::move(r));
  done_.clear();
}

void LocalWorker::request_stop() {
  {
    std::lock_guard lock(mutex_);
    queue_.clear();
  }
  abandon_ = true;
  thread_.request_stop();
}

bool LocalWorker::stopped() const {
  std::lock_guard lock(mutex_);
  return exited_;
}

// ------------------------------------------------------------------ RemoteWorker
void RemoteWorker::submit(const Task& task) { outbox_.post(encode(task), rank_, kTagTask); }

void RemoteWorker::collect(std::vector<TaskResult>& out) {
  for (auto& r : mailbox_) out.push_back(std::move(r));
  mailbox_.clear();
}

void RemoteWorker::request_stop() {
  if (stop_sent_) return;
  stop_sent_ = true;
  outbox_.post("", rank_, kTagStop);
}

void send_exit_code(parallel::Outbox& outbox, int ranks, int code) {
  std::string bytes;
  io::ByteWriter(bytes).put(static_cast<std::int32_t>(code));
  for (int rank = 1; rank < ranks; ++rank) outbox.post(bytes, rank, kTagExit);
}

WorkerMessages WorkerMessages::pump(const std::vector<RemoteWorker*>& by_rank) {
  WorkerMessages said;
  int source = 0, tag = 0;
  while (parallel::message_waiting(source, tag)) {
    const std::string bytes = parallel::receive_bytes(source, tag);
    said.any = true;
    if (source <= 0 || static_cast<size_t>(source) >= by_rank.size() || !by_rank[static_cast<size_t>(source)]) {
      throw std::runtime_error("message from unexpected rank " + std::to_string(source));
    }
    RemoteWorker& worker = *by_rank[static_cast<size_t>(source)];
    if (tag == kTagResult) {
      worker.mailbox_.push_back(decode_result(bytes));
    } else if (tag == kTagStopped) {
      worker.acknowledged_ = true;
    } else if (tag == kTagSignal) {
      io::ByteReader in(bytes);
      said.signal = in.get<std::int32_t>();
    } else {
      throw std::runtime_error("unexpected message tag " + std::to_string(tag) + " from rank " +
                               std::to_string(source));
    }
  }
  return said;
}

// ------------------------------------------------------------------ worker rank
int run_worker_rank(const Grid& grid) {
  const auto inject = injected_failures(grid.size());
  mc::TrialWorkspace workspace;  // kept across tasks: a trial allocates nothing large
  std::deque<Task> queue;
  bool stop_received = false, signal_reported = false;
  auto idle_sleep = kIdleSleepFirst;
  // Between trials: has rank 0 said stop?
  const auto master_said_stop = [] {
    int flag = 0;
    parallel::check(MPI_Iprobe(0, kTagStop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
    return flag != 0;
  };
  while (true) {
    int source = 0, tag = 0;
    bool received = false;
    while (parallel::message_waiting(source, tag)) {
      const std::string bytes = parallel::receive_bytes(source, tag);
      received = true;
      if (tag == kTagTask) {
        if (!stop_received) queue.push_back(decode_task(bytes));
      } else if (tag == kTagStop) {
        stop_received = true;
        queue.clear();
        parallel::send_bytes("", 0, kTagStopped);
      } else if (tag == kTagExit) {
        io::ByteReader in(bytes);
        return in.get<std::int32_t>();
      } else {
        throw std::runtime_error("unexpected message tag " + std::to_string(tag) + " from rank " +
                                 std::to_string(source));
      }
    }
    // A signal that reached only this rank: rank 0 decides; it is told, and says stop to all.
    if (const int signal = stop_signal(); signal != 0 && !signal_reported) {
      std::string notice;
      io::ByteWriter(notice).put(static_cast<std::int32_t>(signal));
      parallel::send_bytes(notice, 0, kTagSignal);
      signal_reported = true;
    }
    leave_if_orphaned();
    if (queue.empty() || stop_received || signal_reported) {
      if (received) {
        idle_sleep = kIdleSleepFirst;
      } else {
        std::this_thread::sleep_for(idle_sleep);
        idle_sleep = std::min(idle_sleep * 2, kIdleSleepMost);
      }
      continue;
    }
    idle_sleep = kIdleSleepFirst;
    const Task task = std::move(queue.front());
    queue.pop_front();
    const TaskResult result = run_task(
        grid, task, inject, [&] { return stop_signal() != 0 || master_said_stop(); }, workspace);
    parallel::send_bytes(encode(result), 0, kTagResult);
  }
}

}  // namespace attnsweep::sweep
