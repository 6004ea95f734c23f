#include "attnsweep/sweep/run_store.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnsweep::sweep {

io::JournalVisitor replay_into(io::SweepState& state, PartialCells& partials) {
  io::JournalVisitor replay;
  replay.on_cell = [&state, &partials](const io::CellRecord& record) {
    if (record.cell < 0 || record.cell >= state.size()) return;
    state.apply(record);
    partials.erase(record.cell);
  };
  replay.on_trials = [&state, &partials](const io::TrialsRecord& record) {
    if (record.cell < 0 || record.cell >= state.size()) return;
    PartialCell& partial = partials[record.cell];
    for (size_t i = 0; i < record.trial.size(); ++i) {
      mc::TrialResult value;
      for (size_t k = 0; k < mc::kObservableCount; ++k) value[k] = record.values[k][i];
      partial.samples.add_if_absent(record.trial[i], value);
    }
    partial.seconds += record.seconds;
  };
  return replay;
}

namespace {
double seconds_between(RunStore::Clock::time_point a, RunStore::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
// Snapshots may take at most this fraction of the wall time.
constexpr double kSnapshotShare = 0.01;
}  // namespace

// ------------------------------------------------------------------ Snapshotter
Snapshotter::Snapshotter(std::string path, io::SweepConfig config)
    : path_(std::move(path)), config_(std::move(config)), thread_([this](std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (true) {
          wake_.wait(lock, stop, [this] { return pending_.has_value(); });
          if (!pending_) return;  // stop requested with nothing to write
          io::SweepState state = std::move(*pending_);
          pending_.reset();
          writing_ = true;
          lock.unlock();
          std::exception_ptr error;
          try {
            write(state);
          } catch (...) {
            error = std::current_exception();
          }
          lock.lock();
          if (error && !error_) error_ = error;
          writing_ = false;
          idle_.notify_all();
        }
      }) {}

Snapshotter::~Snapshotter() {
  thread_.request_stop();  // a write in progress finishes first; the jthread joins
}

void Snapshotter::write(const io::SweepState& state) {
  const auto start = std::chrono::steady_clock::now();
  io::write_results_file(path_, config_, state);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(mutex_);
  write_seconds_ += took;
  last_write_seconds_ = took;
  ++count_;
}

bool Snapshotter::offer(io::SweepState&& state) {
  {
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    if (writing_ || pending_) return false;
    pending_ = std::move(state);
  }
  wake_.notify_one();
  return true;
}

void Snapshotter::wait() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return !writing_ && !pending_; });
  if (error_) std::rethrow_exception(error_);
}

void Snapshotter::write_now(const io::SweepState& state) {
  wait();
  write(state);
}

double Snapshotter::write_seconds() const {
  std::lock_guard lock(mutex_);
  return write_seconds_;
}
double Snapshotter::last_write_seconds() const {
  std::lock_guard lock(mutex_);
  return last_write_seconds_;
}
int Snapshotter::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

// ------------------------------------------------------------------ JournalWriter
JournalWriter::JournalWriter(std::unique_ptr<io::Journal> journal)
    : journal_(std::move(journal)), bytes_(journal_->size_bytes()), thread_([this](std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (true) {
          wake_.wait(lock, stop, [this] { return !queued_.empty(); });
          if (queued_.empty()) return;  // stop requested and nothing left to write
          io::Journal::Batch batch;
          batch.absorb(queued_);
          std::vector<io::CellRecord> records;
          records.swap(queued_records_);
          writing_ = true;
          lock.unlock();
          std::exception_ptr error;
          try {
            journal_->commit(batch);
          } catch (...) {
            error = std::current_exception();
          }
          lock.lock();
          writing_ = false;
          if (error) {
            if (!error_) error_ = error;
          } else {
            ++commits_;
            bytes_ = journal_->size_bytes();
            durable_.insert(durable_.end(), std::make_move_iterator(records.begin()),
                            std::make_move_iterator(records.end()));
          }
          done_.notify_all();
          if (error_) return;  // nothing more can be made durable in order
        }
      }) {}

JournalWriter::~JournalWriter() {
  thread_.request_stop();  // what is queued is written first; the jthread joins
}

void JournalWriter::submit(io::Journal::Batch& batch, std::vector<io::CellRecord>& records) {
  if (batch.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    queued_.absorb(batch);
    queued_records_.insert(queued_records_.end(), std::make_move_iterator(records.begin()),
                           std::make_move_iterator(records.end()));
  }
  records.clear();
  wake_.notify_one();
}

void JournalWriter::take_durable(std::vector<io::CellRecord>& out) {
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
  out.swap(durable_);
  durable_.clear();
}

void JournalWriter::flush() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return error_ || (queued_.empty() && !writing_); });
  if (error_) std::rethrow_exception(error_);
}

std::uint64_t JournalWriter::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

std::uint64_t JournalWriter::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

// ------------------------------------------------------------------ RunStore
RunStore::RunStore(const Grid& grid, std::string output, io::SweepState state, PartialCells partials,
                   std::unique_ptr<io::Journal> journal, const std::vector<std::int64_t>& cells, double snapshot_every)
    : grid_(grid),
      trials_needed_(static_cast<std::uint64_t>(grid.config().trials)),
      output_(output),
      state_(std::move(state)),
      partials_(std::move(partials)),
      open_(static_cast<size_t>(grid.size()), false),
      snapshot_every_(snapshot_every),
      writer_(std::move(journal)),
      snapshotter_(output, grid.config()) {
  for (std::int64_t cell : cells) open_[static_cast<size_t>(cell)] = true;
  dirty_ = true;  // a first snapshot at once: the file exists (and query/status work) from the start
  // Journaled trials of cells this run does not compute are of no use here.
  std::erase_if(partials_, [this](const auto& entry) { return !open_[static_cast<size_t>(entry.first)]; });
}

std::uint64_t RunStore::restore(std::vector<Task>& tasks) {
  std::uint64_t restored = 0;
  for (auto& [cell, partial] : partials_) {
    // Trials beyond this config's count (none in practice: the config hash fixes trials) are dropped.
    const auto& all = partial.samples.by_trial();
    mc::CellSamples kept;
    for (const auto& [trial, value] : all)
      if (trial < trials_needed_) kept.add(trial, value);
    partial.samples = std::move(kept);
    restored += static_cast<std::uint64_t>(partial.samples.size());
  }
  if (partials_.empty()) return 0;
  // Trim each task's trial range to the trials some cell of it still lacks.
  const auto all_have = [this](const Task& t, std::uint64_t trial) {
    for (std::int64_t cell : t.cells) {
      const auto it = partials_.find(cell);
      if (it == partials_.end() || !it->second.samples.contains(trial)) return false;
    }
    return true;
  };
  std::vector<Task> kept;
  for (Task& t : tasks) {
    const double per_trial = t.estimated_seconds / static_cast<double>(t.trial_count);
    while (t.trial_count > 0 && all_have(t, t.first_trial)) ++t.first_trial, --t.trial_count;
    while (t.trial_count > 0 && all_have(t, t.first_trial + t.trial_count - 1)) --t.trial_count;
    t.estimated_seconds = per_trial * static_cast<double>(t.trial_count);
    if (t.trial_count > 0) kept.push_back(std::move(t));
  }
  tasks = std::move(kept);
  // A cell whose trials all came from the journal is finished now.
  std::vector<std::int64_t> complete;
  for (const auto& [cell, partial] : partials_)
    if (static_cast<std::uint64_t>(partial.samples.size()) == trials_needed_) complete.push_back(cell);
  std::sort(complete.begin(), complete.end());
  for (std::int64_t cell : complete) {
    const PartialCell partial = std::move(partials_.at(cell));
    partials_.erase(cell);
    finish(cell, partial.samples, partial.seconds);
  }
  flush();
  return restored;
}

std::vector<FailedCell> RunStore::accept(TaskResult r) {
  std::vector<FailedCell> failed;
  const double share = r.seconds / static_cast<double>(std::max<size_t>(r.outcomes.size(), 1));
  for (CellOutcome& outcome : r.outcomes) {
    const std::int64_t cell = outcome.cell;
    if (cell < 0 || cell >= grid_.size() || !open_[static_cast<size_t>(cell)]) continue;  // finished or given up
    // An abandoned task's failures are not counted: they recur deterministically when the rest
    // of the task runs on resume.
    if (!outcome.ok && r.abandoned) continue;
    const auto partial = partials_.find(cell);
    if (!outcome.ok) {
      if (partial != partials_.end()) partial->second.seconds += share;
      const int attempts = attempts_before(cell) + ++failures_[cell];
      failed.push_back({cell, outcome.error, r.task, share, attempts});
      continue;
    }
    // The common case: the task held every trial of the cell. Nothing is kept per trial.
    if (partial == partials_.end() && static_cast<std::uint64_t>(outcome.samples.size()) == trials_needed_) {
      trials_done_ += trials_needed_;
      finish(cell, outcome.samples, share);
      continue;
    }
    if (outcome.samples.size() == 0) continue;
    PartialCell& p = partial != partials_.end() ? partial->second : partials_[cell];
    p.seconds += share;
    // A resumed run may recompute a trial the journal already holds (tasks planned with other
    // boundaries); the values are identical, so the first copy stays.
    mc::CellSamples fresh;
    for (const auto& [trial, value] : outcome.samples.by_trial()) {
      if (p.samples.add_if_absent(trial, value)) fresh.add(trial, value);
    }
    trials_done_ += static_cast<std::uint64_t>(fresh.size());
    if (static_cast<std::uint64_t>(p.samples.size()) < trials_needed_) {
      // Finished trials of an unfinished cell are journaled: a stop or crash loses only trials in flight.
      if (fresh.size() > 0) journal_trials(cell, fresh, share);
    } else {
      const PartialCell done = std::move(p);
      partials_.erase(cell);
      finish(cell, done.samples, done.seconds);
    }
  }
  return failed;
}

void RunStore::journal_trials(std::int64_t cell, const mc::CellSamples& fresh, double seconds) {
  io::TrialsRecord record;
  record.cell = cell;
  record.seconds = seconds;
  for (const auto& [trial, value] : fresh.by_trial()) {
    record.trial.push_back(trial);
    for (size_t k = 0; k < mc::kObservableCount; ++k) record.values[k].push_back(value[k]);
  }
  batch_.add(record);
}

void RunStore::finish(std::int64_t cell, const mc::CellSamples& samples, double seconds) {
  io::CellRecord record;
  record.cell = cell;
  record.status = io::CellStatus::done;
  record.trials = static_cast<std::int32_t>(samples.size());
  record.seconds = seconds;
  const mc::CellSamples::Tokens tokens = mc::tokens_of(grid_.cell(cell));
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const mc::Summary summary = samples.summary(k, tokens);
    io::ObservableRecord& o = record.observables[k];
    o.defined = static_cast<std::int32_t>(summary.count);
    o.mean = summary.mean;
    o.std_error = summary.std_error;
    o.quantiles = summary.quantiles;
    for (const auto& [trial, value] : samples.by_trial()) o.trial.push_back(value[k]);  // trials 0 .. T - 1
    // Undefined, not done, when an observable is defined in none of the trials (mc/trial.cpp).
    if (summary.count == 0 && mc::kObservables[k].decides_status) record.status = io::CellStatus::undefined;
  }
  const auto failures = failures_.find(cell);
  record.attempts = attempts_before(cell) + (failures == failures_.end() ? 0 : failures->second) + 1;
  batch_.add(record);
  pending_.push_back(std::move(record));
  open_[static_cast<size_t>(cell)] = false;
  failures_.erase(cell);
}

void RunStore::give_up(const FailedCell& failed) {
  const std::int64_t cell = failed.cell;
  if (!open_[static_cast<size_t>(cell)]) return;
  double seconds = failed.seconds;
  if (const auto partial = partials_.find(cell); partial != partials_.end()) {
    seconds = partial->second.seconds;
    partials_.erase(partial);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  io::CellRecord record;
  record.cell = cell;
  record.status = io::CellStatus::failed;
  for (io::ObservableRecord& o : record.observables) o.mean = o.std_error = nan;
  record.seconds = seconds;
  record.attempts = failed.attempts;
  record.error = failed.error;
  batch_.add(record);
  pending_.push_back(std::move(record));
  open_[static_cast<size_t>(cell)] = false;
  failures_.erase(cell);
}

void RunStore::commit() {
  writer_.submit(batch_, pending_);
  // Durable first, then visible: only records the writer has made durable reach the state.
  writer_.take_durable(durable_);
  for (const io::CellRecord& record : durable_) {
    state_.apply(record);
    cells_failed_ += record.status == io::CellStatus::failed;
    cells_undefined_ += record.status == io::CellStatus::undefined;
  }
  cells_finished_ += static_cast<std::int64_t>(durable_.size());
  if (!durable_.empty()) dirty_ = true;
  durable_.clear();
}

void RunStore::flush() {
  writer_.submit(batch_, pending_);
  writer_.flush();
  commit();
}

void RunStore::maybe_snapshot() {
  const auto now = Clock::now();
  if (!dirty_) return;
  // The interval grows with the cost of a snapshot so that snapshots stay under 1% of the wall.
  const double cost = last_copy_seconds_ + snapshotter_.last_write_seconds();
  const double interval = std::max(snapshot_every_, cost / kSnapshotShare);
  if (last_snapshot_ != Clock::time_point{} && seconds_between(last_snapshot_, now) < interval) return;
  io::SweepState copy = state_;  // consistent: only committed records are in state_
  last_copy_seconds_ = seconds_between(now, Clock::now());
  copy_seconds_ += last_copy_seconds_;
  if (snapshotter_.offer(std::move(copy))) {
    last_snapshot_ = now;
    dirty_ = false;
  }
}

void RunStore::final_snapshot() {
  flush();
  snapshotter_.write_now(state_);
  dirty_ = false;
}

double RunStore::snapshot_seconds() const { return copy_seconds_ + snapshotter_.write_seconds(); }

}  // namespace attnsweep::sweep
