// A fixed team of threads that runs the items of a loop, for the kernel's row blocks.
// Which thread runs which item is not fixed; callers keep results per item and reduce them in
// item order, so a result never depends on the team's size.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attnsweep::model {

class ThreadTeam {
 public:
  // `size` threads take part: the caller's and size - 1 helpers (std::jthread, joined by the
  // destructor). size < 1 is taken as 1.
  explicit ThreadTeam(int size = 1);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return static_cast<int>(helpers_.size()) + 1; }

  // Runs body(item, member) once for every item in [0, count), member in [0, size()) naming the
  // thread (for per-thread scratch), and returns when all are done. The first exception thrown
  // by a body is rethrown here (the remaining items are skipped).
  void run(std::int64_t count, const std::function<void(std::int64_t item, int member)>& body);

 private:
  void work(int member);
  void help(std::stop_token stop, int member);

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(std::int64_t, int)>* body_ = nullptr;
  std::int64_t count_ = 0, next_ = 0;
  std::uint64_t generation_ = 0;
  int busy_ = 0;
  std::exception_ptr error_;
  std::vector<std::jthread> helpers_;
};

}  // namespace attnsweep::model
