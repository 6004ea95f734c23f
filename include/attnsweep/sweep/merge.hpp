// `attnsweep merge`: the slices of one sweep (run with --slice, or on separate machines) as one
// state. A finished cell (done or undefined) beats failed beats missing; two finished records of
// one cell must be bitwise equal (the sweep is deterministic), else the files are refused.
#pragma once

#include <string>
#include <vector>

#include "attnsweep/io/results_file.hpp"

namespace attnsweep::sweep {

// The merged state of `files` (all of one sweep: the caller checks their config hashes);
// `names` name them in messages. InputError when two files disagree on a finished cell.
io::SweepState merge_states(const std::vector<io::ResultsFile>& files, const std::vector<std::string>& names);

}  // namespace attnsweep::sweep
