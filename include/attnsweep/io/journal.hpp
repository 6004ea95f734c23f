// Append-only, checksummed journal of finished cells and finished trials: the sweep's source
// of truth.
//
// Layout: an 16-byte header ("ATSWJRN1" + the config hash, little-endian), then records
// [u32 payload length][u32 CRC-32 of payload][payload]. A payload starts with the cell index
// (i64) and a kind byte: 0..2 a whole cell (CellRecord, status missing/done/failed), 3 some
// trials of a cell not finished yet (TrialsRecord). Each append is fsync'ed before it counts,
// so a kill at any moment loses at most the trials in flight. On open, records are replayed;
// a torn or corrupt tail (a kill mid-write) is cut off.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/io/results_file.hpp"

namespace attnsweep::io {

std::uint32_t crc32(const void* data, size_t size, std::uint32_t crc = 0);

// Finished trials of a cell whose other trials are still to run (a cell split across tasks,
// or a task stopped part-way). Trial values are deterministic, so a resumed run adds the
// missing trials and gets bitwise the cell of an uninterrupted run.
struct TrialsRecord {
  std::int64_t cell = 0;
  double seconds = 0;  // compute time spent on these trials
  std::vector<std::uint64_t> trial;
  std::vector<double> lambda, eta;
};

class Journal {
 public:
  // Opens (creating if absent) the journal at `path` for a sweep with this config hash.
  // Throws InputError if the file belongs to another config or is not a journal.
  Journal(const std::string& path, std::uint64_t config_hash);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Whole-cell records found on open, in order (later records for a cell supersede earlier ones).
  const std::vector<CellRecord>& replayed() const { return replayed_; }
  // Trial records found on open, in order; they matter only for cells not finished.
  const std::vector<TrialsRecord>& replayed_trials() const { return replayed_trials_; }
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }
  void append(const CellRecord& record);    // durable when it returns
  void append(const TrialsRecord& record);  // durable when it returns; any number of trials
  const std::string& path() const { return path_; }

  // Reads a journal's whole-cell records without opening it for writing (for merge and tests).
  static std::vector<CellRecord> read(const std::string& path, std::uint64_t* config_hash);

 private:
  void append_payload(const std::string& payload);

  std::string path_;
  int fd_ = -1;
  std::vector<CellRecord> replayed_;
  std::vector<TrialsRecord> replayed_trials_;
  std::uint64_t dropped_bytes_ = 0;
};

}  // namespace attnsweep::io
