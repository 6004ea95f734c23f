// Append-only, checksummed journal of finished cells: the sweep's source of truth.
//
// Layout: an 16-byte header ("ATSWJRN1" + the config hash, little-endian), then records
// [u32 payload length][u32 CRC-32 of payload][payload]. Each append is fsync'ed before the
// cell counts as finished, so a kill at any moment loses at most the cells in flight. On
// open, records are replayed; a torn or corrupt tail (a kill mid-write) is cut off.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/io/results_file.hpp"

namespace attnsweep::io {

std::uint32_t crc32(const void* data, size_t size, std::uint32_t crc = 0);

class Journal {
 public:
  // Opens (creating if absent) the journal at `path` for a sweep with this config hash.
  // Throws InputError if the file belongs to another config or is not a journal.
  Journal(const std::string& path, std::uint64_t config_hash);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Records found on open, in order (later records for a cell supersede earlier ones).
  const std::vector<CellRecord>& replayed() const { return replayed_; }
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }
  void append(const CellRecord& record);  // durable when it returns
  const std::string& path() const { return path_; }

  // Reads a journal without opening it for writing (for merge and tests).
  static std::vector<CellRecord> read(const std::string& path, std::uint64_t* config_hash);

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<CellRecord> replayed_;
  std::uint64_t dropped_bytes_ = 0;
};

}  // namespace attnsweep::io
