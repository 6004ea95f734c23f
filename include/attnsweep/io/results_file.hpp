// The sweep's state (one record per cell) and its HDF5 file (layout in docs/file-format.md).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/mc/samples.hpp"

namespace attnsweep::io {

// The layout written (4: axes and arrays at the root, netCDF-4 readable, one dimension per axis of
// the study, swept model parameters included, every observable of mc::kObservables); 3 (without
// eta_probe_stderr), 2 (0.2's, the four fixed axes) and 1 (0.1's) are still read, an observable a
// file does not store as unknown (NaN).
inline constexpr std::int64_t kSchemaVersion = 4;

// An attnsweep output whose contents fail a check: a checksum (Fletcher-32 on the arrays,
// CRC-32 on the texts), or axes that disagree with the stored config. `verify` reports it
// (exit 1); the other commands refuse the file (exit 2).
struct CorruptFile : InputError {
  using InputError::InputError;
};

// An attnsweep output this command does not read (a critical search's file given to a sweep
// command, a schema from a newer attnsweep): a usage error for every command, `verify`
// included (exit 2), since nothing says the file is damaged.
struct WrongKindOfFile : InputError {
  using InputError::InputError;
};

// undefined: the cell ran without a fault, but an observable is undefined in every one of its
// trials (no pair of distinct input directions, a zero-length output token, a position bucket its n
// does not reach; mc/trial.cpp). Not a
// failure: not retried, and a run with such cells exits 0.
enum class CellStatus : std::uint8_t { missing = 0, done = 1, failed = 2, undefined = 3 };
inline constexpr std::uint8_t kLastStatus = 3;
const char* status_name(CellStatus status);
CellStatus parse_status(const std::string& text);  // throws InputError

// One observable's summary of a cell (mc::kObservables' order in CellRecord::observables).
struct ObservableRecord {
  double mean = 0, std_error = 0;
  // Quantiles over the trials at mc::kQuantileLevels; NaN when not known (computed from the
  // per-trial values when the record has them).
  mc::Quantiles quantiles = no_quantiles();
  // Trials on which the observable is defined; -1: not known (derived from the per-trial values,
  // or, for a record without them, all its trials: engines before 0.3 failed undefined trials).
  std::int32_t defined = -1;
  // A done cell's values trial by trial (element t is trial t); empty when not known (a record
  // of attnsweep 0.1, or a cell not done).
  std::vector<double> trial;
  static mc::Quantiles no_quantiles();
};

struct CellRecord {
  std::int64_t cell = 0;
  CellStatus status = CellStatus::missing;
  std::int32_t trials = 0;
  double seconds = 0;
  std::int32_t attempts = 0;
  std::string error;
  std::array<ObservableRecord, mc::kObservableCount> observables{};
  // Whether every observable's per-trial values are there, one per trial.
  bool has_trial_values() const;
};

// Per-trial values are kept (in memory and in the file) for grids of at most this many
// cells x trials: 2^25 values, 256 MiB per observable. Larger sweeps keep the summaries only.
inline constexpr std::int64_t kMaxTrialValues = std::int64_t{1} << 25;
// ... and cells of at most this many trials (a cell's values travel in one journal record).
inline constexpr std::int32_t kMaxTrialSlots = 32768;

// Every cell of a sweep, as arrays in flat-index order.
struct SweepState {
  explicit SweepState(std::int64_t cells = 0);
  // Keeps `per_cell` per-trial values of each cell from now on (NaN until known), if
  // cells x per_cell <= kMaxTrialValues; returns whether it does.
  bool keep_trials(std::int32_t per_cell);
  std::int32_t trial_slots() const { return trial_slots_; }
  // Per-trial values read from a file (each observable's cell-major, per_cell of them per cell).
  void set_trial_values(std::int32_t per_cell, std::array<std::vector<double>, mc::kObservableCount> values);
  void apply(const CellRecord& record);  // overwrites the record's cell
  CellRecord record(std::int64_t cell) const;
  std::int64_t count(CellStatus status) const;
  std::int64_t size() const { return static_cast<std::int64_t>(status.size()); }

  // One observable's arrays over the cells.
  struct Observable {
    std::vector<double> mean, std_error;
    std::vector<std::int32_t> defined;  // trials with the observable defined
    // cells x 5 quantiles (mc::kQuantileLevels), cell-major; NaN where not known.
    std::vector<double> quantile;
    // cells x trial_slots() values, cell-major (trial t of cell c at c * trial_slots() + t); empty
    // when per-trial values are not kept.
    std::vector<double> trial;
  };

  std::vector<std::uint8_t> status;
  std::vector<std::int32_t> trials, attempts;
  std::vector<double> seconds;
  std::array<Observable, mc::kObservableCount> observables;
  // Error texts of the cells that have one (failed cells): sparse, since a grid of 10^6 cells
  // should not hold 10^6 empty strings.
  std::map<std::int64_t, std::string> error;
  const std::string& error_of(std::int64_t cell) const;

 private:
  std::int32_t trial_slots_ = 0;
};

// A box of the grid: `count` cells from `start` along each axis (io/study_axes.hpp order).
struct CellBox {
  std::vector<std::int64_t> start, count;
  std::int64_t size() const;
  // The flat grid index of the k-th cell of the box (C order within the box).
  std::int64_t flat_index(std::int64_t k, const std::vector<std::int64_t>& shape) const;
};

struct ResultsFile {
  SweepConfig config;
  std::string config_text;  // /meta/config as stored
  std::uint64_t config_hash = 0;
  SweepState state;
  std::string created_utc, engine_version, build;
  std::int64_t schema_version = 0;  // of the file read
  std::int64_t kernel_version = 0;  // model::kKernelVersion of the binary that wrote it; 0: not recorded (before 0.3)
};

// Writes the whole file to a temporary beside `path`, flushes it to disk and renames it over
// `path`: a reader sees the old complete file or the new complete file, never a partial one.
// A failure (disk full, ...) removes the temporary and throws IoError naming the file, the cause
// and the free space; `path` is left as it was.
void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state);

struct Layout;  // where each dataset lives in a given schema version (results_layout.hpp)
namespace h5 {
class Handle;  // io's HDF5 layer (src/io/hdf5.hpp) stays behind the io interface
}

// An open results file: its config and metadata are read and checked on open; cells are read
// on demand, by box (HDF5 hyperslabs), so a one-cell query costs one chunk per dataset
// whatever the grid's size. Throws InputError naming the problem (not HDF5, not an attnsweep
// file, wrong schema version, shapes that disagree, a corrupted dataset).
class ResultsReader {
 public:
  explicit ResultsReader(const std::string& path);
  ~ResultsReader();
  ResultsReader(ResultsReader&&) noexcept;
  // Config, hash and metadata; `state` is empty.
  const ResultsFile& header() const { return header_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  const std::vector<Axis>& axes() const { return axes_; }
  CellBox whole() const;
  // Which per-cell arrays a read fetches (the others stay empty).
  // kValues reads the quantiles too (from the file, or computed from the per-trial values of a
  // file of schema 2, which then must be read with kTrials as well to have them).
  enum Fields : unsigned { kStatus = 1, kValues = 2, kCounts = 4, kSeconds = 8, kErrors = 16, kTrials = 32, kAll = 63 };
  // Trials per cell stored in the file (its trial dimension); 0 when it has no per-trial values.
  std::int32_t trial_slots() const { return trial_slots_; }
  // The cells of the box as a SweepState indexed 0..box.size()-1 in the box's C order.
  SweepState read(const CellBox& box, unsigned fields = kAll) const;
  // The whole grid, a slab of rho rows at a time (about 2^18 cells), in flat-index order:
  // visit(first flat index of the slab, its cells). Memory stays bounded on any grid.
  void for_each_slab(unsigned fields, const std::function<void(std::int64_t, const SweepState&)>& visit) const;

 private:
  void read_header();  // config, shapes, axes, provenance; CorruptFile on damage
  void require_shape(const char* dataset, const std::vector<std::int64_t>& shape) const;
  bool axis_matches(const Axis& axis, const std::string& path) const;
  void derive_quantiles(SweepState& s, std::int64_t cells) const;

  std::string path_;
  std::unique_ptr<h5::Handle> file_;
  ResultsFile header_;
  const Layout* layout_ = nullptr;
  std::int32_t trial_slots_ = 0;
  bool has_quantiles_ = false;       // schema 3 stores them; older files' are derived
  bool has_defined_counts_ = false;  // likewise the counts of defined trials
  std::vector<Axis> axes_;
  std::vector<std::int64_t> shape_;
};

// The whole file, cells included (resume and merge need every cell).
ResultsFile read_results_file(const std::string& path);

// Structural and checksum checks beyond what reading needs: scales attached, status and
// values consistent, every dataset readable (Fletcher-32). Reads the cells slab by slab
// (bounded memory on any grid). Returns the problems found (empty when the file is sound):
// anything wrong with a regular file is a problem found; InputError only for a path that is
// not a regular file and WrongKindOfFile for a critical search's file or a newer schema.
std::vector<std::string> verify_results_file(const std::string& path);

}  // namespace attnsweep::io
