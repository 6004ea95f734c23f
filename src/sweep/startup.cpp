#include "attnsweep/sweep/startup.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/exit_codes.hpp"
#include "attnsweep/sweep/topology.hpp"

namespace attnsweep::sweep {

int rank0_decides(const parallel::Environment& mpi, const std::function<void()>& step) {
  int verdict = kExitOk;
  if (mpi.rank() == 0) {
    try {
      step();
    } catch (const io::InputError& e) {
      std::fprintf(stderr, "attnsweep: %s\n", e.what());
      verdict = kExitBadInput;
    }
  }
  parallel::broadcast(verdict, 0);
  return verdict;
}

// The cell whose trial needs the most memory (the same for every cell of a cost class).
namespace {
mc::CellParams largest_cell(const Grid& grid) {
  mc::CellParams largest = grid.cell(0);
  for (std::int64_t k = 1; k < grid.cost_classes(); ++k) {
    const mc::CellParams cell = grid.cell(k);
    if (mc::trial_memory_bytes(cell) > mc::trial_memory_bytes(largest)) largest = cell;
  }
  return largest;
}
}  // namespace

// Refuses (InputError) a job whose nodes cannot hold one trial of the largest cell in every
// computing slot at once, plus rank 0's `master_bytes` on its node.
void check_nodes_fit(const std::vector<parallel::NodeShare>& nodes, const Grid& grid, int ranks, double master_bytes) {
  const mc::CellParams largest = largest_cell(grid);
  const double trial = mc::trial_memory_bytes(largest);
  const bool local_worker = rank0_computes(ranks);
  for (const parallel::NodeShare& node : nodes) {
    const int slots = node.ranks - (node.has_rank0 ? 1 : 0) + (node.has_rank0 && local_worker ? 1 : 0);
    const double master = node.has_rank0 ? master_bytes : 0.0;
    const double need = node_memory_bytes(slots, trial, master);
    if (need <= 0.9 * node.available_bytes) continue;
    char msg[512];
    if (master > 0.5 * node.available_bytes) {
      std::snprintf(msg, sizeof msg,
                    "rank 0 would keep %.1f GiB of results and per-trial values, but node %s has %.1f GiB "
                    "available: use fewer cells, searches or trials, or split the grid",
                    master / (1 << 30), node.host.c_str(), node.available_bytes / (1 << 30));
      throw io::InputError(msg);
    }
    const long fits = trial > 0 ? static_cast<long>(std::max(0.0, 0.9 * node.available_bytes - master) / trial) : 0;
    std::snprintf(msg, sizeof msg,
                  "the largest cell (d = %ld, n = %ld) needs %.2f GiB per trial; node %s runs %d computing ranks "
                  "and needs %.1f GiB but has %.1f GiB available: run at most %ld computing ranks per node, or "
                  "drop n = %ld from the grid",
                  largest.d, largest.n, trial / (1 << 30), node.host.c_str(), slots, need / (1 << 30),
                  node.available_bytes / (1 << 30), fits, largest.n);
    throw io::InputError(msg);
  }
}

std::string node_summary(const std::vector<parallel::NodeShare>& nodes) {
  std::string text = std::to_string(nodes.size()) + (nodes.size() == 1 ? " node (" : " nodes (");
  for (size_t i = 0; i < nodes.size(); ++i) {
    text += (i ? ", " : "") + nodes[i].host + ": " + std::to_string(nodes[i].ranks);
    if (i == 4 && nodes.size() > 6) return text + ", ... " + std::to_string(nodes.size() - 5) + " more)";
  }
  return text + ")";
}

// Snapshots are written to OUTPUT.tmp.PID and renamed; one left by a killed run is garbage.
// Only called while holding the journal lock, so no other run of this output is writing one.
void remove_stale_snapshots(const std::string& output) {
  const std::filesystem::path path(output);
  const std::string prefix = path.filename().string() + io::kTemporaryInfix;
  std::error_code error;
  const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      std::filesystem::remove(entry.path(), error);
      std::fprintf(stderr, "[attnsweep] removed %s, a snapshot left unfinished by a killed run\n",
                   entry.path().c_str());
    }
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int cpus_of_this_rank() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1024;
  return CPU_COUNT(&set);
}

double peak_rss_megabytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace attnsweep::sweep
