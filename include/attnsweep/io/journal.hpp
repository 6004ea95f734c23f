// Append-only, checksummed journal of finished cells and finished trials: the sweep's source
// of truth.
//
// Layout: a 16-byte header ("ATSWJRN1" + the config hash stamped with the kernel version, Journal::stamp,
// little-endian), then records
// [u32 payload length][u32 CRC-32 of payload][payload]. A payload starts with the cell index
// (i64) and a kind byte: 6 a whole cell (CellRecord: status, the number of observables it holds,
// their summaries, and a done cell's per-trial values), 7 some trials of a cell not finished yet
// (TrialsRecord, with the number of observables), 5 some trials of a critical search at one gamma
// (EvaluationRecord). Kinds written before the observable count are still read, with lambda and
// eta only: 0..2 and 4 a whole cell whose kind is its status (0.1's records lack the per-trial
// values), 3 some trials (0.2's critical journals held evaluations as kind 3 with the gamma in the
// eta field, which the critical search still reads). Payloads are written with the project's one
// byte codec (io/bytes.hpp).
//
// Records are appended in batches: everything one task produced (all its cells and trials)
// is one write and one fdatasync, never one per cell, and is durable when commit() returns.
// On open the records are streamed to a visitor (the file is never held in memory); a torn
// or corrupt tail (a kill mid-write) is cut off; a damaged record in the middle is skipped and
// reported, and every good record after it is kept.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnsweep/io/checksum.hpp"
#include "attnsweep/io/results_file.hpp"

namespace attnsweep::io {

// Finished trials of a cell whose other trials are still to run (a cell split across tasks,
// or a task stopped part-way). Trial values are deterministic, so a resumed run adds the
// missing trials and gets bitwise the cell of an uninterrupted run.
struct TrialsRecord {
  std::int64_t cell = 0;
  double seconds = 0;  // compute time spent on these trials
  std::vector<std::uint64_t> trial;
  // values[k][i]: observable k (mc::kObservables' order) at trial[i]; written per trial, in that order.
  std::array<std::vector<double>, mc::kObservableCount> values;
};

// Finished trials of one evaluation of a critical search: lambda at one gamma, per trial.
struct EvaluationRecord {
  std::int64_t search = 0;  // index of the search (one per (rho, d, n), C order)
  double gamma = 0;
  double seconds = 0;  // compute time spent on these trials
  std::vector<std::uint64_t> trial;
  std::vector<double> lambda;
};

// What replay hands out, record by record, in file order; a kind without a handler is skipped.
struct JournalVisitor {
  std::function<void(const CellRecord&)> on_cell;
  std::function<void(const TrialsRecord&)> on_trials;
  std::function<void(const EvaluationRecord&)> on_evaluation;
};

class Journal {
 public:
  // Records waiting to be committed together.
  class Batch {
   public:
    void add(const CellRecord& record);
    void add(const TrialsRecord& record);      // any number of trials (split into chunks)
    void add(const EvaluationRecord& record);  // any number of trials (split into chunks)
    bool empty() const { return records_ == 0; }
    // Moves every record of `other` to the end of this batch (group commit).
    void absorb(Batch& other);
    size_t records() const { return records_; }
    size_t bytes() const { return frames_.size(); }

   private:
    friend class Journal;
    void add_payload(const std::string& payload);
    std::string frames_;
    size_t records_ = 0;
  };

  // Opens (creating if absent) the journal at `path` for a sweep with this config hash and
  // streams its records to `visitor`. Throws InputError if the file belongs to another config
  // or is not a journal.
  Journal(const std::string& path, std::uint64_t config_hash, const JournalVisitor& visitor = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // A torn tail cut off on open (a kill mid-write).
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }
  // Damaged bytes skipped in the middle (their records' work is redone; later records are kept).
  std::uint64_t damaged_bytes() const { return damaged_bytes_; }
  std::uint64_t replayed_records() const { return replayed_records_; }
  // One write and one fdatasync for the whole batch; durable when it returns; empties the batch.
  void commit(Batch& batch);
  // A batch of one record (tests, and callers with a single record to make durable).
  void append(const CellRecord& record);
  void append(const TrialsRecord& record);
  const std::string& path() const { return path_; }
  std::uint64_t size_bytes() const { return size_; }

  // Streams a journal's records without opening it for writing; returns its stamp, or
  // kNoHash for a journal that holds nothing yet (empty, or a header cut short).
  static constexpr std::uint64_t kNoHash = 0;
  static std::uint64_t read(const std::string& path, const JournalVisitor& visitor);
  // The header's stamp only (kNoHash for an empty or torn header).
  static std::uint64_t read_hash(const std::string& path);
  // What a journal of `config_hash` written by this binary holds in its header: the config hash
  // stamped with model::kKernelVersion, so that a journal is resumed only by the arithmetic that
  // computed its records (version 1's stamp is the config hash itself: journals before the stamp).
  static std::uint64_t stamp(std::uint64_t config_hash);
  // InputError unless `stored` (a header's) is this config's stamp: another kernel version's
  // stamp of it is refused as such (io::require_this_kernel's message), anything else as below.
  static void require_stamp(const std::string& path, std::uint64_t stored, std::uint64_t config_hash,
                            const std::string& owner);
  // InputError unless the journal at `path` (if any) was started for `config_hash`. A stored
  // hash that differs in a single byte is reported as a damaged header, not as another config:
  // two configs' 64-bit hashes agree in 7 of 8 bytes with probability about 1e-16. `owner`
  // names what a journal belongs to in messages ("sweep", "critical search").
  static void require_owner(const std::string& path, std::uint64_t config_hash, const std::string& owner);
  // Whether a process on this machine holds the journal's lock (a running sweep), read from
  // /proc/locks: testing by taking the lock could refuse a sweep starting at that moment. A
  // sweep running on another node of a shared filesystem is not visible here.
  static bool locked_here(const std::string& path);

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t dropped_bytes_ = 0, damaged_bytes_ = 0, replayed_records_ = 0, size_ = 0;
};

}  // namespace attnsweep::io
