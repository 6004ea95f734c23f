#include "attnsweep/sweep/dispatcher.hpp"

#include <stdexcept>

namespace attnsweep::sweep {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::none:
      return "none";
    case StopReason::signal:
      return "signal";
    case StopReason::time_limit:
      return "time limit";
    case StopReason::budget:
      return "time limit (the rest does not fit)";
  }
  return "unknown";
}

Dispatcher::Dispatcher(std::vector<Task> tasks, std::vector<int> depth, double time_limit, int max_attempts)
    : queue_(std::make_move_iterator(tasks.begin()), std::make_move_iterator(tasks.end())),
      depth_(std::move(depth)),
      in_flight_(depth_.size(), 0),
      time_limit_(time_limit),
      max_attempts_(max_attempts) {
  for (const Task& task : queue_) queued_seconds_ += task.estimated_seconds;
}

bool Dispatcher::head_fits(double now) const {
  if (queue_.empty()) return false;
  if (time_limit_ <= 0) return true;
  const double estimate = queue_.front().estimated_seconds;
  // The run's first task starts if it fits in the whole budget, however long start-up took (a
  // loaded machine, a big resume), so that every run whose limit fits one task makes progress.
  if (!assigned_any_) return estimate < time_limit_;
  // After that the estimate is a guess: leave half of it again as a margin.
  return now + estimate * 1.5 < time_limit_;
}

void Dispatcher::add(std::vector<Task> tasks) {
  for (Task& task : tasks) {
    queued_seconds_ += task.estimated_seconds;
    queue_.push_back(std::move(task));
  }
}

std::optional<Task> Dispatcher::assign(int worker, double now) {
  const auto w = static_cast<size_t>(worker);
  if (stopping() || in_flight_.at(w) >= depth_[w] || !head_fits(now)) return std::nullopt;
  // Measured without this rule: at the end of the default sweep a remote rank held 0.41 s of
  // queued work while rank 0 ran out of tasks.
  const double head = queue_.front().estimated_seconds, workers = static_cast<double>(depth_.size());
  if (in_flight_[w] > 0 && queued_seconds_ - head < workers * head) return std::nullopt;
  Task task = std::move(queue_.front());
  queue_.pop_front();
  queued_seconds_ = queue_.empty() ? 0 : queued_seconds_ - head;
  if (!assigned_any_) {
    first_assigned_at_ = now;
    first_estimate_ = task.estimated_seconds;
  }
  assigned_any_ = true;
  ++in_flight_[w];
  ++in_flight_total_;
  return task;
}

void Dispatcher::returned(int worker) {
  const auto w = static_cast<size_t>(worker);
  if (in_flight_.at(w) == 0) throw std::logic_error("dispatcher: worker returned a task it did not have");
  --in_flight_[w];
  --in_flight_total_;
  returned_any_ = true;
}

bool Dispatcher::retry_failed_cell(std::int64_t cell, const Task& from, double estimated_seconds, int attempts) {
  if (attempts >= max_attempts_) return false;
  // At the front, alone: the task's other cells already have their trials.
  queue_.push_front({{cell}, from.first_trial, from.trial_count, estimated_seconds, {}, false});
  queued_seconds_ += estimated_seconds;
  return true;
}

void Dispatcher::request_stop(StopReason reason) {
  if (stop_reason_ == StopReason::none) stop_reason_ = reason;
}

void Dispatcher::update(double now) {
  // The limit stops a run only once its first task came back (or overran its estimate twice):
  // stopping it in flight would make a run that started late (a loaded machine) do nothing.
  const bool progressed = returned_any_ || (assigned_any_ && now >= first_assigned_at_ + 2 * first_estimate_);
  if (time_limit_ > 0 && now >= time_limit_ && progressed) request_stop(StopReason::time_limit);
  if (!stopping() && in_flight_total_ == 0 && !queue_.empty() && !head_fits(now)) request_stop(StopReason::budget);
}

}  // namespace attnsweep::sweep
