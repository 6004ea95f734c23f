#include "attnsweep/sweep/growth.hpp"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/sweep/run_store.hpp"

namespace attnsweep::sweep {

namespace {

// The file's values of the grown grid's axis `axis` (a parameter the file fixes: its one value).
io::Axis file_values(const Grid& from, const io::Axis& axis) {
  for (const io::Axis& mine : from.axes())
    if (mine.name == axis.name) return mine;
  return io::parameter_values(from.config(), axis.name);
}

// Per value of `from`, its index in `to`; -1 for a value `to` lacks.
std::vector<std::int64_t> index_map(const io::Axis& from, const io::Axis& to) {
  std::vector<std::int64_t> map;
  for (std::int64_t i = 0; i < from.size(); ++i) map.push_back(to.find(from.text(i)));
  return map;
}

// "grid.n: the config lacks the file's 128, 256" when an axis would lose values.
void note_lost_values(const io::Axis& from, const std::vector<std::int64_t>& map, std::vector<std::string>& problems) {
  std::string lost;
  int shown = 0, count = 0;
  for (size_t i = 0; i < map.size(); ++i) {
    if (map[i] >= 0) continue;
    ++count;
    if (shown < 5) lost += (shown++ ? ", " : "") + from.text(static_cast<std::int64_t>(i));
  }
  if (count == 0) return;
  if (count > shown) lost += ", ... (" + std::to_string(count) + " values)";
  problems.push_back("grid." + from.name + ": the config lacks the file's " + lost);
}

}  // namespace

Growth::Growth(io::SweepConfig from, const io::SweepConfig& to) : from_grid_(std::move(from)), to_grid_(to) {
  for (const io::Axis& axis : to_grid_.axes()) {
    axis_maps_.push_back(index_map(file_values(from_grid_, axis), axis));
    int source = -1;
    for (size_t a = 0; a < from_grid_.axes().size(); ++a)
      if (from_grid_.axes()[a].name == axis.name) source = static_cast<int>(a);
    from_axis_.push_back(source);
  }
}

std::int64_t Growth::map(std::int64_t old_cell) const {
  const std::vector<std::int64_t> old_at = from_grid_.coordinates(old_cell);
  std::vector<std::int64_t> at(axis_maps_.size());
  for (size_t a = 0; a < at.size(); ++a) {
    const std::int64_t index = from_axis_[a] < 0 ? 0 : old_at[static_cast<size_t>(from_axis_[a])];
    at[a] = axis_maps_[a][static_cast<size_t>(index)];
  }
  return to_grid_.flat(at);
}

std::optional<Growth> plan_growth(const io::SweepConfig& from, const io::SweepConfig& to, const std::string& output) {
  if (from.canonical_text() == to.canonical_text()) return std::nullopt;
  // Everything but the axes' values and the trial count must agree: `same` is the config with
  // the file's axes, so any difference left in it is a difference of another key.
  io::SweepConfig same = to;
  same.rho = from.rho;
  same.gamma = from.gamma;
  same.d = from.d;
  same.n = from.n;
  same.trials = from.trials;
  for (const std::string& name : io::sweepable_parameters())
    if (io::is_swept(to, name)) io::copy_parameter(name, from, same);
  std::vector<std::string> problems;
  if (same.canonical_text() != from.canonical_text())
    problems.push_back(io::config_differences(from.canonical_text(), same.canonical_text()));
  const Grid from_grid(from), to_grid(to);
  for (const io::Axis& axis : to_grid.axes()) {
    const io::Axis values = file_values(from_grid, axis);
    note_lost_values(values, index_map(values, axis), problems);
  }
  if (to.trials < from.trials) {
    problems.push_back("mc.trials: file " + std::to_string(from.trials) + ", config " + std::to_string(to.trials));
  }
  if (problems.empty()) return Growth(from, to);
  std::string text;
  for (size_t i = 0; i < problems.size(); ++i) text += (i ? "; " : "") + problems[i];
  throw io::InputError(output + " holds a sweep with another config (" + text +
                       "); a study grows only by more values on an axis or more trials: use another --output "
                       "or the original config");
}

namespace {

// The file's state: its snapshot with its journal replayed over it. `journal` is opened (and
// locked) for the file's config and kept open by the caller until the new journal is in place.
struct FileState {
  io::SweepState state;
  PartialCells partials;
  std::unique_ptr<io::Journal> journal;
};

FileState read_file_state(const Growth& growth, const std::string& output, const std::string& journal_path) {
  FileState file;
  file.state = io::read_results_file(output).state;
  file.journal =
      std::make_unique<io::Journal>(journal_path, growth.from().hash(), replay_into(file.state, file.partials));
  return file;
}

// A finished cell's trials 0 .. trials-1 as a trials record of the grown cell; false if the file
// does not know them (undefined trials are known, as NaN).
bool known_trials(const io::SweepState& state, std::int64_t cell, io::TrialsRecord& record) {
  const io::CellRecord finished = state.record(cell);
  if (!finished.has_trial_values() || finished.trials == 0) return false;
  for (size_t t = 0; t < static_cast<size_t>(finished.trials); ++t)
    record.trial.push_back(static_cast<std::uint64_t>(t));
  for (size_t k = 0; k < mc::kObservableCount; ++k) record.values[k] = finished.observables[k].trial;
  record.seconds = finished.seconds;
  return true;
}

struct Carried {
  std::int64_t cells = 0, extended = 0, trials = 0;
};

// The records of the grown journal: finished and failed cells as they are, the known trials of
// cells that take more trials, and the trials of cells in progress.
Carried carry_over(const Growth& growth, const FileState& file, io::Journal::Batch& batch) {
  Carried carried;
  const io::SweepState& state = file.state;
  for (std::int64_t cell = 0; cell < state.size(); ++cell) {
    const auto status = static_cast<io::CellStatus>(state.status[static_cast<size_t>(cell)]);
    if (status == io::CellStatus::missing) continue;
    ++carried.cells;
    const bool ran = status == io::CellStatus::done || status == io::CellStatus::undefined;
    if (ran && growth.more_trials()) {
      io::TrialsRecord record;
      if (!known_trials(state, cell, record)) {
        throw io::InputError(
            "the file keeps no per-trial values for cell " + std::to_string(cell) +
            " (a grid above the per-trial cap, or a file of attnsweep 0.1), so its cells cannot take more trials; "
            "rerun with mc.trials = " +
            std::to_string(growth.from().trials) + " or use another --output");
      }
      record.cell = growth.map(cell);
      ++carried.extended;
      carried.trials += static_cast<std::int64_t>(record.trial.size());
      batch.add(record);
      continue;
    }
    io::CellRecord record = state.record(cell);
    record.cell = growth.map(cell);
    batch.add(record);
  }
  for (const auto& [cell, partial] : file.partials) {
    io::TrialsRecord record;
    record.cell = growth.map(cell);
    record.seconds = partial.seconds;
    for (const auto& [trial, value] : partial.samples.by_trial()) {
      record.trial.push_back(trial);
      for (size_t k = 0; k < mc::kObservableCount; ++k) record.values[k].push_back(value[k]);
    }
    carried.trials += static_cast<std::int64_t>(record.trial.size());
    batch.add(record);
  }
  return carried;
}

}  // namespace

std::string grow_journal(const Growth& growth, const std::string& output, const std::string& journal_path,
                         const Grid& grid) {
  FileState file = read_file_state(growth, output, journal_path);
  io::Journal::Batch batch;
  const Carried carried = carry_over(growth, file, batch);
  // Written beside the output under the snapshot's temporary name (checked to fit the file
  // system; one left by a kill is removed as a stale snapshot), then renamed over the journal
  // while the old one is still locked by `file.journal`.
  const std::string temporary = io::temporary_path_of(output);
  ::unlink(temporary.c_str());
  try {
    io::Journal grown(temporary, grid.config().hash());
    grown.commit(batch);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  io::rename_durably(temporary, journal_path);
  char text[256];
  std::snprintf(text, sizeof text,
                "grew %s from %lld to %lld cells (trials %ld -> %ld): %lld cells and %lld trials carried over, "
                "%lld cells extended",
                output.c_str(), static_cast<long long>(file.state.size()), static_cast<long long>(grid.size()),
                growth.from().trials, grid.config().trials, static_cast<long long>(carried.cells),
                static_cast<long long>(carried.trials), static_cast<long long>(carried.extended));
  return text;
}

}  // namespace attnsweep::sweep
