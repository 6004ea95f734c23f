// Config, grid, scheduler, journal and the HDF5 file, without MPI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/driver.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/scheduler.hpp"

namespace io = attnsweep::io;
namespace sw = attnsweep::sweep;

namespace {
const char* const kGood =
    "[grid]\nrho = 0.05:0.95:0.05\ngamma = 0.25:10:0.25\nd = 2, 32, 512\nn = 1024\n"
    "[mc]\ntrials = 8\nprobes = 4\njacobian = exact\ngeometry = gaussian\nalpha = 0\nseed = 2025\n"
    "[output]\nfile = figure1.h5\n";

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/attnsweep_" + std::to_string(::getpid()) + "_" + name;
}
}  // namespace

TEST(Config, ParsesThePaperWorkload) {
  const io::SweepConfig c = io::parse_config(kGood, {}, "test");
  ASSERT_EQ(c.rho.size(), 19u);
  EXPECT_EQ(c.rho.front(), 0.05);
  EXPECT_EQ(c.rho[2], 0.15);  // same double as typing 0.15
  EXPECT_EQ(c.rho.back(), 0.95);
  ASSERT_EQ(c.gamma.size(), 40u);
  EXPECT_EQ(c.gamma.back(), 10.0);
  EXPECT_EQ(c.d, (std::vector<long>{2, 32, 512}));
  EXPECT_EQ(c.output, "figure1.h5");
}

TEST(Config, OverridesWinAndBareKeysResolve) {
  const io::SweepConfig c = io::parse_config(kGood, {"grid.n=64, 128", "trials=3", "mc.jacobian=hutchinson"}, "test");
  EXPECT_EQ(c.n, (std::vector<long>{64, 128}));
  EXPECT_EQ(c.trials, 3);
  EXPECT_EQ(c.jacobian, attnsweep::mc::JacobianMethod::hutchinson);
}

TEST(Config, HashIgnoresSpellingButNotContent) {
  const std::string respelled =
      "[grid]\nrho = 0.05:0.95:0.05\ngamma=0.25:10:0.25\nd = 2,32,512\nn = 1024\n[mc]\nseed = 2025\n";
  EXPECT_EQ(io::parse_config(kGood, {}, "a").hash(), io::parse_config(respelled, {}, "b").hash());
  EXPECT_NE(io::parse_config(kGood, {}, "a").hash(), io::parse_config(kGood, {"seed=1"}, "a").hash());
}

TEST(Config, RejectsBadInputNamingKeyAndValue) {
  const std::map<std::string, std::string> cases = {
      {"rho = 1.0", "grid.rho"},
      {"rho = -0.1", "grid.rho"},
      {"rho = abc", "grid.rho"},
      {"rho = ", "grid.rho"},
      {"rho = 0.9:0.1:0.1", "grid.rho"},
      {"rho = 0.1:0.9:0", "grid.rho"},
      {"rho = 0.1, 0.1", "grid.rho"},
      {"gamma = -1", "grid.gamma"},
      {"d = 0", "grid.d"},
      {"d = 2.5", "grid.d"},
      {"n = 1", "grid.n"},
      {"gamma = nan", "grid.gamma"},
  };
  for (const auto& [line, key] : cases) {
    std::string text = kGood;
    const std::string name = line.substr(0, line.find(' '));
    const auto at = text.find("\n" + name + " =");
    ASSERT_NE(at, std::string::npos) << line;
    const auto end = text.find('\n', at + 1);
    text.replace(at + 1, end - at - 1, line);
    try {
      io::parse_config(text, {}, "test.ini");
      ADD_FAILURE() << "accepted: " << line;
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> overrides = {
      {{"mc.trials=0"}, "mc.trials"},         {{"mc.probes=-1"}, "mc.probes"}, {{"mc.jacobian=magic"}, "jacobian"},
      {{"mc.geometry=cube"}, "geometry"},     {{"mc.seed=x"}, "mc.seed"},      {{"bogus=1"}, "bogus"},
      {{"mc.geometry=simplex"}, "simplex"},   {{"noequals"}, "noequals"},      {{"mc.alpha=inf"}, "mc.alpha"},
      {{"gamma-scale=weird"}, "gamma-scale"},
  };
  for (const auto& [o, key] : overrides) {
    try {
      io::parse_config(kGood, o, "test.ini");
      ADD_FAILURE() << "accepted: " << o[0];
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(io::parse_config(std::string(kGood) + "[mc]\ncolour = red\n", {}, "t"), io::InputError);
  EXPECT_THROW(io::parse_config("[grid]\nrho = 0.5\n", {}, "t"), io::InputError);  // missing keys
  EXPECT_THROW(io::parse_config("garbage without sections = = =\n\x01\x02", {}, "t"), io::InputError);
  EXPECT_THROW(io::load_config("/nonexistent/file.ini", {}), io::InputError);
  EXPECT_THROW(io::load_config("/tmp", {}), io::InputError);
}

TEST(Grid, FlatIndexRoundTripsInCOrder) {
  const sw::Grid grid(io::parse_config(kGood, {}, "t"));
  EXPECT_EQ(grid.size(), 19 * 40 * 3 * 1);
  for (std::int64_t i : {0L, 1L, 2L, 3L, 119L, 2279L}) EXPECT_EQ(grid.flat(grid.coordinates(i)), i);
  const auto c = grid.coordinates(1);  // last axis (n) has one value, so index 1 is the next d
  EXPECT_EQ(c.d, 1);
  EXPECT_EQ(grid.cell(3).gamma, 0.5);
  const sw::Grid critical(io::parse_config(kGood, {"gamma-scale=critical"}, "t"));
  EXPECT_DOUBLE_EQ(critical.cell(critical.flat({1, 3, 0, 0})).gamma, 1.0 / (1 - 0.1));
}

TEST(Scheduler, EveryTrialOfEveryCellExactlyOnceLargestFirst) {
  const sw::Grid grid(io::parse_config(kGood, {}, "t"));
  std::vector<std::int64_t> cells;
  for (std::int64_t i = 0; i < grid.size(); ++i) cells.push_back(i);
  for (int workers : {1, 2, 3, 64, 4096}) {
    const auto tasks = sw::plan_tasks(grid, cells, sw::CostModel{}, workers);
    std::map<std::int64_t, std::vector<int>> seen;
    for (const auto& t : tasks) {
      const auto first = grid.coordinates(t.cells.front());
      for (std::int64_t cell : t.cells) {
        const auto c = grid.coordinates(cell);  // a task's cells share (rho, d, n)
        ASSERT_TRUE(c.rho == first.rho && c.d == first.d && c.n == first.n);
        auto& trials = seen[cell];
        trials.resize(8, 0);
        for (auto k = t.first_trial; k < t.first_trial + t.trial_count; ++k) ++trials[k];
      }
    }
    ASSERT_EQ(seen.size(), cells.size());
    for (const auto& [cell, trials] : seen)
      for (int count : trials) ASSERT_EQ(count, 1) << "cell " << cell;
    for (size_t i = 1; i < tasks.size(); ++i) ASSERT_GE(tasks[i - 1].estimated_seconds, tasks[i].estimated_seconds);
    if (workers == 1) {  // gammas stay grouped (the cap splits only the trials of big groups)
      for (const auto& t : tasks) EXPECT_EQ(t.cells.size(), 40u);
      EXPECT_GE(tasks.size(), 19u * 3u);
    }
    if (workers == 4096) {
      EXPECT_GT(tasks.size(), 19u * 3u * 8u);  // split by trials and by gammas
    }
  }
  // A long sweep on few workers: no task longer than the cap unless it is one trial of one cell.
  const sw::Grid big(io::parse_config(kGood, {"d=512", "n=8192, 16384", "trials=64"}, "t"));
  std::vector<std::int64_t> all;
  for (std::int64_t i = 0; i < big.size(); ++i) all.push_back(i);
  const sw::CostModel cost;
  double longest_single = 0;
  for (std::int64_t cell : all) longest_single = std::max(longest_single, cost.trial_seconds(big.cell(cell)));
  ASSERT_GT(longest_single, 0.0);
  for (const auto& t : sw::plan_tasks(big, all, cost, 2)) {
    if (t.cells.size() > 1 || t.trial_count > 1) {
      EXPECT_LE(t.estimated_seconds, sw::kMaxTaskSeconds * 1.0000001) << t.cells.size() << " cells x " << t.trial_count;
    }
  }
  // Two large cells on three workers: split into trial ranges so no worker idles.
  const sw::Grid few(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2", "d=512"}, "t"));
  const auto tasks = sw::plan_tasks(few, {0, 1}, sw::CostModel{}, 3);
  EXPECT_GE(tasks.size(), 6u);
}

TEST(Driver, GroupedTaskEqualsCellsRunAloneBitwise) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.3", "gamma=0.5, 1.5, 3", "d=6", "n=40", "trials=3"}, "t"));
  const auto stop = [] { return false; };
  const sw::TaskResult grouped = sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {}, stop);
  ASSERT_EQ(grouped.outcomes.size(), 3u);
  for (std::int64_t cell = 0; cell < 3; ++cell) {
    const sw::TaskResult alone = sw::run_task(grid, {{cell}, 0, 3, 1.0}, {}, stop);
    const auto& g = grouped.outcomes[static_cast<size_t>(cell)];
    ASSERT_TRUE(g.ok && alone.outcomes[0].ok);
    EXPECT_EQ(g.samples.lambda().mean, alone.outcomes[0].samples.lambda().mean);
    EXPECT_EQ(g.samples.eta().std_error, alone.outcomes[0].samples.eta().std_error);
    // And what `attnsweep cell` computes.
    EXPECT_EQ(g.samples.eta().mean, attnsweep::mc::run_trials(grid.cell(cell), 0, 3).eta().mean);
  }
  // An injected failure fails its own cell only.
  const sw::TaskResult injected = sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {1}, stop);
  // A stop request abandons the task.
  EXPECT_TRUE(sw::run_task(grid, {{0, 1, 2}, 0, 3, 1.0}, {}, [] { return true; }).abandoned);
  EXPECT_TRUE(injected.outcomes[0].ok);
  EXPECT_FALSE(injected.outcomes[1].ok);
  EXPECT_TRUE(injected.outcomes[2].ok);
  EXPECT_EQ(injected.outcomes[2].samples.eta().mean, grouped.outcomes[2].samples.eta().mean);
}

TEST(Driver, MessagesRoundTrip) {
  sw::TaskResult r;
  r.task = {{42, 45}, 3, 2, 1.5};
  r.seconds = 0.25;
  sw::CellOutcome failed, good;
  failed.cell = 42;
  failed.ok = false;
  failed.error = "boom";
  good.cell = 45;
  good.samples.add(3, {0.5, 0.7});
  good.samples.add(4, {0.6, 0.8});
  r.outcomes = {failed, good};
  const sw::TaskResult back = sw::decode_result(sw::encode(r));
  EXPECT_EQ(back.task.cells, (std::vector<std::int64_t>{42, 45}));
  EXPECT_EQ(back.task.first_trial, 3u);
  ASSERT_EQ(back.outcomes.size(), 2u);
  EXPECT_FALSE(back.outcomes[0].ok);
  EXPECT_EQ(back.outcomes[0].error, "boom");
  EXPECT_EQ(back.outcomes[1].samples.lambda().mean, good.samples.lambda().mean);
  EXPECT_THROW(sw::decode_result(sw::encode(r).substr(0, 60)), std::runtime_error);
}

TEST(ResultsFile, RoundTripLayoutAndScales) {
  const io::SweepConfig config = io::parse_config(kGood, {"rho=0.1, 0.5", "gamma=1, 2, 3", "d=4, 8"}, "t");
  io::SweepState state(2 * 3 * 2);
  io::CellRecord done{5, io::CellStatus::done, 8, 0.25, 0.01, 0.5, 0.02, 1.5, 1, ""};
  io::CellRecord failed{7, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 0.1, 2, "injected failure"};
  state.apply(done);
  state.apply(failed);
  const std::string path = temp_path("roundtrip.h5");
  io::write_results_file(path, config, state);
  const io::ResultsFile f = io::read_results_file(path);
  EXPECT_EQ(f.config_hash, config.hash());
  EXPECT_EQ(f.state.record(5).lambda_mean, 0.25);
  EXPECT_EQ(f.state.record(7).error, "injected failure");
  EXPECT_EQ(f.state.count(io::CellStatus::missing), 10);
  EXPECT_TRUE(std::isnan(f.state.lambda_mean[0]));
  EXPECT_TRUE(io::verify_results_file(path).empty());
  {
    namespace h5 = io::h5;
    h5::Handle file = h5::open_file_readonly(path);
    EXPECT_EQ(h5::dataset_shape(file, "/results/eta/mean"), (std::vector<std::int64_t>{2, 3, 2, 1}));
    EXPECT_TRUE(h5::scale_attached(file, "/results/lambda/mean", "/grid/gamma", 1));
    EXPECT_FALSE(h5::scale_attached(file, "/results/lambda/mean", "/grid/gamma", 0));
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
    io::Journal j(path, 77);
    EXPECT_TRUE(j.replayed().empty());
    j.append({1, io::CellStatus::done, 8, 0.1, 0.01, 0.2, 0.02, 3.0, 1, ""});
    j.append({2, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 1.0, 2, "boom"});
  }
  // A kill mid-write: append half a record.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << std::string("\x30\x00\x00\x00\x12\x34", 6);
  }
  {
    io::Journal j(path, 77);
    ASSERT_EQ(j.replayed().size(), 2u);
    EXPECT_EQ(j.replayed()[1].error, "boom");
    EXPECT_EQ(j.dropped_bytes(), 6u);
    j.append({3, io::CellStatus::done, 8, 0.3, 0.01, 0.4, 0.02, 3.0, 1, ""});
  }
  // A flipped byte in the last record's payload: its checksum fails and it is dropped.
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(-5, std::ios::end);
    f.put('\x7f');
  }
  {
    io::Journal j(path, 77);
    EXPECT_EQ(j.replayed().size(), 2u);
  }
  EXPECT_THROW(io::Journal(path, 78), io::InputError);  // another sweep's journal
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
    many.lambda.push_back(1.0 / static_cast<double>(t + 1));
    many.eta.push_back(std::ldexp(1.0, -static_cast<int>(t % 900)));  // down to subnormal range
  }
  {
    io::Journal j(path, 9);
    j.append(io::TrialsRecord{2, 0.5, {7}, {0.25}, {0.75}});
    j.append({1, io::CellStatus::done, 8, 0.1, 0.01, 0.2, 0.02, 3.0, 1, ""});
    j.append(many);
    io::TrialsRecord ragged{3, 0, {1, 2}, {0.1}, {0.2, 0.3}};
    EXPECT_THROW(j.append(ragged), std::logic_error);
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);  // a torn trials record
    out << std::string("\x40\x00\x00\x00\x01\x02\x03\x04\x05\x00\x00\x00", 12);
  }
  io::Journal j(path, 9);
  EXPECT_EQ(j.dropped_bytes(), 12u);
  ASSERT_EQ(j.replayed().size(), 1u);  // the whole-cell record, unaffected
  EXPECT_EQ(j.replayed()[0].cell, 1);
  const auto& trials = j.replayed_trials();
  ASSERT_GE(trials.size(), 4u);
  EXPECT_EQ(trials[0].cell, 2);
  EXPECT_EQ(trials[0].trial, std::vector<std::uint64_t>{7});
  EXPECT_EQ(trials[0].eta, std::vector<double>{0.75});
  io::TrialsRecord joined;
  double seconds = 0;
  for (size_t r = 1; r < trials.size(); ++r) {
    EXPECT_EQ(trials[r].cell, 5);
    seconds += trials[r].seconds;
    joined.trial.insert(joined.trial.end(), trials[r].trial.begin(), trials[r].trial.end());
    joined.lambda.insert(joined.lambda.end(), trials[r].lambda.begin(), trials[r].lambda.end());
    joined.eta.insert(joined.eta.end(), trials[r].eta.begin(), trials[r].eta.end());
  }
  EXPECT_EQ(seconds, 12.5);  // counted once, not once per chunk
  EXPECT_EQ(joined.trial, many.trial);
  EXPECT_EQ(joined.lambda, many.lambda);  // bit-exact doubles
  EXPECT_EQ(joined.eta, many.eta);
  // Readers of finished cells (merge) see only whole-cell records.
  EXPECT_EQ(io::Journal::read(path, nullptr).size(), 1u);
  std::remove(path.c_str());
}
