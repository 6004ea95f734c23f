// The `run` subcommand: rank 0 is the master (dispatcher, run store), ranks 1..P-1 are
// workers. On small runs (P <= 8) rank 0 also computes in a thread of its own, so P = 1 works
// and P = 2 keeps both cores busy; MPI calls stay on the main thread (MPI_THREAD_FUNNELED).
//
//   sweep/dispatcher   task queue, in-flight accounting, retries, stop decision (pure)
//   sweep/workers      remote ranks and rank 0's compute thread behind one interface
//   sweep/run_store    journal, in-memory state, snapshots
//   sweep/stop         signal flag and orphan check
//   sweep/messages     the byte codec of the messages (shared with the journal)
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

// Exit codes of the public contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailedCells = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitIoError = 74;  // disk full, read/write error (sysexits' EX_IOERR)
inline constexpr int kExitInternal = 3;  // a bug: an unexpected exception
inline constexpr int kExitStopped = 75;

struct RunOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;         // empty: the config's output.file
  bool retry_failed = false;  // recompute cells whose status is failed
  double time_limit = 0;      // seconds since `started`; 0 = none
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // the command's start
  double snapshot_every = 30;  // least seconds between HDF5 snapshots while running
  long slice_index = 0;        // run only cells [size * k / N, size * (k + 1) / N) of the flat index
  long slice_count = 1;        // (independent slices of one sweep, merged with `attnsweep merge`)
};

// Rank 0 computes in a thread of its own when the job has at most this many ranks.
inline constexpr int kLocalWorkerMaxRanks = 8;

// Shared by `run` and `critical` (rank 0, before anything is written):
// snapshots OUTPUT.tmp.PID left unfinished by a killed run are removed (call with the journal's
// lock held, so that no other run of this output is writing one);
void remove_stale_snapshots(const std::string& output);
// a job whose nodes cannot hold one trial of the grid's largest cell in every computing slot at
// once, plus rank 0's `master_bytes` on its node, is refused (InputError naming the cell or the
// master, the node, what it needs and has).
void check_nodes_fit(const std::vector<parallel::NodeShare>& nodes, const Grid& grid, int ranks, double master_bytes);

// "2 nodes (node1: 1, node2: 1)": the hosts of the job and their ranks, for the start-up line.
std::string node_summary(const std::vector<parallel::NodeShare>& nodes);

// Rank 0 runs `step` (config, files, memory: every decision is rank 0's) and broadcasts the
// verdict: an InputError there is printed as one line and every rank gets kExitBadInput.
int rank0_decides(const parallel::Environment& mpi, const std::function<void()>& step);

// The whole `run` subcommand on every rank; returns the process exit code.
int run_sweep(const RunOptions& options, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
