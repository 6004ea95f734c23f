// `attnsweep status`: what a sweep's output holds and what the sweep is doing (running,
// stopped, finished, failed), from the snapshot, the journal and the journal's lock.
#include <sys/stat.h>

#include <ctime>
#include <map>
#include <vector>

#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/model/layer.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

namespace {
// The config and provenance lines of `status`.
void print_status_details(const io::ResultsFile& f, std::int64_t done, std::int64_t failed, double seconds) {
  const std::vector<io::Axis> axes = io::study_axes(f.config);
  std::string grid;
  for (const io::Axis& axis : axes) {
    grid += (grid.empty() ? "" : " x ") + std::to_string(axis.size()) + " " + axis.name + " {";
    for (std::int64_t i = 0; i < axis.size() && i < 8; ++i) grid += (i ? ", " : "") + axis.text(i);
    grid += axis.size() > 8 ? ", ...}" : "}";
    if (axis.name == "gamma" && f.config.gamma_scale == io::GammaScale::critical) grid += " (x 1/(1-rho))";
  }
  std::printf("  grid: %s\n", grid.c_str());
  std::string fixed;
  if (!io::is_swept(f.config, "alpha")) fixed += ", alpha " + io::format_real(f.config.alpha);
  if (!io::is_swept(f.config, "scaling")) fixed += std::string(", scaling ") + model::scaling_name(f.config.scaling);
  if (!io::is_swept(f.config, "layers")) fixed += ", layers " + std::to_string(f.config.layers);
  if (!io::is_swept(f.config, "mask")) fixed += std::string(", mask ") + model::mask_name(f.config.mask);
  if (!io::is_swept(f.config, "position") && f.config.position != model::kWholeSequence)
    fixed += ", position " + model::position_name(f.config.position);
  if (f.config.train_length > 0) fixed += ", train-length " + std::to_string(f.config.train_length);
  std::printf("  mc: %ld trials, %s Jacobian, %s geometry%s, seed %llu\n", f.config.trials,
              mc::jacobian_name(f.config.jacobian), mc::geometry_name(f.config.geometry), fixed.c_str(),
              static_cast<unsigned long long>(f.config.seed));
  std::printf("  compute: %.1f core-seconds in finished cells (%.3f s per cell)\n", seconds,
              done + failed > 0 ? seconds / static_cast<double>(done + failed) : 0.0);
  std::printf("  written %s by %s\n", f.created_utc.c_str(), f.build.c_str());
}
}  // namespace

namespace {
// What the output's journal holds beyond its snapshot: cells finished (done or failed) and
// trials of cells not finished yet.
struct JournalProgress {
  bool present = false;
  std::int64_t cells_finished = 0;
  std::uint64_t trials_in_unfinished = 0;
};

JournalProgress journal_progress(const std::string& journal, std::int64_t cells) {
  JournalProgress progress;
  struct stat st {};
  if (::stat(journal.c_str(), &st) != 0) return progress;
  progress.present = true;
  std::vector<bool> finished(static_cast<size_t>(cells), false);
  std::map<std::int64_t, std::uint64_t> trials;
  io::JournalVisitor visitor;
  visitor.on_cell = [&](const io::CellRecord& r) {
    if (r.cell < 0 || r.cell >= cells || r.status == io::CellStatus::missing) return;
    progress.cells_finished += !finished[static_cast<size_t>(r.cell)];
    finished[static_cast<size_t>(r.cell)] = true;
  };
  visitor.on_trials = [&](const io::TrialsRecord& r) { trials[r.cell] += r.trial.size(); };
  io::Journal::read(journal, visitor);
  for (const auto& [cell, count] : trials)
    if (cell >= 0 && cell < cells && !finished[static_cast<size_t>(cell)]) progress.trials_in_unfinished += count;
  return progress;
}

// running (a sweep holds the journal's lock here), finished (every cell done or undefined: the
// model's answer, not a fault), failed (none missing, some failed), stopped (cells missing,
// nothing running here).
const char* run_state(bool running, std::int64_t finished, std::int64_t failed, std::int64_t cells) {
  if (running) return "running";
  if (finished == cells) return "finished";
  if (finished + failed == cells) return "failed";
  return "stopped";
}
}  // namespace

int status_command(const std::vector<std::string>& args) {
  std::string file, format = "table";
  po::options_description desc("attnsweep status options");
  desc.add_options()("file", po::value(&file)->required(), "HDF5 output")(
      "format", po::value(&format)->default_value("table"), "table | json");
  po::positional_options_description positional;
  positional.add("file", 1);
  parse(args, desc, &positional);
  if (format != "table" && format != "json") throw InputError("format must be table or json, not '" + format + "'");
  const io::ResultsReader reader(file);
  const io::ResultsFile& f = reader.header();
  // Status and seconds only, slab by slab: bounded memory on any grid.
  double seconds = 0;
  std::int64_t counts[io::kLastStatus + 1] = {};
  reader.for_each_slab(io::ResultsReader::kStatus | io::ResultsReader::kSeconds,
                       [&](std::int64_t, const io::SweepState& s) {
                         for (auto v : s.status) ++counts[v];
                         for (double v : s.seconds) seconds += v;
                       });
  const std::int64_t missing = counts[0], done = counts[1], failed = counts[2], undefined = counts[3],
                     cells = missing + done + failed + undefined;
  const std::string journal = io::journal_path_of(io::resolve_output_path(file));
  const bool running = io::Journal::locked_here(journal);
  JournalProgress progress;
  try {
    progress = journal_progress(journal, cells);
  } catch (const std::exception&) {
    progress.present = false;  // a damaged or foreign journal: the snapshot's counts stand alone
  }
  struct stat st {};
  const double age = ::stat(file.c_str(), &st) == 0 ? std::difftime(std::time(nullptr), st.st_mtime) : 0.0;
  const char* state = run_state(running, done + undefined, failed, cells);
  if (format == "json") {
    std::printf(
        "{\"file\": %s, \"state\": \"%s\", \"cells\": %lld, \"done\": %lld, \"failed\": %lld, \"missing\": %lld, "
        "\"undefined\": %lld, "
        "\"snapshot_age_seconds\": %.0f, \"journal\": %s, \"trials_per_cell\": %ld, \"core_seconds\": %s}\n",
        json_string(file).c_str(), state, static_cast<long long>(cells), static_cast<long long>(done),
        static_cast<long long>(failed), static_cast<long long>(missing), static_cast<long long>(undefined), age,
        progress.present ? ("{\"cells_finished\": " + std::to_string(progress.cells_finished) +
                            ", \"trials_in_unfinished_cells\": " + std::to_string(progress.trials_in_unfinished) + "}")
                               .c_str()
                         : "null",
        f.config.trials, json_number(seconds).c_str());
    return 0;
  }
  std::printf("%s: %lld cells: %lld done, %lld failed, %lld missing", file.c_str(), static_cast<long long>(cells),
              static_cast<long long>(done), static_cast<long long>(failed), static_cast<long long>(missing));
  if (undefined > 0)
    std::printf(", %lld undefined (an observable undefined in every trial)", static_cast<long long>(undefined));
  std::printf("\n");
  std::printf("  state: %s%s; snapshot written %.0f s ago", state,
              running ? " (a sweep holds its journal on this machine)" : "", age);
  if (progress.present) {
    std::printf("; journal: %lld cells finished, %llu trials of unfinished cells",
                static_cast<long long>(progress.cells_finished),
                static_cast<unsigned long long>(progress.trials_in_unfinished));
  }
  std::printf("\n");
  print_status_details(f, done + undefined, failed, seconds);
  return 0;
}

}  // namespace attnsweep::app
