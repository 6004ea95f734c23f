// The run store: everything rank 0 knows about a sweep's results while it runs. It owns the
// journal (durable), the in-memory state of every cell (visible), the per-trial data of cells
// still in progress, and the HDF5 snapshots.
//
// - One journal write and one fdatasync per batch of task results (all their cells and
//   trials; batches that wait together are merged), never one per cell, done by a background
//   thread; state changes become visible only once durable.
// - Per-trial data is kept only for cells in progress and freed when the cell is finished
//   (journaled and summarised).
// - Snapshots are taken from a consistent copy of the state and written by a background
//   thread (temp file + rename: a reader never sees a half-written file), at an interval that
//   adapts so that snapshotting stays under 1% of the wall time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/task_runner.hpp"

namespace attnsweep::sweep {

// Trials of a cell that is not finished yet.
struct PartialCell {
  mc::CellSamples samples;
  double seconds = 0;
};
using PartialCells = std::unordered_map<std::int64_t, PartialCell>;

// A journal visitor that applies replayed records to `state` and gathers the trials of
// unfinished cells in `partials` (records of cells outside the state are ignored).
io::JournalVisitor replay_into(io::SweepState& state, PartialCells& partials);

// Writes snapshots of a sweep's state in a background thread, one at a time.
class Snapshotter {
 public:
  Snapshotter(std::string path, io::SweepConfig config);
  ~Snapshotter();  // waits for a write in progress
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Hands this state to the writer unless it is busy; returns whether it was taken.
  bool offer(io::SweepState&& state);
  // Waits until the writer is idle; rethrows the error of a failed write.
  void wait();
  // Writes on the calling thread (after wait()): the final snapshot.
  void write_now(const io::SweepState& state);
  double write_seconds() const;  // total, all snapshots
  double last_write_seconds() const;
  int count() const;

 private:
  void write(const io::SweepState& state);

  const std::string path_;
  const io::SweepConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_, idle_;
  std::optional<io::SweepState> pending_;
  bool writing_ = false;
  std::exception_ptr error_;
  double write_seconds_ = 0, last_write_seconds_ = 0;
  int count_ = 0;
  std::jthread thread_;  // last: it starts once every member above exists
};

// Makes journal batches durable in a background thread, so that the master never waits for
// a disk: it hands a batch over and goes on. Batches that wait together go out in one write
// and one fdatasync (group commit). Their cell records come back once durable, in order.
class JournalWriter {
 public:
  explicit JournalWriter(std::unique_ptr<io::Journal> journal);
  ~JournalWriter();  // makes what was handed over durable first
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  void submit(io::Journal::Batch& batch, std::vector<io::CellRecord>& records);  // empties both
  // Moves the cell records made durable since the last call into `out`; rethrows a write error.
  void take_durable(std::vector<io::CellRecord>& out);
  // Waits until everything submitted is durable; rethrows a write error.
  void flush();
  std::uint64_t commits() const;
  std::uint64_t bytes() const;

 private:
  std::unique_ptr<io::Journal> journal_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_, done_;
  io::Journal::Batch queued_;
  std::vector<io::CellRecord> queued_records_, durable_;
  bool writing_ = false;
  std::exception_ptr error_;
  std::uint64_t commits_ = 0, bytes_ = 0;
  std::jthread thread_;  // last: it starts once every member above exists
};

// A cell that failed in a task; the master decides whether it is retried.
struct FailedCell {
  std::int64_t cell = 0;
  std::string error;
  Task task;           // the task it failed in (its trial range is retried)
  double seconds = 0;  // its share of the task's time
  int attempts = 0;    // attempts so far, this failure included
};

class RunStore {
 public:
  using Clock = std::chrono::steady_clock;

  // `state` and `partials`: what the results file and the journal replay hold. `cells`: the
  // cells this run computes (missing, or failed with --retry-failed).
  RunStore(const Grid& grid, std::string output, io::SweepState state, PartialCells partials,
           std::unique_ptr<io::Journal> journal, const std::vector<std::int64_t>& cells, double snapshot_every);

  // Journaled trials of this run's cells count: tasks are trimmed to the trials still
  // missing, and cells whose trials are all there are finished. Returns the trials restored.
  std::uint64_t restore(std::vector<Task>& tasks);

  // Takes a task's result: finished cells and new trials of unfinished ones go into the
  // pending batch. Returns the cells that failed (not counted if the task was abandoned).
  std::vector<FailedCell> accept(TaskResult result);
  // A failed cell whose attempts are used up: recorded as failed.
  void give_up(const FailedCell& failed);
  // Hands the pending batch to the journal writer, and makes visible (applies to the state)
  // every record that has become durable since. Never waits for the disk.
  void commit();
  // commit(), then waits until everything is durable and visible.
  void flush();

  // A snapshot in the background if the state changed and the interval has passed.
  void maybe_snapshot();
  // Waits for the background writer, then writes the final state on this thread.
  void final_snapshot();

  const io::SweepState& state() const { return state_; }
  // Cells of this run finished (any status), and of them failed and undefined; durable all.
  std::int64_t cells_finished() const { return cells_finished_; }
  std::int64_t cells_failed() const { return cells_failed_; }
  std::int64_t cells_undefined() const { return cells_undefined_; }
  size_t cells_in_progress() const { return partials_.size(); }
  std::uint64_t trials_done() const { return trials_done_; }
  double snapshot_seconds() const;  // copies + writes, background included
  int snapshots() const { return snapshotter_.count(); }
  std::uint64_t journal_bytes() const { return writer_.bytes(); }
  std::uint64_t journal_commits() const { return writer_.commits(); }

 private:
  void finish(std::int64_t cell, const mc::CellSamples& samples, double seconds);
  void journal_trials(std::int64_t cell, const mc::CellSamples& fresh, double seconds);
  int attempts_before(std::int64_t cell) const { return state_.attempts[static_cast<size_t>(cell)]; }

  const Grid& grid_;
  const std::uint64_t trials_needed_;
  std::string output_;
  io::SweepState state_;
  PartialCells partials_;
  std::vector<bool> open_;                          // cells of this run not finished yet
  std::unordered_map<std::int64_t, int> failures_;  // failures in this run, by cell
  io::Journal::Batch batch_;
  std::vector<io::CellRecord> pending_;  // durable with the batch, then applied to state_
  std::vector<io::CellRecord> durable_;  // scratch: records just made durable
  std::int64_t cells_finished_ = 0, cells_failed_ = 0, cells_undefined_ = 0;
  std::uint64_t trials_done_ = 0;
  bool dirty_ = false;
  double snapshot_every_, copy_seconds_ = 0, last_copy_seconds_ = 0;
  Clock::time_point last_snapshot_{};
  JournalWriter writer_;
  Snapshotter snapshotter_;
};

}  // namespace attnsweep::sweep
