// The config reader: the paper's workload, overrides, the hash, and bad input named by key.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "engine_helpers.hpp"

namespace io = attnsweep::io;
using namespace engine_test;

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

// mc.cache-mb: the kernel's cache is part of a study (cached and recomputed products can differ in
// the last bit); its default stays out of the canonical text, so every older config keeps its hash.
TEST(Config, CacheBudgetIsPartOfTheStudyOnlyWhenSet) {
  const io::SweepConfig plain = io::parse_config(kGood, {}, "a");
  EXPECT_EQ(plain.cache_mb, io::kDefaultCacheMiB);
  EXPECT_EQ(plain.canonical_text().find("cache-mb"), std::string::npos);
  EXPECT_EQ(io::parse_config(kGood, {"mc.cache-mb=256"}, "a").hash(), plain.hash());
  const io::SweepConfig larger = io::parse_config(kGood, {"mc.cache-mb=1024"}, "a");
  EXPECT_NE(larger.hash(), plain.hash());
  EXPECT_EQ(io::parse_config(larger.canonical_text(), {}, "again").cache_mb, 1024);
  EXPECT_EQ(attnsweep::sweep::Grid(larger).cell(0).cache_bytes, std::size_t{1024} << 20);
  for (const char* bad : {"mc.cache-mb=-1", "mc.cache-mb=abc", "mc.cache-mb=2000000", "mc.cache-mb=1.5"}) {
    try {
      io::parse_config(kGood, {bad}, "a");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("mc.cache-mb"), std::string::npos) << e.what();
    }
  }
}

// A sweep's position (mc.position, grid.position) joins the identity only when not `whole`; `all`
// expands to whole and every bucket of the largest n, the same study as the list spelled out; the
// position axis is the last, and its cells share their draw group (one evaluation per gamma).
TEST(Config, PositionIsAnAxisOfItsOwnAndPartOfTheIdentityOnlyWhenSet) {
  namespace model = attnsweep::model;
  const io::SweepConfig plain = io::parse_config(kGood, {}, "a");
  EXPECT_EQ(io::parse_config(kGood, {"mc.position=whole"}, "a").hash(), plain.hash());
  const io::SweepConfig last = io::parse_config(kGood, {"mc.position=last"}, "a");
  EXPECT_NE(last.hash(), plain.hash());
  EXPECT_EQ(io::parse_config(last.canonical_text(), {}, "again").position, model::kLastBucket);
  const io::SweepConfig all =
      io::parse_config(kGood, {"grid.n=8,40", "grid.position=all", "grid.mask=none,causal"}, "a");
  const io::SweepConfig listed =
      io::parse_config(kGood, {"grid.n=8,40", "grid.position=whole,0,1,2,3,4,5", "grid.mask=none,causal"}, "a");
  EXPECT_EQ(all.hash(), listed.hash());  // n = 40: tokens 0..39, buckets 0..5 (32..39 the last)
  const attnsweep::sweep::Grid grid(all);
  EXPECT_EQ(grid.axes().back().name, "position");
  const std::int64_t positions = grid.axes().back().size();
  EXPECT_EQ(positions, 1 + model::position_buckets(40));
  EXPECT_EQ(grid.positions_per_evaluation(), positions);
  // Cells that differ in gamma and position only share a draw group; the mask splits them.
  const std::int64_t cell = grid.size() - 1, group = grid.draw_group(cell);
  EXPECT_EQ(grid.cell(group).position, model::kWholeSequence);
  EXPECT_EQ(grid.cell(group).mask, grid.cell(cell).mask);
  EXPECT_EQ(grid.cell(group).gamma, grid.cell(0).gamma);
  EXPECT_NE(grid.draw_group(cell - positions), group);  // the other mask
  EXPECT_EQ(grid.cell(cell).position, model::position_buckets(40) - 1);
  const std::vector<std::vector<std::string>> bad = {{"mc.position=first"},
                                                     {"mc.position=-1"},
                                                     {"mc.position=63"},
                                                     {"grid.position=all,1"},
                                                     {"grid.position=1,1"},
                                                     {"grid.position=10"},
                                                     {"grid.position=whole", "mc.position=last"}};
  for (const auto& overrides : bad)
    EXPECT_THROW(io::parse_config(kGood, overrides, "a"), io::InputError) << overrides.back();
}

// The mask, the training length and the critical search's positions join a config's identity only
// when they are not the defaults (every older config keeps its hash), and survive the canonical text.
TEST(Config, MaskTrainLengthAndPositionsArePartOfTheIdentityOnlyWhenSet) {
  const io::SweepConfig plain = io::parse_config(kGood, {}, "a");
  EXPECT_EQ(io::parse_config(kGood, {"mc.mask=none"}, "a").hash(), plain.hash());
  const io::SweepConfig causal = io::parse_config(kGood, {"mc.mask=causal"}, "a");
  EXPECT_NE(causal.hash(), plain.hash());
  EXPECT_EQ(io::parse_config(causal.canonical_text(), {}, "again").hash(), causal.hash());
  EXPECT_EQ(attnsweep::sweep::Grid(causal).cell(0).mask, attnsweep::model::Mask::causal);
  const io::SweepConfig qwen = io::parse_config(kGood, {"mc.scaling=qwen-logn", "mc.train-length=1024"}, "a");
  const io::SweepConfig again = io::parse_config(qwen.canonical_text(), {}, "again");
  EXPECT_EQ(again.train_length, 1024);
  EXPECT_EQ(again.hash(), qwen.hash());
  EXPECT_NE(io::parse_config(kGood, {"mc.scaling=qwen-logn", "mc.train-length=512"}, "a").hash(), qwen.hash());
  EXPECT_EQ(attnsweep::sweep::Grid(qwen).cell(0).train_length, 1024.0);
  const io::SweepConfig swept = io::parse_config(kGood, {"grid.mask=none,causal"}, "a");
  EXPECT_EQ(attnsweep::sweep::Grid(swept).axes().back().name, "mask");
  EXPECT_EQ(io::parse_config(swept.canonical_text(), {}, "again").hash(), swept.hash());
  // critical.position: the search's identity, not the sweep's.
  const io::SweepConfig positions = io::parse_config(kGood, {"critical.position=all"}, "a");
  EXPECT_EQ(positions.hash(), plain.hash());
  EXPECT_NE(positions.critical_hash(), plain.critical_hash());
  EXPECT_EQ(io::parse_config(kGood, {"critical.position=whole"}, "a").critical_hash(), plain.critical_hash());
  const std::vector<std::vector<std::string>> bad = {{"mc.mask=causl"},
                                                     {"mc.scaling=qwen-logn", "mc.train-length=1"},
                                                     {"mc.scaling=qwen-logn"},
                                                     {"mc.train-length=64"},
                                                     {"critical.position=middle"}};
  for (const auto& overrides : bad)
    EXPECT_THROW(io::parse_config(kGood, overrides, "a"), io::InputError) << overrides.back();
}
