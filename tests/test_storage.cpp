// The journal and the sweep's HDF5 file, without MPI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "attnsweep/io/bytes.hpp"
#include "attnsweep/io/checksum.hpp"
#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/messages.hpp"
#include "attnsweep/sweep/run_store.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "attnsweep/sweep/task_runner.hpp"
#include "attnsweep/sweep/workers.hpp"
#include "engine_helpers.hpp"
#include "hdf5.hpp"  // io's internal HDF5 layer (src/io)

namespace io = attnsweep::io;
namespace sw = attnsweep::sweep;
using namespace engine_test;

TEST(ResultsFile, RoundTripLayoutAndScales) {
  const io::SweepConfig config = io::parse_config(kGood, {"rho=0.1, 0.5", "gamma=1, 2, 3", "d=4, 8"}, "t");
  io::SweepState state(2 * 3 * 2);
  io::CellRecord done = cell_record(5, io::CellStatus::done, 8, 0.25, 0.01, 0.5, 0.02, 1.5, 1, "");
  io::CellRecord failed = cell_record(7, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 0.1, 2, "injected failure");
  state.apply(done);
  state.apply(failed);
  const std::string path = temp_path("roundtrip.h5");
  io::write_results_file(path, config, state);
  const io::ResultsFile f = io::read_results_file(path);
  EXPECT_EQ(f.config_hash, config.hash());
  EXPECT_EQ(f.state.record(5).observables[attnsweep::mc::kLambda].mean, 0.25);
  EXPECT_EQ(f.state.record(7).error, "injected failure");
  EXPECT_EQ(f.state.count(io::CellStatus::missing), 10);
  EXPECT_TRUE(std::isnan(f.state.observables[attnsweep::mc::kLambda].mean[0]));
  EXPECT_TRUE(io::verify_results_file(path).empty());
  {
    namespace h5 = io::h5;
    h5::Handle file = h5::open_file_readonly(path);
    EXPECT_EQ(h5::get_int_attribute(file, "/", "schema_version"), io::kSchemaVersion);
    EXPECT_EQ(h5::dataset_shape(file, "/eta_mean"), (std::vector<std::int64_t>{2, 3, 2, 1}));
    EXPECT_TRUE(h5::scale_attached(file, "/lambda_mean", "/gamma", 1));
    EXPECT_FALSE(h5::scale_attached(file, "/lambda_mean", "/gamma", 0));
  }
  std::remove(path.c_str());
}

TEST(ResultsFile, RejectsBadFiles) {
  const std::string empty = temp_path("empty.h5"), text = temp_path("text.h5"), truncated = temp_path("trunc.h5");
  std::ofstream(empty).close();
  std::ofstream(text) << "not hdf5 at all\n";
  const io::SweepConfig config = io::parse_config(kGood, {"rho=0.1", "gamma=1", "d=4"}, "t");
  const std::string good = temp_path("good.h5");
  io::write_results_file(good, config, io::SweepState(1));
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  for (const auto& path : {empty, text, truncated, temp_path("missing.h5")}) {
    EXPECT_THROW(io::read_results_file(path), io::InputError) << path;
  }
  for (const auto& path : {empty, text, truncated, good}) std::remove(path.c_str());
}

TEST(Journal, ReplaysAndDropsATornLastRecord) {
  const std::string path = temp_path("cells.journal");
  std::remove(path.c_str());
  {
    Replayed seen;
    io::Journal j(path, 77, seen.visitor());
    EXPECT_TRUE(seen.cells.empty());
    j.append(cell_record(1, io::CellStatus::done, 8, 0.1, 0.01, 0.2, 0.02, 3.0, 1, ""));
    j.append(cell_record(2, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 1.0, 2, "boom"));
  }
  // A kill mid-write: append half a record.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << std::string("\x30\x00\x00\x00\x12\x34", 6);
  }
  {
    Replayed seen;
    io::Journal j(path, 77, seen.visitor());
    ASSERT_EQ(seen.cells.size(), 2u);
    EXPECT_EQ(seen.cells[1].error, "boom");
    EXPECT_EQ(j.dropped_bytes(), 6u);
    j.append(cell_record(3, io::CellStatus::done, 8, 0.3, 0.01, 0.4, 0.02, 3.0, 1, ""));
  }
  // A flipped byte in the last record's payload: its checksum fails and it is dropped.
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(-5, std::ios::end);
    f.put('\x7f');
  }
  {
    Replayed seen;
    io::Journal j(path, 77, seen.visitor());
    EXPECT_EQ(seen.cells.size(), 2u);
  }
  EXPECT_THROW(io::Journal(path, 78), io::InputError);  // another sweep's journal
  std::remove(path.c_str());
}

// A done cell's record carries its per-trial values (0.2); a record without them (as 0.1 wrote
// them, and as failed cells are written) replays with none; the state keeps what it is given.
TEST(Journal, DoneCellsCarryTheirPerTrialValues) {
  const std::string path = temp_path("pertrial.journal");
  std::remove(path.c_str());
  io::CellRecord done =
      cell_record(4, io::CellStatus::done, 3, 0.5, 0.1, 0.7, 0.2, 1.0, 1, "", {0.4, 0.5, 0.6}, {0.6, 0.7, 0.8});
  io::CellRecord bare = cell_record(5, io::CellStatus::done, 3, 0.25, 0.1, 0.3, 0.2, 1.0, 1, "", {}, {});
  {
    io::Journal j(path, 3);
    j.append(done);
    j.append(bare);
  }
  Replayed seen;
  { io::Journal j(path, 3, seen.visitor()); }
  ASSERT_EQ(seen.cells.size(), 2u);
  EXPECT_EQ(seen.cells[0].observables[attnsweep::mc::kLambda].trial, done.observables[attnsweep::mc::kLambda].trial);
  EXPECT_EQ(seen.cells[0].observables[attnsweep::mc::kEta].trial, done.observables[attnsweep::mc::kEta].trial);
  EXPECT_TRUE(seen.cells[1].observables[attnsweep::mc::kLambda].trial.empty());
  io::SweepState state(8);
  ASSERT_TRUE(state.keep_trials(3));
  for (const auto& r : seen.cells) state.apply(r);
  EXPECT_EQ(state.record(4).observables[attnsweep::mc::kEta].trial, done.observables[attnsweep::mc::kEta].trial);
  EXPECT_TRUE(
      state.record(5).observables[attnsweep::mc::kLambda].trial.empty());  // done, values unknown (NaN in the file)
  EXPECT_TRUE(std::isnan(state.observables[attnsweep::mc::kLambda].trial[5 * 3]));
  // Beyond the cap nothing is kept, and the summaries are untouched.
  io::SweepState large(std::int64_t{1} << 20);
  EXPECT_FALSE(large.keep_trials(static_cast<std::int32_t>(2 * io::kMaxTrialValues / large.size())));
  EXPECT_EQ(large.trial_slots(), 0);
  EXPECT_FALSE(io::SweepState(1).keep_trials(io::kMaxTrialSlots + 1));
  std::remove(path.c_str());
}

TEST(Journal, KeepsTrialsOfUnfinishedCellsInOrderAcrossChunks) {
  const std::string path = temp_path("trials.journal");
  std::remove(path.c_str());
  io::TrialsRecord many;  // more trials than one record holds: written as several chunks
  many.cell = 5;
  many.seconds = 12.5;
  for (std::uint64_t t = 0; t < 40000; ++t) {
    many.trial.push_back(t * 3);
    many.values[attnsweep::mc::kLambda].push_back(1.0 / static_cast<double>(t + 1));
    many.values[attnsweep::mc::kEta].push_back(std::ldexp(1.0, -static_cast<int>(t % 900)));  // down to subnormal range
    many.values[attnsweep::mc::kEtaProbeStderr].push_back(static_cast<double>(t) * 1e-3);
  }
  {
    io::Journal j(path, 9);
    j.append(trials_record(2, 0.5, {7}, {0.25}, {0.75}));
    j.append(cell_record(1, io::CellStatus::done, 8, 0.1, 0.01, 0.2, 0.02, 3.0, 1, ""));
    j.append(many);
    io::TrialsRecord ragged = trials_record(3, 0, {1, 2}, {0.1}, {0.2, 0.3});
    EXPECT_THROW(j.append(ragged), std::logic_error);
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);  // a torn trials record
    out << std::string("\x40\x00\x00\x00\x01\x02\x03\x04\x05\x00\x00\x00", 12);
  }
  Replayed seen;
  io::Journal j(path, 9, seen.visitor());
  EXPECT_EQ(j.dropped_bytes(), 12u);
  ASSERT_EQ(seen.cells.size(), 1u);  // the whole-cell record, unaffected
  EXPECT_EQ(seen.cells[0].cell, 1);
  const auto& trials = seen.trials;
  ASSERT_GE(trials.size(), 4u);
  EXPECT_EQ(trials[0].cell, 2);
  EXPECT_EQ(trials[0].trial, std::vector<std::uint64_t>{7});
  EXPECT_EQ(trials[0].values[attnsweep::mc::kEta], std::vector<double>{0.75});
  io::TrialsRecord joined;
  double seconds = 0;
  for (size_t r = 1; r < trials.size(); ++r) {
    EXPECT_EQ(trials[r].cell, 5);
    seconds += trials[r].seconds;
    joined.trial.insert(joined.trial.end(), trials[r].trial.begin(), trials[r].trial.end());
    for (size_t k = 0; k < attnsweep::mc::kObservableCount; ++k)
      joined.values[k].insert(joined.values[k].end(), trials[r].values[k].begin(), trials[r].values[k].end());
  }
  EXPECT_EQ(seconds, 12.5);  // counted once, not once per chunk
  EXPECT_EQ(joined.trial, many.trial);
  EXPECT_EQ(joined.values, many.values);  // bit-exact doubles
  // A reader that wants only whole-cell records gets only those.
  size_t cells = 0;
  EXPECT_EQ(io::Journal::read(path, {[&cells](const io::CellRecord&) { ++cells; }, {}}), io::Journal::stamp(9));
  EXPECT_EQ(cells, 1u);
  std::remove(path.c_str());
}

TEST(Journal, ABatchIsOneWriteAndReplayStreamsPastTheReadBlock) {
  const std::string path = temp_path("batch.journal");
  std::remove(path.c_str());
  constexpr int kCells = 30000;  // about 2.3 MB of records: more than one read block
  {
    io::Journal j(path, 5);
    const auto before = j.size_bytes();
    io::Journal::Batch batch;
    for (int c = 0; c < kCells; ++c)
      batch.add(cell_record(c, io::CellStatus::done, 1, c * 0.5, NAN, 1.0 / (c + 1), NAN, 0.0, 1, ""));
    batch.add(trials_record(kCells, 0.5, {0, 2}, {0.1, 0.2}, {0.3, 0.4}));
    const auto bytes = batch.bytes();
    EXPECT_EQ(batch.records(), static_cast<size_t>(kCells) + 1);
    j.commit(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(j.size_bytes(), before + bytes);
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    EXPECT_EQ(static_cast<std::uint64_t>(in.tellg()), j.size_bytes());
  }
  Replayed seen;
  io::Journal j(path, 5, seen.visitor());
  EXPECT_EQ(j.dropped_bytes(), 0u);
  ASSERT_EQ(seen.cells.size(), static_cast<size_t>(kCells));
  for (int c = 0; c < kCells; c += 997) {
    EXPECT_EQ(seen.cells[static_cast<size_t>(c)].cell, c);
    EXPECT_EQ(seen.cells[static_cast<size_t>(c)].observables[attnsweep::mc::kLambda].mean, c * 0.5);
    EXPECT_EQ(seen.cells[static_cast<size_t>(c)].observables[attnsweep::mc::kEta].mean, 1.0 / (c + 1));
  }
  ASSERT_EQ(seen.trials.size(), 1u);
  EXPECT_EQ(seen.trials[0].trial, (std::vector<std::uint64_t>{0, 2}));
  std::remove(path.c_str());
}

TEST(ResultsFile, BoxReadsEqualTheWholeFileAndChunksStayBounded) {
  const io::SweepConfig config =
      io::parse_config(kGood, {"rho=0.1, 0.3, 0.5, 0.7", "gamma=1, 2, 3", "d=4, 8, 16", "n=8, 16"}, "t");
  const sw::Grid grid(config);
  io::SweepState state(grid.size());
  for (std::int64_t c = 0; c < grid.size(); c += 3) {
    state.apply(cell_record(c, io::CellStatus::done, 8, 0.01 * static_cast<double>(c), 0.001,
                            1.0 + static_cast<double>(c), 0.01, 0.5, 1, ""));
  }
  state.apply(cell_record(4, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 0.1, 2, "boom"));
  const std::string path = temp_path("box.h5");
  io::write_results_file(path, config, state);
  const io::ResultsReader reader(path);
  io::CellBox box;
  box.start = {1, 0, 1, 1};
  box.count = {2, 3, 2, 1};
  const io::SweepState part = reader.read(box);
  ASSERT_EQ(part.size(), box.size());
  const auto shape = reader.shape();
  for (std::int64_t k = 0; k < box.size(); ++k) {
    const std::int64_t cell = box.flat_index(k, shape);
    const io::CellRecord want = state.record(cell), got = part.record(k);
    EXPECT_EQ(static_cast<int>(got.status), static_cast<int>(want.status)) << cell;
    EXPECT_EQ(std::isnan(got.observables[attnsweep::mc::kLambda].mean),
              std::isnan(want.observables[attnsweep::mc::kLambda].mean))
        << cell;
    if (!std::isnan(want.observables[attnsweep::mc::kLambda].mean)) {
      EXPECT_EQ(got.observables[attnsweep::mc::kLambda].mean, want.observables[attnsweep::mc::kLambda].mean) << cell;
    }
  }
  io::CellBox one;
  one.start = {0, 0, 2, 0};  // flat index 4: the failed cell
  one.count = {1, 1, 1, 1};
  EXPECT_EQ(one.flat_index(0, shape), 4);
  EXPECT_EQ(reader.read(one).record(0).error, "boom");
  std::remove(path.c_str());
  // A grid far larger than one chunk: chunks stay under the element cap.
  const auto chunk = io::h5::chunk_shape({1000, 1000, 10, 10});
  EXPECT_LE(chunk[0] * chunk[1] * chunk[2] * chunk[3], io::h5::kChunkElements);
  EXPECT_EQ(chunk[3], 10);
  EXPECT_EQ(chunk[2], 10);
}

// Records written before the observable count (0.2's and 0.3's kinds: a cell's status as its kind,
// trials as kind 3; lambda and eta only) replay with the observables they lack unknown (NaN).
TEST(Journal, RecordsWithoutTheObservableCountReplayWithTheRestUnknown) {
  const std::string path = temp_path("legacy.journal");
  std::string bytes("ATSWJRN1", 8);
  io::ByteWriter header(bytes);
  // The stamp of this kernel version (version 1's journals are refused before their records are read;
  // `status` still reads them without the check).
  header.put(io::Journal::stamp(9));
  const auto frame = [&bytes](const std::string& payload) {
    io::ByteWriter w(bytes);
    w.put(static_cast<std::uint32_t>(payload.size()));
    w.put(attnsweep::io::crc32(payload.data(), payload.size()));
    bytes += payload;
  };
  std::string cell;  // cell 4, done (kind 1), 2 trials, lambda and eta summaries and trials
  io::ByteWriter c(cell);
  c.put(std::int64_t{4});
  c.put(std::uint8_t{1});
  c.put(std::int32_t{2});
  for (double v : {0.5, 0.1, 0.9, 0.2}) c.put(v);
  c.put(1.5);
  c.put(std::int32_t{1});
  c.put_text("");
  c.put(std::uint32_t{2});
  for (double v : {0.4, 0.8, 0.6, 1.0}) c.put(v);  // trial 0: lambda, eta; trial 1: lambda, eta
  frame(cell);
  std::string trials;  // cell 6, kind 3: trial 5 with lambda 0.25, eta 0.75
  io::ByteWriter t(trials);
  t.put(std::int64_t{6});
  t.put(std::uint8_t{3});
  t.put(2.0);
  t.put(std::uint32_t{1});
  t.put(std::uint64_t{5});
  t.put(0.25);
  t.put(0.75);
  frame(trials);
  std::ofstream(path, std::ios::binary) << bytes;
  Replayed seen;
  {
    io::Journal j(path, 9, seen.visitor());
    EXPECT_EQ(j.damaged_bytes(), 0u);
    j.append(trials_record(7, 0.5, {1}, {0.3}, {0.7}));  // a new record after the old ones
  }
  ASSERT_EQ(seen.cells.size(), 1u);
  ASSERT_EQ(seen.trials.size(), 1u);
  const io::CellRecord& r = seen.cells[0];
  EXPECT_EQ(r.status, io::CellStatus::done);
  EXPECT_EQ(r.observables[attnsweep::mc::kEta].mean, 0.9);
  EXPECT_EQ(r.observables[attnsweep::mc::kEta].trial, (std::vector<double>{0.8, 1.0}));
  EXPECT_TRUE(std::isnan(r.observables[attnsweep::mc::kEtaProbeStderr].mean));
  ASSERT_EQ(r.observables[attnsweep::mc::kEtaProbeStderr].trial.size(), 2u);
  EXPECT_TRUE(std::isnan(r.observables[attnsweep::mc::kEtaProbeStderr].trial[1]));
  EXPECT_EQ(seen.trials[0].values[attnsweep::mc::kEta], std::vector<double>{0.75});
  EXPECT_TRUE(std::isnan(seen.trials[0].values[attnsweep::mc::kEtaProbeStderr][0]));
  Replayed again;  // old and new kinds in one journal
  io::Journal::read(path, again.visitor());
  ASSERT_EQ(again.trials.size(), 2u);
  EXPECT_EQ(again.trials[1].values[attnsweep::mc::kLambda], std::vector<double>{0.3});
  std::remove(path.c_str());
}
