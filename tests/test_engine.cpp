// Config, grid, scheduler, journal and the HDF5 file, without MPI.
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

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/messages.hpp"
#include "attnsweep/sweep/run_store.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "attnsweep/sweep/task_runner.hpp"
#include "attnsweep/sweep/workers.hpp"

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

// Collects what a journal replay hands out.
struct Replayed {
  std::vector<io::CellRecord> cells;
  std::vector<io::TrialsRecord> trials;
  io::JournalVisitor visitor() {
    return {[this](const io::CellRecord& r) { cells.push_back(r); },
            [this](const io::TrialsRecord& r) { trials.push_back(r); }};
  }
};
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
  // The scaling law: absent from the canonical text (and hash) of the paper's law, so every
  // config of 0.1 keeps its identity; another law is part of both.
  const io::SweepConfig paper = io::parse_config(kGood, {}, "t");
  EXPECT_EQ(paper.canonical_text().find("scaling"), std::string::npos);
  const io::SweepConfig constant = io::parse_config(kGood, {"mc.scaling=constant"}, "t");
  EXPECT_EQ(constant.scaling, attnsweep::model::ScalingLaw::constant);
  EXPECT_NE(constant.canonical_text().find("scaling = constant"), std::string::npos);
  EXPECT_NE(constant.hash(), paper.hash());
  EXPECT_EQ(io::parse_config(constant.canonical_text(), {}, "t").hash(), constant.hash());
  EXPECT_EQ(io::parse_config(kGood, {"mc.scaling=log"}, "t").hash(), paper.hash());
  try {
    io::parse_config(kGood, {"scaling=cubic"}, "t");
    ADD_FAILURE() << "accepted scaling = cubic";
  } catch (const io::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mc.scaling"), std::string::npos) << e.what();
  }
  // Depth: like the law, in the text and hash only when not 1; L > 1 needs hutchinson.
  EXPECT_EQ(paper.canonical_text().find("layers"), std::string::npos);
  EXPECT_EQ(io::parse_config(kGood, {"mc.layers=1"}, "t").hash(), paper.hash());
  const io::SweepConfig deep = io::parse_config(kGood, {"mc.layers=4", "mc.jacobian=hutchinson"}, "t");
  EXPECT_EQ(deep.layers, 4);
  EXPECT_NE(deep.canonical_text().find("layers = 4"), std::string::npos);
  EXPECT_EQ(io::parse_config(deep.canonical_text(), {}, "t").hash(), deep.hash());
  EXPECT_EQ(attnsweep::sweep::Grid(deep).cell(0).layers, 4);
  for (const char* bad : {"mc.layers=0", "mc.layers=2", "mc.layers=two", "mc.layers=100000"}) {
    try {
      io::parse_config(kGood, {bad}, "t");  // layers = 2 with the default exact Jacobian
      ADD_FAILURE() << "accepted " << bad;
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("mc.layers"), std::string::npos) << e.what();
    }
  }
  // Simplex tokens are deterministic: one trial by default, more refused naming mc.trials.
  const char* const kSimplex = "[grid]\nrho = 0.5\ngamma = 1\nd = 20\nn = 16\n[mc]\ngeometry = simplex\n";
  EXPECT_EQ(io::parse_config(kSimplex, {}, "t").trials, 1);
  EXPECT_EQ(io::parse_config(kSimplex, {"mc.geometry=gaussian"}, "t").trials, 8);
  try {
    io::parse_config(kSimplex, {"mc.trials=4"}, "t");
    ADD_FAILURE() << "accepted simplex with 4 trials";
  } catch (const io::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mc.trials"), std::string::npos) << e.what();
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
  EXPECT_EQ(c[sw::kDAxis], 1);
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
      // A task's cells come in adjacent runs sharing (rho, d, n); a task of several runs holds
      // whole groups (every trial, all 40 gammas).
      std::set<std::tuple<long, long, long>> runs;
      std::tuple<long, long, long> previous{-1, -1, -1};
      for (std::int64_t cell : t.cells) {
        const auto c = grid.coordinates(cell);
        const std::tuple<long, long, long> key{c[sw::kRhoAxis], c[sw::kDAxis], c[sw::kNAxis]};
        if (key != previous) {
          ASSERT_TRUE(runs.insert(key).second) << "group split inside a task";
        }
        previous = key;
      }
      if (runs.size() > 1) {
        EXPECT_EQ(t.trial_count, 8u);
        EXPECT_EQ(t.cells.size(), runs.size() * 40u);
      }
      for (std::int64_t cell : t.cells) {
        auto& trials = seen[cell];
        trials.resize(8, 0);
        for (auto k = t.first_trial; k < t.first_trial + t.trial_count; ++k) ++trials[k];
      }
    }
    ASSERT_EQ(seen.size(), cells.size());
    for (const auto& [cell, trials] : seen)
      for (int count : trials) ASSERT_EQ(count, 1) << "cell " << cell;
    // Largest groups first, and the pieces of one group (rho, d, n) next to each other.
    std::vector<std::pair<std::tuple<long, long, long>, double>> runs_in_order;  // (group, its total estimate)
    for (const auto& t : tasks) {
      const auto c = grid.coordinates(t.cells.front());
      const std::tuple<long, long, long> key{c[sw::kRhoAxis], c[sw::kDAxis], c[sw::kNAxis]};
      if (runs_in_order.empty() || runs_in_order.back().first != key) runs_in_order.push_back({key, 0.0});
      runs_in_order.back().second += t.estimated_seconds;
    }
    std::set<std::tuple<long, long, long>> distinct;
    for (const auto& [key, total] : runs_in_order)
      ASSERT_TRUE(distinct.insert(key).second) << "a group's pieces are apart";
    for (size_t i = 1; i < runs_in_order.size(); ++i)
      ASSERT_GE(runs_in_order[i - 1].second * (1 + 1e-12), runs_in_order[i].second) << "not largest first";
    if (workers == 1) {  // gammas stay grouped (the cap splits only the trials of big groups)
      for (const auto& t : tasks) EXPECT_EQ(t.cells.size() % 40u, 0u);
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
  // A grid of tiny cells: groups are packed, so tasks are few and each holds many cells.
  const sw::Grid tiny(
      io::parse_config(kGood, {"rho=0.01:0.99:0.01", "gamma=0.1:10:0.1", "d=2, 3", "n=4", "trials=1"}, "t"));
  std::vector<std::int64_t> tiny_cells;
  for (std::int64_t i = 0; i < tiny.size(); ++i) tiny_cells.push_back(i);
  const auto packed = sw::plan_tasks(tiny, tiny_cells, sw::CostModel{}, 2);
  size_t packed_cells = 0;
  for (const auto& t : packed) {
    EXPECT_LE(t.cells.size(), sw::kMaxCellsPerTask);
    packed_cells += t.cells.size();
  }
  EXPECT_EQ(packed_cells, tiny_cells.size());
  EXPECT_LE(packed.size(), 2u * 8u + tiny_cells.size() / sw::kMaxCellsPerTask + 2u) << "groups were not packed";
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

TEST(Driver, APackedTaskOfSeveralGroupsEqualsEachCellAlone) {
  // Cells ordered (rho, gamma, d, n): groups (rho, d, n) are {0, 2}, {1, 3}, {4, 6}, {5, 7}.
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.2, 0.7", "gamma=1, 2.5", "d=3, 9", "n=30", "trials=2"}, "t"));
  const auto stop = [] { return false; };
  const std::vector<std::int64_t> packed_cells = {0, 2, 1, 3, 4, 6, 5, 7};
  const sw::TaskResult packed = sw::run_task(grid, {packed_cells, 0, 2, 1.0}, {}, stop);
  ASSERT_EQ(packed.outcomes.size(), 8u);
  for (const auto& outcome : packed.outcomes) {
    const sw::TaskResult alone = sw::run_task(grid, {{outcome.cell}, 0, 2, 1.0}, {}, stop);
    ASSERT_TRUE(outcome.ok);
    EXPECT_EQ(outcome.samples.lambda().mean, alone.outcomes[0].samples.lambda().mean) << outcome.cell;
    EXPECT_EQ(outcome.samples.eta().mean, alone.outcomes[0].samples.eta().mean) << outcome.cell;
  }
  // A stop after the first run of cells abandons the rest: later runs have no trials.
  int calls = 0;
  const sw::TaskResult stopped = sw::run_task(grid, {packed_cells, 0, 2, 1.0}, {}, [&calls] { return ++calls > 2; });
  EXPECT_TRUE(stopped.abandoned);
  EXPECT_EQ(stopped.outcomes[0].samples.size(), 2);
  EXPECT_EQ(stopped.outcomes[7].samples.size(), 0);
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
    EXPECT_EQ(h5::get_int_attribute(file, "/", "schema_version"), 3);
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
    j.append({1, io::CellStatus::done, 8, 0.1, 0.01, 0.2, 0.02, 3.0, 1, ""});
    j.append({2, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 1.0, 2, "boom"});
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
    j.append({3, io::CellStatus::done, 8, 0.3, 0.01, 0.4, 0.02, 3.0, 1, ""});
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
  io::CellRecord done{4, io::CellStatus::done, 3, 0.5, 0.1, 0.7, 0.2, 1.0, 1, "", {0.4, 0.5, 0.6}, {0.6, 0.7, 0.8}};
  io::CellRecord bare{5, io::CellStatus::done, 3, 0.25, 0.1, 0.3, 0.2, 1.0, 1, "", {}, {}};
  {
    io::Journal j(path, 3);
    j.append(done);
    j.append(bare);
  }
  Replayed seen;
  { io::Journal j(path, 3, seen.visitor()); }
  ASSERT_EQ(seen.cells.size(), 2u);
  EXPECT_EQ(seen.cells[0].trial_lambda, done.trial_lambda);
  EXPECT_EQ(seen.cells[0].trial_eta, done.trial_eta);
  EXPECT_TRUE(seen.cells[1].trial_lambda.empty());
  io::SweepState state(8);
  ASSERT_TRUE(state.keep_trials(3));
  for (const auto& r : seen.cells) state.apply(r);
  EXPECT_EQ(state.record(4).trial_eta, done.trial_eta);
  EXPECT_TRUE(state.record(5).trial_lambda.empty());  // done, values unknown (NaN in the file)
  EXPECT_TRUE(std::isnan(state.trial_lambda[5 * 3]));
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
  Replayed seen;
  io::Journal j(path, 9, seen.visitor());
  EXPECT_EQ(j.dropped_bytes(), 12u);
  ASSERT_EQ(seen.cells.size(), 1u);  // the whole-cell record, unaffected
  EXPECT_EQ(seen.cells[0].cell, 1);
  const auto& trials = seen.trials;
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
  // A reader that wants only whole-cell records gets only those.
  size_t cells = 0;
  EXPECT_EQ(io::Journal::read(path, {[&cells](const io::CellRecord&) { ++cells; }, {}}), 9u);
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
      batch.add(io::CellRecord{c, io::CellStatus::done, 1, c * 0.5, NAN, 1.0 / (c + 1), NAN, 0.0, 1, ""});
    batch.add(io::TrialsRecord{kCells, 0.5, {0, 2}, {0.1, 0.2}, {0.3, 0.4}});
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
    EXPECT_EQ(seen.cells[static_cast<size_t>(c)].lambda_mean, c * 0.5);
    EXPECT_EQ(seen.cells[static_cast<size_t>(c)].eta_mean, 1.0 / (c + 1));
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
    state.apply({c, io::CellStatus::done, 8, 0.01 * static_cast<double>(c), 0.001, 1.0 + static_cast<double>(c), 0.01,
                 0.5, 1, ""});
  }
  state.apply({4, io::CellStatus::failed, 0, NAN, NAN, NAN, NAN, 0.1, 2, "boom"});
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
    EXPECT_EQ(std::isnan(got.lambda_mean), std::isnan(want.lambda_mean)) << cell;
    if (!std::isnan(want.lambda_mean)) {
      EXPECT_EQ(got.lambda_mean, want.lambda_mean) << cell;
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

TEST(Dispatcher, AssignsUpToEachWorkersDepthAndFinishes) {
  std::vector<sw::Task> tasks;
  for (std::int64_t c = 0; c < 5; ++c) tasks.push_back({{c}, 0, 1, 1.0});
  sw::Dispatcher d(tasks, {1, 2}, 0, 2);
  EXPECT_TRUE(d.assign(0, 0).has_value());
  EXPECT_FALSE(d.assign(0, 0).has_value());  // depth 1
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 1);
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 2);  // in queue order
  EXPECT_FALSE(d.assign(1, 0).has_value());
  EXPECT_EQ(d.in_flight_total(), 3);
  EXPECT_FALSE(d.finished());
  d.returned(1);
  EXPECT_EQ(d.assign(1, 0)->cells.front(), 3);
  d.returned(0);
  d.returned(1);
  d.returned(1);
  EXPECT_EQ(d.assign(0, 0)->cells.front(), 4);
  EXPECT_FALSE(d.finished());
  d.returned(0);
  EXPECT_TRUE(d.finished());
  EXPECT_FALSE(d.stopping());
  EXPECT_THROW(d.returned(0), std::logic_error);  // a task nobody had
}

TEST(Dispatcher, RetriesAFailedCellAloneUntilItsAttemptsAreUsedUp) {
  sw::Dispatcher d({{{7, 8, 9}, 2, 3, 6.0}}, {1}, 0, 2);
  const sw::Task task = *d.assign(0, 0);
  d.returned(0);
  EXPECT_TRUE(d.retry_failed_cell(8, task, 2.0, 1));
  const sw::Task retry = *d.assign(0, 0);
  EXPECT_EQ(retry.cells, std::vector<std::int64_t>{8});
  EXPECT_EQ(retry.first_trial, 2u);
  EXPECT_EQ(retry.trial_count, 3u);
  d.returned(0);
  EXPECT_FALSE(d.retry_failed_cell(8, retry, 2.0, 2));  // 2 attempts of 2: given up
  EXPECT_TRUE(d.finished());
}

TEST(Dispatcher, StopsOnSignalTimeLimitAndABudgetThatCannotFit) {
  {
    sw::Dispatcher d({{{0}, 0, 1, 1.0}, {{1}, 0, 1, 1.0}}, {2}, 0, 2);
    ASSERT_TRUE(d.assign(0, 0).has_value());
    d.request_stop(sw::StopReason::signal);
    d.request_stop(sw::StopReason::time_limit);  // the first reason wins
    EXPECT_EQ(d.stop_reason(), sw::StopReason::signal);
    EXPECT_FALSE(d.assign(0, 0).has_value());  // nothing new once stopping
    EXPECT_FALSE(d.finished());                // one task still in flight
    d.returned(0);
    EXPECT_TRUE(d.finished());
  }
  {
    sw::Dispatcher d({{{0}, 0, 1, 1.0}, {{1}, 0, 1, 1.0}}, {1}, 10, 2);
    ASSERT_TRUE(d.assign(0, 0).has_value());
    d.update(9.99);  // the next task would not fit, but one is still in flight
    EXPECT_FALSE(d.stopping());
    d.update(10);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::time_limit);
  }
  {
    // The run's first task needs only to fit in the budget, without the margin: 8 s of work in a
    // 10 s limit, even when start-up already took 3 s.
    sw::Dispatcher d({{{0}, 0, 1, 8.0}, {{1}, 0, 1, 8.0}}, {2}, 10, 2);
    d.update(3);
    EXPECT_FALSE(d.stopping());
    EXPECT_TRUE(d.assign(0, 3).has_value());
    EXPECT_FALSE(d.assign(0, 3).has_value());  // the second needs the margin: 3 + 8 x 1.5 > 10
  }
  {
    // Start-up used the whole budget: the first task still runs, then the limit stops the run.
    sw::Dispatcher d({{{0}, 0, 1, 2.0}, {{1}, 0, 1, 2.0}}, {1}, 10, 2);
    d.update(11);
    EXPECT_FALSE(d.stopping());
    EXPECT_TRUE(d.assign(0, 11).has_value());
    d.update(12);  // in flight and within its estimate: not stopped, or the run would do nothing
    EXPECT_FALSE(d.stopping());
    d.returned(0);
    d.update(13);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::time_limit);
  }
  {
    // 100 s of work under a 60 s limit: never assigned; with nothing in flight, a budget stop.
    sw::Dispatcher d({{{0}, 0, 1, 100.0}}, {1}, 60, 2);
    EXPECT_FALSE(d.assign(0, 0).has_value());
    d.update(0);
    EXPECT_EQ(d.stop_reason(), sw::StopReason::budget);
    EXPECT_TRUE(d.finished());
  }
}

namespace {
// A task result with the given trials of each cell (values derived from cell and trial).
sw::TaskResult result_of(const sw::Task& task, bool abandoned = false) {
  sw::TaskResult r;
  r.task = task;
  r.abandoned = abandoned;
  r.seconds = 1.0;
  for (std::int64_t cell : task.cells) {
    sw::CellOutcome o;
    o.cell = cell;
    for (std::uint64_t t = task.first_trial; t < task.first_trial + task.trial_count; ++t)
      o.samples.add(t, {0.1 * static_cast<double>(cell) + 0.01 * static_cast<double>(t), 1.0 + static_cast<double>(t)});
    r.outcomes.push_back(std::move(o));
  }
  return r;
}
}  // namespace

TEST(RunStore, CommitsDurablyThenVisiblyAndFreesFinishedCells) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2, 3", "d=4", "n=8", "trials=4"}, "t"));
  const std::string out = temp_path("store.h5"), journal = out + ".journal";
  std::remove(out.c_str());
  std::remove(journal.c_str());
  {
    sw::RunStore store(grid, out, io::SweepState(grid.size()), {}, std::make_unique<io::Journal>(journal, 1), {0, 1, 2},
                       1000);
    // Cell 0 whole in one task; cells 1 and 2 in two halves.
    EXPECT_TRUE(store.accept(result_of({{0}, 0, 4, 1.0})).empty());
    EXPECT_TRUE(store.accept(result_of({{1, 2}, 0, 2, 1.0})).empty());
    EXPECT_EQ(store.cells_in_progress(), 2u);
    EXPECT_EQ(store.state().status[0], 0);  // not durable yet, so not visible
    store.flush();
    EXPECT_EQ(store.journal_commits(), 1u);  // one fdatasync for both results
    EXPECT_EQ(store.state().status[0], 1);
    EXPECT_EQ(store.state().status[1], 0);
    store.accept(result_of({{1, 2}, 2, 2, 1.0}));
    store.flush();
    EXPECT_EQ(store.cells_in_progress(), 0u);  // per-trial data freed once summarised
    EXPECT_EQ(store.state().status[1], 1);
    EXPECT_EQ(store.state().trials[2], 4);
    // The same cell computed in one piece gives bitwise the same summary.
    attnsweep::mc::CellSamples whole = result_of({{1}, 0, 4, 1.0}).outcomes[0].samples;
    EXPECT_EQ(store.state().lambda_mean[1], whole.lambda().mean);
    EXPECT_EQ(store.state().lambda_stderr[1], whole.lambda().std_error);
    store.final_snapshot();
  }
  Replayed seen;
  io::Journal j(journal, 1, seen.visitor());
  EXPECT_EQ(seen.cells.size(), 3u);
  EXPECT_EQ(seen.trials.size(), 2u);  // the first halves of cells 1 and 2
  EXPECT_EQ(io::read_results_file(out).state.count(io::CellStatus::done), 3);
  std::remove(out.c_str());
  std::remove(journal.c_str());
}

TEST(RunStore, RestoresJournaledTrialsAndCountsFailuresOnlyWhenNotAbandoned) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.5", "gamma=1, 2", "d=4", "n=8", "trials=4"}, "t"));
  const std::string out = temp_path("restore.h5"), journal = out + ".journal";
  std::remove(out.c_str());
  std::remove(journal.c_str());
  sw::PartialCells partials;
  for (std::uint64_t t = 0; t < 4; ++t) partials[0].samples.add(t, {0.5, 1.0});  // complete
  partials[1].samples.add(0, {0.25, 2.0});
  partials[1].samples.add(1, {0.25, 2.0});
  sw::RunStore store(grid, out, io::SweepState(grid.size()), std::move(partials),
                     std::make_unique<io::Journal>(journal, 1), {0, 1}, 1000);
  std::vector<sw::Task> tasks = {{{0, 1}, 0, 4, 8.0}};
  EXPECT_EQ(store.restore(tasks), 6u);
  EXPECT_EQ(store.state().status[0], 1);  // finished from the journal alone
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].first_trial, 2u);  // both cells have trials 0, 1; cell 1 lacks 2, 3
  EXPECT_EQ(tasks[0].trial_count, 2u);
  EXPECT_EQ(tasks[0].estimated_seconds, 4.0);
  sw::TaskResult abandoned = result_of({{1}, 2, 2, 1.0}, true);
  abandoned.outcomes[0].ok = false;
  abandoned.outcomes[0].error = "x";
  EXPECT_TRUE(store.accept(abandoned).empty());
  sw::TaskResult failing = result_of({{1}, 2, 2, 1.0});
  failing.outcomes[0].ok = false;
  failing.outcomes[0].error = "boom";
  const auto failed = store.accept(failing);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 1);
  store.give_up(failed[0]);
  store.flush();
  const io::CellRecord r = store.state().record(1);
  EXPECT_EQ(r.status, io::CellStatus::failed);
  EXPECT_EQ(r.error, "boom");
  EXPECT_EQ(store.cells_in_progress(), 0u);
  store.final_snapshot();
  std::remove(out.c_str());
  std::remove(journal.c_str());
}

TEST(LocalWorker, ComputesTasksAndStopsWhenAsked) {
  const sw::Grid grid(io::parse_config(kGood, {"rho=0.3", "gamma=0.5, 1.5", "d=6", "n=40", "trials=3"}, "t"));
  sw::LocalWorker worker(grid);
  worker.submit({{0, 1}, 0, 3, 1.0});
  std::vector<sw::TaskResult> got;
  for (int i = 0; i < 5000 && got.empty(); ++i) {
    worker.collect(got);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(got.size(), 1u);
  const sw::TaskResult alone = sw::run_task(grid, {{0, 1}, 0, 3, 1.0}, {}, [] { return false; });
  EXPECT_EQ(got[0].outcomes[1].samples.eta().mean, alone.outcomes[1].samples.eta().mean);
  EXPECT_FALSE(worker.stopped());
  worker.request_stop();
  for (int i = 0; i < 5000 && !worker.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(worker.stopped());
}
