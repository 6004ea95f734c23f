// The sweep: rank 0 is the master (scheduling, journal, HDF5), ranks 1..P-1 are workers.
// On small runs (P <= 8) rank 0 also computes in a second thread, so P = 1 works and P = 2
// keeps both cores busy; MPI calls stay on the main thread (MPI_THREAD_FUNNELED).
#pragma once

#include <atomic>
#include <csignal>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "attnsweep/mc/samples.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/scheduler.hpp"

namespace attnsweep::sweep {

// Exit codes of the public contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailedCells = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitStopped = 75;

struct RunOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;          // empty: the config's output.file
  bool retry_failed = false;   // recompute cells whose status is failed
  double time_limit = 0;       // seconds; 0 = none
  double snapshot_every = 30;  // seconds between HDF5 snapshots while running
  long slice_index = 0;        // run only cells [size * k / N, size * (k + 1) / N) of the flat index
  long slice_count = 1;        // (independent slices of one sweep, merged with `attnsweep merge`)
};

// Set by SIGTERM, SIGINT, SIGUSR1: stop cleanly, exit 75.
extern volatile std::sig_atomic_t g_stop_signal;
void install_stop_handlers();

// Cells listed in ATTNSWEEP_INJECT_FAILURE (comma-separated flat indices) throw on every
// attempt: a testing aid for the failure paths.
std::set<std::int64_t> injected_failures();

// What a task produced for one of its cells.
struct CellOutcome {
  std::int64_t cell = 0;
  bool ok = true;
  std::string error;
  mc::CellSamples samples;
};

struct TaskResult {
  Task task;
  bool abandoned = false;  // stopped by a signal before finishing: nothing of it is kept
  double seconds = 0;
  std::vector<CellOutcome> outcomes;  // one per task cell, in the task's order
};

// Runs one task trial by trial, asking `should_stop` between trials (a stop abandons the
// task). Never throws: a failure (exception, non-finite value, injected) fails only the cells
// it concerns, with the message.
TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop);

std::string encode(const Task& task);
Task decode_task(const std::string& bytes);
std::string encode(const TaskResult& result);
TaskResult decode_result(const std::string& bytes);

// The whole `run` subcommand on every rank; returns the process exit code.
int run_sweep(const RunOptions& options, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
