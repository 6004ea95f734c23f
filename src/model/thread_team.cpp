#include "attnsweep/model/thread_team.hpp"

namespace attnsweep::model {

ThreadTeam::ThreadTeam(int size) {
  for (int member = 1; member < size; ++member)
    helpers_.emplace_back([this, member](std::stop_token stop) { help(stop, member); });
}

ThreadTeam::~ThreadTeam() {
  for (auto& helper : helpers_) helper.request_stop();
  {
    std::lock_guard lock(mutex_);  // a helper between its stop check and its wait sees the stop
  }
  wake_.notify_all();
  helpers_.clear();  // joins
}

void ThreadTeam::work(int member) {
  std::unique_lock lock(mutex_);
  while (next_ < count_ && !error_) {
    const std::int64_t item = next_++;
    lock.unlock();
    try {
      (*body_)(item, member);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      continue;
    }
    lock.lock();
  }
}

void ThreadTeam::help(std::stop_token stop, int member) {
  std::uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop.stop_requested() || generation_ != seen; });
      if (stop.stop_requested()) return;
      seen = generation_;
      ++busy_;
    }
    work(member);
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
    done_.notify_all();
  }
}

void ThreadTeam::run(std::int64_t count, const std::function<void(std::int64_t, int)>& body) {
  if (count <= 0) return;
  if (helpers_.empty() || count == 1) {  // no hand-off for a single item
    for (std::int64_t item = 0; item < count; ++item) body(item, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    next_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  work(0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    // Every item handed out is finished once no helper is inside work().
    done_.wait(lock, [&] { return busy_ == 0 && (next_ >= count_ || error_); });
    body_ = nullptr;
    count_ = 0;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace attnsweep::model
