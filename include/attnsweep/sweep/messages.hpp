// The messages between rank 0 and the workers, in the project's one byte codec (io/bytes.hpp).
#pragma once

#include <string>

#include "attnsweep/sweep/task_runner.hpp"

namespace attnsweep::sweep {

enum MessageTag : int {
  kTagTask = 1,     // rank 0 -> worker: a Task
  kTagResult = 2,   // worker -> rank 0: a TaskResult
  kTagStop = 3,     // rank 0 -> worker: stop computing (abandon the task at the next trial)
  kTagStopped = 4,  // worker -> rank 0: acknowledged, nothing more will come
  kTagSignal = 5,   // worker -> rank 0: this worker received a stop signal (i32 signal number)
  kTagExit = 6,     // rank 0 -> worker: the sweep's exit code (i32), for every rank to return
};

std::string encode(const Task& task);
Task decode_task(const std::string& bytes);  // throws io::TruncatedBytes / std::runtime_error
std::string encode(const TaskResult& result);
TaskResult decode_result(const std::string& bytes);

}  // namespace attnsweep::sweep
