#include "attnsweep/sweep/merge.hpp"

#include <cstring>

#include "attnsweep/io/config.hpp"

namespace attnsweep::sweep {

io::SweepState merge_states(const std::vector<io::ResultsFile>& files, const std::vector<std::string>& names) {
  io::SweepState merged = files[0].state;
  merged.keep_trials(static_cast<std::int32_t>(files[0].config.trials));
  for (size_t i = 1; i < files.size(); ++i) {
    for (std::int64_t c = 0; c < merged.size(); ++c) {
      const auto k = static_cast<size_t>(c);
      const io::CellRecord theirs = files[i].state.record(c);
      const auto mine = static_cast<io::CellStatus>(merged.status[k]);
      // A finished cell (done or undefined) beats failed beats missing; two finished records of
      // one cell are bitwise equal by design, so two that differ mean one file is damaged or was
      // computed by another build.
      const auto finished = [](io::CellStatus st) {
        return st == io::CellStatus::done || st == io::CellStatus::undefined;
      };
      bool same = theirs.status == mine && theirs.trials == merged.trials[k];
      for (size_t o = 0; o < mc::kObservableCount; ++o)
        same = same && std::memcmp(&theirs.observables[o].mean, &merged.observables[o].mean[k], sizeof(double)) == 0;
      if (finished(theirs.status) && finished(mine) && !same) {
        throw io::InputError(
            "cell " + std::to_string(c) + " is finished in " + names[i] + " and in an earlier input " +
            "with different values; the files do not come from one deterministic sweep (run verify on each)");
      }
      if (finished(theirs.status) && !finished(mine)) merged.apply(theirs);
      if (theirs.status == io::CellStatus::failed && mine == io::CellStatus::missing) merged.apply(theirs);
    }
  }
  return merged;
}

}  // namespace attnsweep::sweep
