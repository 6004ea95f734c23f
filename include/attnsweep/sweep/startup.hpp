// The checks and chores of the campaigns' start-up (sweep/campaign.hpp), on rank 0 before
// anything is computed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/grid.hpp"

namespace attnsweep::sweep {

// Rank 0 runs `step` (config, files, memory: every decision is rank 0's) and broadcasts the
// verdict: an InputError there is printed as one line and every rank gets kExitBadInput.
int rank0_decides(const parallel::Environment& mpi, const std::function<void()>& step);

// Refuses (InputError naming the cell or the master, the node, what it needs and has) a job
// whose nodes cannot hold one trial of the grid's largest cell in every computing slot at once,
// plus rank 0's `master_bytes` on its node.
void check_nodes_fit(const std::vector<parallel::NodeShare>& nodes, const Grid& grid, int ranks, double master_bytes);

// "2 nodes (node1: 1, node2: 1)": the hosts of the job and their ranks, for the start-up line.
std::string node_summary(const std::vector<parallel::NodeShare>& nodes);

// Snapshots OUTPUT.tmp.PID left unfinished by a killed run are removed (call with the journal's
// lock held, so that no other run of this output is writing one).
void remove_stale_snapshots(const std::string& output);

// Whether anything (a file, a FIFO, a directory) exists at `path`.
bool file_exists(const std::string& path);

// CPUs this process may run on (its affinity mask, which mpirun sets when it binds ranks).
int cpus_of_this_rank();

// The most memory this process has held, in MB.
double peak_rss_megabytes();

}  // namespace attnsweep::sweep
