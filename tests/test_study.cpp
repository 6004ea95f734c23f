// The study's shape: geometric ranges, and what a study may grow by (sweep/growth.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/growth.hpp"

namespace io = attnsweep::io;
namespace sw = attnsweep::sweep;

namespace {
const char* const kSmall = "[grid]\nrho = 0.2, 0.5\ngamma = 0.5, 1, 2\nd = 4\nn = 16, 32\n[mc]\ntrials = 4\nseed = 7\n";

io::SweepConfig small(const std::vector<std::string>& overrides = {}) {
  return io::parse_config(kSmall, overrides, "small.ini");
}

// The message of the InputError `plan_growth` throws, or "" if it throws none.
std::string refusal(const io::SweepConfig& from, const io::SweepConfig& to) {
  try {
    (void)sw::plan_growth(from, to, "out.h5");
  } catch (const io::InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(GeometricRange, IntegerAxisDoublesUpToStop) {
  EXPECT_EQ(io::parse_integer_axis("grid.n", "64:16384:*2"),
            (std::vector<long>{64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}));
  EXPECT_EQ(io::parse_integer_axis("grid.n", "3:100:*3"), (std::vector<long>{3, 9, 27, 81}));
  EXPECT_EQ(io::parse_integer_axis("grid.n", "5:5:*2"), (std::vector<long>{5}));
}

TEST(GeometricRange, RealAxisIncludesStopOnTheLattice) {
  EXPECT_EQ(io::parse_real_axis("grid.gamma", "0.25:4:*2"), (std::vector<double>{0.25, 0.5, 1, 2, 4}));
  // Powers, not repeated products: 0.1 * 10^k is the double of typing it.
  EXPECT_EQ(io::parse_real_axis("grid.gamma", "0.1:1000:*10"), (std::vector<double>{0.1, 1, 10, 100, 1000}));
}

TEST(GeometricRange, SameSweepAsTheListSpelledOut) {
  EXPECT_EQ(io::parse_config(kSmall, {"grid.n=16:64:*2"}, "a").hash(),
            io::parse_config(kSmall, {"grid.n=16, 32, 64"}, "b").hash());
}

TEST(GeometricRange, RefusesBadFactorsNamingTheKey) {
  for (const char* text : {"64:1024:*1", "0:64:*2", "64:16:*2", "64:1024:*x", "64:1024:*", "64:1024:*2.5"}) {
    try {
      (void)io::parse_integer_axis("grid.n", text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("grid.n"), std::string::npos) << e.what();
    }
  }
  for (const char* text : {"0.5:8:*1", "0.5:8:*0.5", "0:8:*2", "-1:8:*2"}) {
    EXPECT_THROW((void)io::parse_real_axis("grid.gamma", text), io::InputError) << text;
  }
}

TEST(Growth, SameConfigIsNoGrowth) {
  EXPECT_FALSE(sw::plan_growth(small(), small({"grid.n=16,32"}), "out.h5").has_value());
}

TEST(Growth, MapsEveryOldCellToTheCellWithTheSameValues) {
  const io::SweepConfig from = small();
  const io::SweepConfig to = small({"grid.rho=0.8, 0.5, 0.2", "grid.n=64, 32, 16", "grid.gamma=2, 1, 0.5, 4"});
  const std::optional<sw::Growth> growth = sw::plan_growth(from, to, "out.h5");
  ASSERT_TRUE(growth.has_value());
  EXPECT_FALSE(growth->more_trials());
  const sw::Grid old_grid(from), new_grid(to);
  std::vector<bool> hit(static_cast<size_t>(new_grid.size()), false);
  for (std::int64_t cell = 0; cell < old_grid.size(); ++cell) {
    const std::int64_t mapped = growth->map(cell);
    ASSERT_GE(mapped, 0);
    ASSERT_LT(mapped, new_grid.size());
    EXPECT_FALSE(hit[static_cast<size_t>(mapped)]) << "two cells mapped to " << mapped;
    hit[static_cast<size_t>(mapped)] = true;
    const auto a = old_grid.cell(cell), b = new_grid.cell(mapped);
    EXPECT_EQ(a.rho, b.rho);
    EXPECT_EQ(a.gamma, b.gamma);
    EXPECT_EQ(a.d, b.d);
    EXPECT_EQ(a.n, b.n);
  }
}

TEST(Growth, MoreTrialsAloneIsGrowth) {
  const auto growth = sw::plan_growth(small(), small({"mc.trials=9"}), "out.h5");
  ASSERT_TRUE(growth.has_value());
  EXPECT_TRUE(growth->more_trials());
  EXPECT_EQ(growth->map(5), 5);
}

TEST(Growth, RefusesEveryOtherDifferenceNamingKeyAndBothValues) {
  const std::string seed = refusal(small(), small({"mc.seed=8", "grid.n=16,32,64"}));
  EXPECT_NE(seed.find("mc.seed: file 7, config 8"), std::string::npos) << seed;
  EXPECT_EQ(seed.find("grid.n"), std::string::npos) << "growth named as a difference: " << seed;
  const std::string lost = refusal(small(), small({"grid.n=16, 64", "grid.rho=0.5"}));
  EXPECT_NE(lost.find("grid.n: the config lacks the file's 32"), std::string::npos) << lost;
  EXPECT_NE(lost.find("grid.rho: the config lacks the file's 0.2"), std::string::npos) << lost;
  const std::string fewer = refusal(small(), small({"mc.trials=2"}));
  EXPECT_NE(fewer.find("mc.trials: file 4, config 2"), std::string::npos) << fewer;
  const std::string scale = refusal(small(), small({"grid.gamma-scale=critical"}));
  EXPECT_NE(scale.find("gamma-scale"), std::string::npos) << scale;
  const std::string probes = refusal(small(), small({"mc.jacobian=hutchinson", "mc.trials=8"}));
  EXPECT_NE(probes.find("mc.jacobian: file exact, config hutchinson"), std::string::npos) << probes;
  EXPECT_EQ(probes.find("mc.trials"), std::string::npos) << probes;
}

namespace {
const char* const kSwept =
    "[grid]\nrho = 0.2, 0.5\ngamma = 1, 2, 4\nd = 8\nn = 16, 32\nlayers = 1, 2, 4\nscaling = log, sqrt-log\n"
    "[mc]\njacobian = hutchinson\ntrials = 3\nseed = 5\n";
}  // namespace

TEST(SweptParameters, BecomeAxesAfterTheFixedOnesInRegistryOrder) {
  const io::SweepConfig c = io::parse_config(kSwept, {"grid.alpha=0, 0.5"}, "swept.ini");
  const std::vector<io::Axis> axes = io::study_axes(c);
  ASSERT_EQ(axes.size(), 7u);
  const char* names[] = {"rho", "gamma", "d", "n", "alpha", "layers", "scaling"};
  for (size_t a = 0; a < axes.size(); ++a) EXPECT_EQ(axes[a].name, names[a]);
  EXPECT_EQ(axes[5].kind, io::Axis::Kind::integer);
  EXPECT_EQ(axes[6].labels, (std::vector<std::string>{"log", "sqrt-log"}));
  EXPECT_EQ(io::cell_count(c), 2.0 * 3 * 1 * 2 * 2 * 3 * 2);
}

TEST(SweptParameters, CanonicalTextRoundTripsAndKeepsOldConfigsIdentity) {
  const io::SweepConfig c = io::parse_config(kSwept, {}, "swept.ini");
  const std::string text = c.canonical_text();
  EXPECT_NE(text.find("[grid]\nrho = 0.2, 0.5\ngamma = 1, 2, 4\nd = 8\nn = 16, 32\ngamma-scale = absolute\n"
                      "layers = 1, 2, 4\nscaling = log, sqrt-log\n[mc]"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\nlayers = 1\n"), std::string::npos) << "a swept parameter's scalar is not in the text";
  EXPECT_EQ(io::parse_config(text, {}, "again").canonical_text(), text);
  // A config without swept parameters has the text (and hash) it always had.
  const io::SweepConfig plain = io::parse_config(kSwept, {"grid.layers=1"}, "t");
  EXPECT_NE(plain.canonical_text(), io::parse_config("[grid]\nrho=0.2,0.5\ngamma=1,2,4\nd=8\nn=16,32\n"
                                                     "scaling = log, sqrt-log\n[mc]\njacobian=hutchinson\n"
                                                     "trials=3\nseed=5\n",
                                                     {}, "u")
                                        .canonical_text())
      << "an axis of one value is still an axis (a dimension of the file)";
}

TEST(SweptParameters, RefusedNamingTheKey) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"mc.layers=2"}, "grid.layers and mc.layers both given"},
      {{"mc.jacobian=exact"}, "grid.layers = 2: needs mc.jacobian = hutchinson"},
      {{"grid.layers=0, 1"}, "grid.layers = 0"},
      {{"grid.layers=1, 1"}, "repeated value 1"},
      {{"grid.scaling=log, cubic"}, "cubic"},
      {{"grid.scaling=log,"}, "grid.scaling"},
      {{"grid.alpha=0, x"}, "grid.alpha"},
  };
  for (const auto& [overrides, expected] : cases) {
    try {
      (void)io::parse_config(kSwept, overrides, "swept.ini");
      ADD_FAILURE() << "accepted " << overrides[0];
    } catch (const io::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

TEST(NdGrid, FlatIndexIsCOrderOverEveryAxisAndCellsTakeTheirValues) {
  const sw::Grid grid(io::parse_config(kSwept, {"grid.alpha=0, 0.5"}, "swept.ini"));
  const std::vector<std::int64_t> shape = grid.shape();
  ASSERT_EQ(shape, (std::vector<std::int64_t>{2, 3, 1, 2, 2, 3, 2}));
  std::int64_t expected = 0;
  std::vector<std::int64_t> at(shape.size(), 0);
  // Walk the grid in C order (last axis fastest) and compare with the flat index.
  for (; expected < grid.size(); ++expected) {
    ASSERT_EQ(grid.flat(at), expected);
    ASSERT_EQ(grid.coordinates(expected), at);
    const auto p = grid.cell(expected);
    EXPECT_EQ(p.rho, (std::vector<double>{0.2, 0.5})[static_cast<size_t>(at[0])]);
    EXPECT_EQ(p.gamma, (std::vector<double>{1, 2, 4})[static_cast<size_t>(at[1])]);
    EXPECT_EQ(p.n, (std::vector<long>{16, 32})[static_cast<size_t>(at[3])]);
    EXPECT_EQ(p.alpha, (std::vector<double>{0, 0.5})[static_cast<size_t>(at[4])]);
    EXPECT_EQ(p.layers, (std::vector<long>{1, 2, 4})[static_cast<size_t>(at[5])]);
    EXPECT_EQ(p.scaling, at[6] == 0 ? attnsweep::model::ScalingLaw::log : attnsweep::model::ScalingLaw::sqrt_log);
    for (size_t a = shape.size(); a-- > 0;) {
      if (++at[a] < shape[a]) break;
      at[a] = 0;
    }
  }
}

TEST(NdGrid, DrawGroupsDifferOnlyInGammaAndCostClassesOnlyInRhoAndGamma) {
  const sw::Grid grid(io::parse_config(kSwept, {}, "swept.ini"));
  for (std::int64_t a = 0; a < grid.size(); ++a) {
    for (std::int64_t b = 0; b < grid.size(); ++b) {
      auto ca = grid.coordinates(a), cb = grid.coordinates(b);
      ca[sw::kGammaAxis] = cb[sw::kGammaAxis] = 0;
      ASSERT_EQ(grid.draw_group(a) == grid.draw_group(b), ca == cb) << a << " " << b;
      ca[sw::kRhoAxis] = cb[sw::kRhoAxis] = 0;
      ASSERT_EQ(grid.cost_class(a) == grid.cost_class(b), ca == cb) << a << " " << b;
    }
  }
  // Class k's first cell is cell k.
  for (std::int64_t k = 0; k < grid.cost_classes(); ++k) ASSERT_EQ(grid.cost_class(k), k);
}

TEST(Growth, AFixedParameterMayBecomeAnAxisHoldingItsValue) {
  const io::SweepConfig from = io::parse_config(kSwept, {"grid.layers=", "mc.layers=2"}, "t");
  EXPECT_FALSE(io::is_swept(from, "layers"));
  const io::SweepConfig to = io::parse_config(kSwept, {"grid.layers=4, 2"}, "t");
  const auto growth = sw::plan_growth(from, to, "out.h5");
  ASSERT_TRUE(growth.has_value());
  const sw::Grid old_grid(from), new_grid(to);
  for (std::int64_t cell = 0; cell < old_grid.size(); ++cell) {
    const auto p = new_grid.cell(growth->map(cell));
    EXPECT_EQ(p.layers, 2);
    EXPECT_EQ(p.gamma, old_grid.cell(cell).gamma);
    EXPECT_EQ(p.scaling, old_grid.cell(cell).scaling);
  }
  const std::string lost = refusal(from, io::parse_config(kSwept, {"grid.layers=1, 4"}, "t"));
  EXPECT_NE(lost.find("grid.layers: the config lacks the file's 2"), std::string::npos) << lost;
  const std::string fixed = refusal(to, io::parse_config(kSwept, {"grid.layers=", "mc.layers=2"}, "t"));
  EXPECT_NE(fixed.find("grid.layers"), std::string::npos) << fixed;
}
