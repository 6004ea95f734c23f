#include "attnsweep/sweep/sweep_campaign.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/provenance.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/exit_codes.hpp"
#include "attnsweep/sweep/growth.hpp"
#include "attnsweep/sweep/run_store.hpp"
#include "attnsweep/sweep/startup.hpp"
#include "attnsweep/sweep/stop.hpp"

namespace attnsweep::sweep {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool journal_is_this_sweeps(const std::string& journal, std::uint64_t config_hash) {
  try {
    return file_exists(journal) && io::Journal::read_hash(journal) == io::Journal::stamp(config_hash);
  } catch (const std::exception&) {
    return false;
  }
}

// Rank 0, step 1: the config, the output, and that an existing output is this sweep's.
// Touches no file. Throws InputError.
struct Prepared {
  io::SweepConfig config;
  std::string output, journal_path;
  io::SweepState state;
  PartialCells partials;
  std::vector<std::int64_t> cells;
  std::int64_t first = 0, last = 0;  // this run's range of the flat index
  std::unique_ptr<io::Journal> journal;
  std::optional<Growth> growth;  // the file holds a smaller study this run grows
  bool journal_grown = false;    // ... and its journal is the grown one already
};

void check_inputs(Prepared& p, const RunOptions& options) {
  p.config = io::load_config(options.config_path, options.overrides);
  p.output = options.output.empty() ? p.config.output : options.output;
  // The real file behind the name: a symlinked output stays a symlink (its target is what is
  // replaced), and two names of one file share one journal, so one run locks out the other.
  p.output = io::resolve_output_path(p.output);
  p.journal_path = io::journal_path_of(p.output);
  io::check_output_path(p.output);
  // An existing output must be this sweep's (same config): refuse before touching anything.
  if (file_exists(p.output)) {
    // An unreadable output is never overwritten; say how to go on (the journal rebuilds it only
    // if the journal is this sweep's).
    const std::string hint = journal_is_this_sweeps(p.journal_path, p.config.hash())
                                 ? "; move it away and rerun: the state is rebuilt from " + p.journal_path
                                 : "; move it away or choose another --output";
    std::string stored_text;
    std::int64_t stored_kernel = 0;
    try {
      const io::ResultsReader reader(p.output);
      stored_text = reader.header().config.canonical_text();
      stored_kernel = reader.header().kernel_version;
    } catch (const io::WrongKindOfFile& e) {
      throw io::InputError(e.what() + std::string("; choose another --output for this sweep"));
    } catch (const io::InputError& e) {
      throw io::InputError(e.what() + hint);
    }
    io::require_this_kernel(p.output, stored_kernel);
    // Another config is refused unless it grows the file's study (sweep/growth.hpp).
    p.growth = plan_growth(io::parse_config(stored_text, {}, p.output), p.config, p.output);
    // Resume only from a sound file (what `verify` checks); the journal alone can rebuild it.
    const std::vector<std::string> problems = io::verify_results_file(p.output);
    if (!problems.empty()) {
      throw io::InputError(p.output + " fails verification (" + problems.front() +
                           "); move it away and rerun: the state is rebuilt from " + p.journal_path);
    }
  }
  // A growth killed after its new journal was in place goes on from that journal.
  p.journal_grown = p.growth && journal_is_this_sweeps(p.journal_path, p.config.hash());
  if (!p.journal_grown)
    io::Journal::require_owner(p.journal_path, p.growth ? p.growth->from().hash() : p.config.hash(), "sweep");
}

// Rank 0, step 2: the previous state (results file, then the journal streamed over it) and the
// cells to run.
void open_state(Prepared& p, const RunOptions& options, const Grid& grid) {
  const auto start = Clock::now();
  if (p.growth && !p.journal_grown)
    std::fprintf(stderr, "[attnsweep] %s\n", grow_journal(*p.growth, p.output, p.journal_path, grid).c_str());
  // A grown study's state is all in its new journal (the file still holds the smaller one).
  p.state = file_exists(p.output) && !p.growth ? io::read_results_file(p.output).state : io::SweepState(grid.size());
  // Per-trial values kept from now on (those of a file without them stay unknown, NaN).
  p.state.keep_trials(static_cast<std::int32_t>(grid.config().trials));
  const bool journal_is_new = !file_exists(p.journal_path);
  p.journal = std::make_unique<io::Journal>(p.journal_path, p.config.hash(), replay_into(p.state, p.partials));
  if (p.journal->dropped_bytes() > 0) {
    std::fprintf(stderr, "[attnsweep] %s: dropped a torn last record (%llu bytes)\n", p.journal_path.c_str(),
                 static_cast<unsigned long long>(p.journal->dropped_bytes()));
  }
  if (p.journal->damaged_bytes() > 0) {
    std::fprintf(stderr,
                 "[attnsweep] %s: skipped %llu damaged bytes in the middle (the records there are lost and "
                 "their cells or trials are computed again; every later record is kept)\n",
                 p.journal_path.c_str(), static_cast<unsigned long long>(p.journal->damaged_bytes()));
  }
  remove_stale_snapshots(p.output);
  if (journal_is_new) {
    // Results that came only from the HDF5 file (a merged or copied file) enter the journal:
    // one batch, one fdatasync.
    io::Journal::Batch batch;
    for (std::int64_t i = 0; i < p.state.size(); ++i) {
      if (p.state.status[static_cast<size_t>(i)] != 0) batch.add(p.state.record(i));
    }
    p.journal->commit(batch);
  }
  p.first = grid.size() * options.slice_index / options.slice_count;
  p.last = grid.size() * (options.slice_index + 1) / options.slice_count;
  for (std::int64_t i = p.first; i < p.last; ++i) {
    const auto status = static_cast<io::CellStatus>(p.state.status[static_cast<size_t>(i)]);
    if (status == io::CellStatus::missing || (status == io::CellStatus::failed && options.retry_failed)) {
      p.cells.push_back(i);
      if (status == io::CellStatus::failed) p.state.attempts[static_cast<size_t>(i)] = 0;  // a fresh budget
    }
  }
  if (p.journal->replayed_records() > 0) {
    std::fprintf(stderr, "[attnsweep] resumed from %s: %llu journal records replayed in %.2f s\n", p.output.c_str(),
                 static_cast<unsigned long long>(p.journal->replayed_records()), seconds_since(start));
  }
}

// ---------------------------------------------------------------- the campaign
class SweepCampaign final : public Campaign {
 public:
  explicit SweepCampaign(const RunOptions& options) : options_(options) {}

  io::SweepConfig prepare() override {
    check_inputs(p_, options_);
    return p_.config;
  }
  double master_bytes(const Grid& grid) const override {
    return master_memory_bytes(grid.size(), grid.config().trials);
  }
  void open(const Grid& grid) override {
    grid_ = &grid;
    open_state(p_, options_, grid);
  }
  void announce(const std::string& nodes, int ranks) const override {
    std::fprintf(stderr, "[attnsweep] %lld cells in the grid, %zu to run, %d ranks on %s; output %s\n",
                 static_cast<long long>(grid_->size()), p_.cells.size(), ranks, nodes.c_str(), p_.output.c_str());
    if (options_.slice_count > 1) {
      std::fprintf(stderr, "[attnsweep] slice %ld/%ld: cells [%lld, %lld)\n", options_.slice_index,
                   options_.slice_count, static_cast<long long>(p_.first), static_cast<long long>(p_.last));
    }
  }

  std::vector<Task> start(const CostModel& cost, int workers, double max_task_seconds) override {
    std::vector<Task> tasks = plan_tasks(*grid_, p_.cells, cost, workers, max_task_seconds);
    cells_total_ = static_cast<std::int64_t>(p_.cells.size());
    store_ = std::make_unique<RunStore>(*grid_, p_.output, std::move(p_.state), std::move(p_.partials),
                                        std::move(p_.journal), p_.cells, options_.snapshot_every);
    const std::uint64_t restored = store_->restore(tasks);
    if (restored > 0) {
      std::fprintf(stderr, "[attnsweep] %llu finished trials of unfinished cells restored from the journal\n",
                   static_cast<unsigned long long>(restored));
    }
    for (const Task& t : tasks) {
      work_total_ += t.estimated_seconds;
      trials_total_ += t.trial_count * t.cells.size();
    }
    return tasks;
  }

  // Results and their effects; one journal commit for all results received in a pass.
  void accept(std::vector<TaskResult>& results, Dispatcher& dispatcher) override {
    for (TaskResult& result : results) {
      ++tasks_done_;
      if (!result.abandoned) work_done_ += result.task.estimated_seconds;
      for (const FailedCell& failed : store_->accept(std::move(result))) {
        if (dispatcher.retry_failed_cell(failed.cell, failed.task, failed.seconds, failed.attempts)) continue;
        store_->give_up(failed);
        std::fprintf(stderr, "[attnsweep] cell %lld failed after %d attempts: %s\n",
                     static_cast<long long>(failed.cell), failed.attempts, failed.error.c_str());
      }
    }
    store_->commit();
  }
  bool finished(const Dispatcher& dispatcher) const override { return dispatcher.queued() == 0; }
  void checkpoint() override { store_->maybe_snapshot(); }
  void final_checkpoint() override { store_->final_snapshot(); }

  ProgressCounts progress() const override {
    ProgressCounts c;
    c.unit = "cells";
    c.done = store_->cells_finished();
    c.total = cells_total_;
    c.failed = store_->cells_failed();
    c.undefined = store_->cells_undefined();
    c.trials_done = store_->trials_done();
    c.trials_total = trials_total_;
    c.work_done = work_done_;
    c.work_total = work_total_;
    return c;
  }

  void summarise(double wall, double busy) const override {
    const double percent = wall > 0 ? 100 / wall : 0.0;  // of the wall time, per second
    std::fprintf(stderr,
                 "[attnsweep] master busy (CPU) %.2f%% of %.1f s wall time; %llu trials in %s; %llu tasks (%.0f/s); "
                 "%d snapshots took %.2f s (%.2f%% of wall); journal %.1f MB in %llu commits; rank 0 peak RSS "
                 "%.0f MB\n",
                 percent * busy, wall, static_cast<unsigned long long>(store_->trials_done()), p_.output.c_str(),
                 static_cast<unsigned long long>(tasks_done_), wall > 0 ? static_cast<double>(tasks_done_) / wall : 0.0,
                 store_->snapshots(), store_->snapshot_seconds(), percent * store_->snapshot_seconds(),
                 static_cast<double>(store_->journal_bytes()) / 1e6,
                 static_cast<unsigned long long>(store_->journal_commits()), peak_rss_megabytes());
    std::fflush(stderr);
  }

  int exit_code(const Dispatcher& dispatcher) const override;

 private:
  const RunOptions& options_;
  Prepared p_;
  const Grid* grid_ = nullptr;
  std::unique_ptr<RunStore> store_;
  std::int64_t cells_total_ = 0;
  std::uint64_t trials_total_ = 0, tasks_done_ = 0;
  double work_total_ = 0, work_done_ = 0;
};

int SweepCampaign::exit_code(const Dispatcher& dispatcher) const {
  const io::SweepState& state = store_->state();
  std::int64_t missing = 0, failed = 0, undefined = 0;
  for (std::int64_t i = p_.first; i < p_.last; ++i) {
    const auto status = static_cast<io::CellStatus>(state.status[static_cast<size_t>(i)]);
    missing += status == io::CellStatus::missing;
    failed += status == io::CellStatus::failed;
    undefined += status == io::CellStatus::undefined;
  }
  if (undefined > 0) {
    // Not a failure: the model leaves an observable undefined in every trial of these cells.
    std::fprintf(stderr,
                 "[attnsweep] %lld cells undefined: an observable is undefined in all their trials (no pair of "
                 "distinct input directions, a zero-length output token, or a position bucket beyond n); see "
                 "`attnsweep query %s --status "
                 "undefined`\n",
                 static_cast<long long>(undefined), p_.output.c_str());
  }
  if (dispatcher.stopping() && missing > 0) {
    std::fprintf(stderr, "[attnsweep] stopped early (%s): %lld cells left; rerun the same command to resume\n",
                 stop_reason_name(dispatcher.stop_reason()), static_cast<long long>(missing));
    return kExitStopped;
  }
  if (failed > 0) {
    std::string list;
    int shown = 0;
    for (std::int64_t i = p_.first; i < p_.last && shown < 10; ++i) {
      if (state.status[static_cast<size_t>(i)] == static_cast<std::uint8_t>(io::CellStatus::failed)) {
        list += (shown++ ? ", " : "") + std::to_string(i);
      }
    }
    std::fprintf(stderr,
                 "[attnsweep] %lld cells failed (cells %s%s); see `attnsweep query %s --status failed`, "
                 "rerun them with --retry-failed\n",
                 static_cast<long long>(failed), list.c_str(), failed > 10 ? ", ..." : "", p_.output.c_str());
    return kExitFailedCells;
  }
  return missing > 0 ? kExitStopped : kExitOk;
}
}  // namespace

int run_sweep(const RunOptions& options, const CampaignLimits& limits, const parallel::Environment& mpi) {
  SweepCampaign campaign(options);
  return run_campaign(campaign, limits, mpi);
}

}  // namespace attnsweep::sweep
