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
