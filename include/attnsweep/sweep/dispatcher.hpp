// The sweep's scheduling as a pure state machine: the task queue, what each worker has in
// flight, retries of failed cells, and the decision to stop. No MPI, no threads, no clock
// (the caller passes the time), so every transition is unit-tested on its own.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "attnsweep/sweep/scheduler.hpp"

namespace attnsweep::sweep {

enum class StopReason {
  none,
  signal,      // a stop signal reached some rank
  time_limit,  // --time-limit reached
  budget,      // nothing in flight and the next task cannot finish inside the time limit
};
const char* stop_reason_name(StopReason reason);

class Dispatcher {
 public:
  // `depth[w]`: how many tasks worker w may hold at once (one computing, more queued so that it
  // never waits for the next). `time_limit` in seconds, 0 for none. `max_attempts`: a failing
  // cell is tried this many times in all before it is given up.
  Dispatcher(std::vector<Task> tasks, std::vector<int> depth, double time_limit, int max_attempts);

  // More tasks at the back of the queue (the critical search's next evaluations).
  void add(std::vector<Task> tasks);
  // The next task for worker w, if it has room, the sweep is not stopping, and (under a time
  // limit) the task's estimate fits in what is left. A task beyond the first in flight only
  // while the rest of the queue holds, for each worker, at least that task's estimate (at the
  // end a queued task would wait out of the others' reach). Marks it in flight.
  std::optional<Task> assign(int worker, double now);
  // Worker w handed back a task it had in flight (finished, or abandoned by a stop).
  void returned(int worker);
  // A cell failed in a task after `attempts` attempts in all: requeue it alone (same trials) at
  // the front and return true, or return false when its attempts are used up (give it up).
  bool retry_failed_cell(std::int64_t cell, const Task& from, double estimated_seconds, int attempts);

  void request_stop(StopReason reason);  // the first reason wins
  // Time passes: the time limit (once a task has been assigned: a run's first task always gets
  // its chance), and a queue whose head can never fit.
  void update(double now);

  bool stopping() const { return stop_reason_ != StopReason::none; }
  StopReason stop_reason() const { return stop_reason_; }
  // Nothing in flight and nothing more will be assigned.
  bool finished() const { return in_flight_total_ == 0 && (stopping() || queue_.empty()); }
  size_t queued() const { return queue_.size(); }
  int in_flight(int worker) const { return in_flight_.at(static_cast<size_t>(worker)); }
  int in_flight_total() const { return in_flight_total_; }

 private:
  bool head_fits(double now) const;

  std::deque<Task> queue_;
  double queued_seconds_ = 0;  // the queue's estimated work
  std::vector<int> depth_, in_flight_;
  int in_flight_total_ = 0;
  bool assigned_any_ = false;
  bool returned_any_ = false;
  double first_assigned_at_ = 0, first_estimate_ = 0;
  double time_limit_;
  int max_attempts_;
  StopReason stop_reason_ = StopReason::none;
};

}  // namespace attnsweep::sweep
