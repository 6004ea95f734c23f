// The rules on user-given paths (io/paths.hpp), the journal's owner check and the critical
// search's evaluation bound: each against a case built for it in a scratch folder.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/sweep/critical.hpp"

namespace io = attnsweep::io;
namespace fs = std::filesystem;

namespace {
// A fresh folder, removed with everything in it at the end of the test.
struct ScratchFolder {
  ScratchFolder() {
    char name[] = "/tmp/attnsweep-paths.XXXXXX";
    path = ::mkdtemp(name);
  }
  ~ScratchFolder() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

void touch(const std::string& path) { std::ofstream(path) << "x"; }

// The message of the InputError that `action` throws ("" if it throws none).
template <class F>
std::string refusal(F action) {
  try {
    action();
  } catch (const io::InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Paths, OnlyRegularFilesAreInputs) {
  ScratchFolder dir;
  touch(dir / "file.h5");
  ASSERT_EQ(::mkfifo((dir / "fifo.h5").c_str(), 0644), 0);
  fs::create_directory(dir / "folder.h5");
  EXPECT_EQ(refusal([&] { io::require_regular_file(dir / "file.h5", ""); }), "");
  EXPECT_NE(refusal([&] { io::require_regular_file(dir / "fifo.h5", ""); }).find("is a FIFO"), std::string::npos);
  EXPECT_NE(refusal([&] { io::require_regular_file(dir / "folder.h5", ""); }).find("is a directory"),
            std::string::npos);
  EXPECT_NE(refusal([&] { io::require_regular_file("/dev/zero", ""); }).find("character device"), std::string::npos);
  EXPECT_NE(refusal([&] { io::require_regular_file(dir / "none.h5", "config file"); }).find("no such file"),
            std::string::npos);
  // A symlink to a regular file is that file.
  fs::create_symlink(dir / "file.h5", dir / "link.h5");
  EXPECT_EQ(refusal([&] { io::require_regular_file(dir / "link.h5", ""); }), "");
}

TEST(Paths, OutputResolution) {
  ScratchFolder dir;
  fs::create_directory(dir / "real");
  fs::create_symlink(dir / "real/target.h5", dir / "dangling.h5");
  // A dangling link resolves to its target: where the user wants the file.
  EXPECT_EQ(io::resolve_output_path(dir / "dangling.h5"), fs::weakly_canonical(dir / "real/target.h5").string());
  fs::create_symlink(dir / "b", dir / "a");
  fs::create_symlink(dir / "a", dir / "b");
  EXPECT_NE(refusal([&] { io::resolve_output_path(dir / "a"); }).find("symlink loop"), std::string::npos);
  EXPECT_NE(refusal([&] { io::resolve_output_path(""); }).find("empty"), std::string::npos);
}

TEST(Paths, EveryCompanionNameMustFit) {
  ScratchFolder dir;
  const long name_max = ::pathconf(dir.path.c_str(), _PC_NAME_MAX);
  ASSERT_GT(name_max, 20);
  // The temporary NAME.tmp.PID is the longest companion: 5 + 10 characters at most.
  const std::string fits(static_cast<size_t>(name_max) - 15, 'a'), too_long(static_cast<size_t>(name_max) - 14, 'a');
  EXPECT_EQ(refusal([&] { io::check_output_path(dir / fits); }), "");
  EXPECT_NE(refusal([&] { io::check_output_path(dir / too_long); }).find("too long"), std::string::npos);
  EXPECT_EQ(io::journal_path_of("x.h5"), "x.h5.journal");
  EXPECT_EQ(io::temporary_path_of("x.h5"), "x.h5.tmp." + std::to_string(::getpid()));
}

TEST(Paths, OutputsAndJournalsMustBeRegularFiles) {
  ScratchFolder dir;
  ASSERT_EQ(::mkfifo((dir / "f.h5").c_str(), 0644), 0);
  EXPECT_NE(refusal([&] { io::check_output_path(dir / "f.h5"); }).find("is a FIFO"), std::string::npos);
  ASSERT_EQ(::mkfifo((dir / "g.h5.journal").c_str(), 0644), 0);
  EXPECT_NE(refusal([&] { io::check_output_path(dir / "g.h5"); }).find("journal"), std::string::npos);
  // Opening the FIFO journal directly is refused too, without blocking.
  EXPECT_NE(refusal([&] { io::Journal journal(dir / "g.h5.journal", 1); }).find("not a regular file"),
            std::string::npos);
  EXPECT_NE(refusal([&] { io::check_output_path(dir / "missing-folder/x.h5"); }).find("does not exist"),
            std::string::npos);
}

TEST(Journal, OneDifferingByteIsDamageNotAnotherConfig) {
  ScratchFolder dir;
  const std::uint64_t hash = 0x0123456789abcdefull;
  { io::Journal journal(dir / "j", hash); }
  EXPECT_EQ(refusal([&] { io::Journal::require_owner(dir / "j", hash, "sweep"); }), "");
  // One byte differs (any bit pattern within it): damage.
  EXPECT_NE(
      refusal([&] { io::Journal::require_owner(dir / "j", hash ^ 0x0000ff0000000000ull, "sweep"); }).find("is damaged"),
      std::string::npos);
  // Two bytes differ: another config.
  const std::string other =
      refusal([&] { io::Journal::require_owner(dir / "j", hash ^ 0x0100000000000001ull, "sweep"); });
  EXPECT_NE(other.find("belongs to a sweep with another config"), std::string::npos);
  // No journal yet: nothing to refuse.
  EXPECT_EQ(refusal([&] { io::Journal::require_owner(dir / "none", hash, "sweep"); }), "");
}

TEST(CriticalSearch, MaxEvaluationsBoundsEverySearch) {
  namespace sweep = attnsweep::sweep;
  // Linear curves whose crossings sit anywhere in the range, at several tolerances: the search
  // never evaluates more gammas than the bound used to plan its memory.
  for (double tolerance : {1e-2, 1e-4, 1e-7}) {
    for (double crossing : {0.501, 1.0, 3.7, 7.999}) {
      sweep::CriticalSettings s;
      s.gamma_low = 0.5;
      s.gamma_high = 8;
      s.target = 0.5;
      s.tolerance = tolerance;
      s.trials = 4;
      s.resamples = 20;
      sweep::CriticalSearch search(s);
      for (int guard = 0; !search.finished() && guard < 2000; ++guard)
        for (double gamma : search.wanted()) {
          std::vector<double> lambda;
          for (int t = 0; t < 4; ++t) lambda.push_back(0.5 + 0.1 * (gamma - crossing) + 0.001 * (t - 1.5));
          if (!search.finished()) search.provide(gamma, lambda);
        }
      ASSERT_TRUE(search.finished());
      EXPECT_LE(static_cast<long>(search.evaluations().size()), sweep::max_evaluations(s))
          << "tolerance " << tolerance << ", crossing " << crossing;
    }
  }
}
