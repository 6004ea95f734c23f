// Which ranks compute: ranks 1..P-1 always; rank 0 too, in a thread of its own beside the master,
// when the job is small (P = 1 must work, and P = 2 should keep both cores busy). One rule for
// the master loop, the scheduler's worker count and the per-node memory check.
#pragma once

namespace attnsweep::sweep {

// Rank 0 computes in a thread of its own when the job has at most this many ranks.
inline constexpr int kLocalWorkerMaxRanks = 8;

inline bool rank0_computes(int ranks) { return ranks <= kLocalWorkerMaxRanks; }

// How many workers a job of `ranks` ranks has (rank 0's thread counted when it computes).
inline int computing_workers(int ranks) { return (ranks - 1) + (rank0_computes(ranks) ? 1 : 0); }

}  // namespace attnsweep::sweep
