// The sweep's state (one record per cell) and its HDF5 file (layout in README, "HDF5 layout").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"

namespace attnsweep::io {

inline constexpr std::int64_t kSchemaVersion = 1;

enum class CellStatus : std::uint8_t { missing = 0, done = 1, failed = 2 };
const char* status_name(CellStatus status);
CellStatus parse_status(const std::string& text);  // throws InputError

struct CellRecord {
  std::int64_t cell = 0;
  CellStatus status = CellStatus::missing;
  std::int32_t trials = 0;
  double lambda_mean = 0, lambda_stderr = 0, eta_mean = 0, eta_stderr = 0;
  double seconds = 0;
  std::int32_t attempts = 0;
  std::string error;
};

// Every cell of a sweep, as arrays in flat-index order.
struct SweepState {
  explicit SweepState(std::int64_t cells = 0);
  void apply(const CellRecord& record);  // overwrites the record's cell
  CellRecord record(std::int64_t cell) const;
  std::int64_t count(CellStatus status) const;
  std::int64_t size() const { return static_cast<std::int64_t>(status.size()); }

  std::vector<std::uint8_t> status;
  std::vector<std::int32_t> trials, attempts;
  std::vector<double> lambda_mean, lambda_stderr, eta_mean, eta_stderr, seconds;
  std::vector<std::string> error;
};

struct ResultsFile {
  SweepConfig config;
  std::string config_text;  // /meta/config as stored
  std::uint64_t config_hash = 0;
  SweepState state;
  std::string created_utc, engine_version, build;
};

// Writes the whole file to a temporary beside `path`, flushes it to disk and renames it over
// `path`: a reader sees the old complete file or the new complete file, never a partial one.
void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state);

// Reads and checks a results file; throws InputError naming the problem (not HDF5, not an
// attnsweep file, wrong schema version, shapes that disagree, a corrupted dataset).
ResultsFile read_results_file(const std::string& path);

// Structural and checksum checks beyond what reading needs: scales attached, status and
// values consistent. Returns the problems found (empty when the file is sound).
std::vector<std::string> verify_results_file(const std::string& path);

std::string build_description();
std::string engine_version();

}  // namespace attnsweep::io
