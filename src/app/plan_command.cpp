// `attnsweep plan`: what a sweep costs before it runs (cells, core-seconds, the costliest cells,
// memory per node, wall time by rank count), from the kernel's cost model calibrated here.
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <tuple>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/kernel.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

namespace {

// One cost class of the grid (cells that differ only in rho and gamma cost the same).
struct ClassCost {
  mc::CellParams cell;
  double seconds = 0, bytes = 0;  // one trial on one thread
};

// The products of one draw group (every gamma of one trial's token draw): the draw's caches once,
// then each gamma.
double group_flops(const mc::CellParams& cell, long gammas) {
  const double shared = mc::draw_flops(cell);
  return shared + static_cast<double>(gammas) * (mc::trial_flops(cell) - shared);
}

struct Estimate {
  std::vector<ClassCost> classes;  // costliest first
  double total = 0, largest_trial = 0, peak_memory = 0;
  double flops = 0;  // the products' floating-point operations (mc::trial_flops), draw groups' shared work once
};

Estimate estimate(const sweep::Grid& grid, const sweep::CostModel& cost) {
  Estimate e;
  // A cost class is every (rho, gamma) of the other axes' values; a draw group every gamma of one
  // rho: a task computes a trial of all its gammas on one token draw (common random numbers).
  const auto gammas = static_cast<long>(grid.config().gamma.size());
  // The cells of a position axis read one evaluation: each class (one position) counts its share.
  const double groups_per_class = static_cast<double>(grid.size() / grid.cost_classes()) / static_cast<double>(gammas) /
                                  static_cast<double>(grid.positions_per_evaluation());
  for (std::int64_t k = 0; k < grid.cost_classes(); ++k) {
    const mc::CellParams cell = grid.cell(k);
    const double t = cost.trial_seconds(cell);  // core-seconds of one cell's trial alone
    const double trials = static_cast<double>(grid.config().trials) * groups_per_class;
    e.total += cost.group_trial_seconds(cell, gammas) * trials;
    e.flops += group_flops(cell, gammas) * trials;
    e.largest_trial = std::max(e.largest_trial, t);
    e.peak_memory = std::max(e.peak_memory, mc::trial_memory_bytes(cell));
    e.classes.push_back({cell, t, mc::trial_memory_bytes(cell)});
  }
  std::stable_sort(e.classes.begin(), e.classes.end(),
                   [](const ClassCost& a, const ClassCost& b) { return a.seconds > b.seconds; });
  return e;
}

// The costliest (d, n, layers): where the time goes, and for the exact method what it costs
// against Hutchinson (its quartic term grows as n^2 d^2 or n^3; MODEL.md section 4).
void print_costliest(const Estimate& e, const sweep::CostModel& cost) {
  std::printf("  costliest cells, one trial on one thread:\n");
  std::printf("  %8s %8s %6s %12s %12s %s\n", "d", "n", "layers", "trial [s]", "memory [GiB]", "jacobian");
  std::vector<std::tuple<long, long, long>> shown;
  for (const ClassCost& c : e.classes) {
    const mc::CellParams& cell = c.cell;
    // alpha and the scaling law do not change the cost: one line per (d, n, layers).
    const auto key = std::make_tuple(cell.d, cell.n, cell.layers);
    if (std::find(shown.begin(), shown.end(), key) != shown.end()) continue;
    if (shown.size() == 5) break;
    shown.push_back(key);
    mc::CellParams other = cell;
    other.jacobian =
        cell.jacobian == mc::JacobianMethod::exact ? mc::JacobianMethod::hutchinson : mc::JacobianMethod::exact;
    char note[160];
    if (cell.jacobian == mc::JacobianMethod::exact) {
      std::snprintf(note, sizeof note, " (quartic term by %s; %.2fx the time of %ld Hutchinson probes)",
                    model::quartic_route(cell.n, cell.d) == model::QuarticRoute::packed ? "packed products" : "G o G",
                    c.seconds / cost.trial_seconds(other), cell.probes);
    } else if (cell.layers > 1) {
      std::snprintf(note, sizeof note, " (%ld probes through %ld layers)", cell.probes, cell.layers);
    } else {
      std::snprintf(note, sizeof note, " (%ld probes; exact would take %.2fx this)", cell.probes,
                    cost.trial_seconds(other) / c.seconds);
    }
    std::printf("  %8ld %8ld %6ld %12.3g %12.3f %s%s\n", cell.d, cell.n, cell.layers, c.seconds, c.bytes / (1 << 30),
                mc::jacobian_name(cell.jacobian), note);
  }
}

// Where the kernel's cache (mc.cache-mb) is too small to hold a Hutchinson trial's Gram and probe
// rows, the products it recomputes per gamma: say what a larger cache would save and cost, and
// whether ranks_per_node trials of it fit this machine. Only a suggestion: the budget is part of
// the study (cached and recomputed values can differ in the last bit).
void print_cache_hint(const Estimate& e, long ranks_per_node, long gammas) {
  for (const ClassCost& c : e.classes) {
    const mc::CellParams& cell = c.cell;
    if (cell.jacobian != mc::JacobianMethod::hutchinson || cell.layers > 1) continue;
    const double n = static_cast<double>(cell.n);
    const double full = 8 * n * n * static_cast<double>(1 + cell.probes);  // every Gram and probe row
    if (full <= static_cast<double>(cell.cache_bytes)) return;             // the costliest class fits: all fit
    mc::CellParams cached = cell;
    cached.cache_bytes = static_cast<std::size_t>(full) + (std::size_t{1} << 20);
    const double saved = 1 - group_flops(cached, gammas) / group_flops(cell, gammas);
    const double extra = mc::trial_memory_bytes(cached) - mc::trial_memory_bytes(cell);
    const bool fits = ranks_per_node * mc::trial_memory_bytes(cached) <= 0.9 * sweep::available_memory_bytes();
    std::printf(
        "  (n = %ld, d = %ld: with mc.cache-mb = %ld a trial recomputes products, %.0f%% of the work of its %ld "
        "gammas; mc.cache-mb = %zu caches them all: +%.2f GiB a trial, %s at %ld ranks a node)\n",
        cell.n, cell.d, static_cast<long>(cell.cache_bytes >> 20), 100 * saved, gammas, cached.cache_bytes >> 20,
        extra / (1 << 30), fits ? "fits here" : "does not fit here", ranks_per_node);
    return;
  }
}

// Rank 0's node holds the master's state and a computing slot per rank (rank 0's own thread on
// small jobs); other nodes a slot per rank.
void print_memory(const sweep::Grid& grid, const Estimate& e, long ranks_per_node) {
  const int slots = static_cast<int>(ranks_per_node);
  const double master = sweep::master_memory_bytes(grid.size(), grid.config().trials);
  const double master_node = sweep::node_memory_bytes(slots, e.peak_memory, master);
  const double other_node = sweep::node_memory_bytes(slots, e.peak_memory, 0.0);
  std::printf(
      "  memory per node at %ld ranks per node: %.2f GiB (rank 0's node, with the master's %.2f GiB), "
      "%.2f GiB (other nodes); this machine has %.1f GiB available\n",
      ranks_per_node, master_node / (1 << 30), master / (1 << 30), other_node / (1 << 30),
      sweep::available_memory_bytes() / (1 << 30));
}

void print_wall_times(const io::SweepConfig& config, const Estimate& e, const std::string& config_path) {
  const double threads = static_cast<double>(config.threads);
  const double largest_trial = e.largest_trial / threads;  // the longest trial, its threads all on it
  std::printf("  %8s %14s\n", "ranks", "wall time");
  int suggested = 0;
  double suggested_wall = 0;
  for (int ranks : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
    const int workers = ranks <= 8 ? ranks : ranks - 1;
    // Trials are the smallest unit a cell splits into: the wall cannot drop below one.
    const double wall = std::max(e.total / (workers * threads) * 1.05, largest_trial) + 5;
    std::printf("  %8d %14.0f s\n", ranks, wall);
    if (!suggested && (wall < 3600 || ranks == 256 || e.total / (workers * threads) < 20 * largest_trial)) {
      suggested = ranks;
      suggested_wall = wall;
    }
  }
  const long limit = static_cast<long>(std::ceil((suggested_wall * 1.5 + 300) / 60));
  std::printf("suggested: --ntasks=%d --time=%02ld:%02ld:00\n", suggested, limit / 60, limit % 60);
  std::printf("  sbatch --ntasks=%d --time=%02ld:%02ld:00 jobs/sweep.sbatch %s\n", suggested, limit / 60, limit % 60,
              config_path.c_str());
}

// The machine plan measures on: host and CPU model (what a login node and compute nodes may not share).
std::string this_machine() {
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, cpu = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return std::string(host) + ", " + cpu;
}

// The generic model's error on this grid's own cells: trials of up to three of its costliest cost
// classes that take under 0.3 s are timed; the model is scaled by the median of measured over
// predicted (returned with how many cells it rests on). Cells above 0.3 s a trial keep the model.
struct Correction {
  double factor = 1;
  int cells = 0;
  double low = 1, high = 1;  // the smallest and largest ratio seen
};

Correction correct_on_grid(const Estimate& e, const sweep::CostModel& cost) {
  std::vector<double> ratios;
  for (const ClassCost& c : e.classes) {
    if (ratios.size() == 3) break;
    if (c.seconds > 0.3 || c.seconds < 1e-5) continue;
    mc::CellParams cell = c.cell;
    cell.threads = 1;
    ratios.push_back(sweep::measure_trial_seconds(cell, 3) / cost.trial_seconds(cell));
  }
  Correction k;
  if (ratios.empty()) return k;
  std::sort(ratios.begin(), ratios.end());
  k.factor = std::clamp(ratios[ratios.size() / 2], 0.2, 5.0);
  k.cells = static_cast<int>(ratios.size());
  k.low = ratios.front();
  k.high = ratios.back();
  return k;
}

// Where the numbers come from, and a warning where they may not hold or cannot run.
void print_calibration(const sweep::CostModel& cost, const Correction& k, const Estimate& e) {
  std::printf(
      "  (cost model calibrated on %s: %.1f GFLOP/s, %.2g s per n^2 entry, %.2g s per token and %.2g per probe sign "
      "drawn",
      this_machine().c_str(), cost.flops_per_second / 1e9, cost.seconds_per_pair, cost.seconds_per_entry,
      cost.seconds_per_sign);
  if (k.cells > 0)
    std::printf("; checked on %d of this grid's cells, measured/model %.2f..%.2f, scaled by %.2f)\n", k.cells, k.low,
                k.high, k.factor);
  else
    std::printf("; no cell of this grid is quick enough to check)\n");
  // The flop model: the matrix products alone at the calibrated rate; the estimate's excess over
  // it is the element-wise work (softmax, angles, the Jacobian's loops) the products leave.
  std::printf(
      "  flop model: %.4g GFLOP of matrix products = %.1f core-seconds at %.1f GFLOP/s; the estimate is %.2fx it\n",
      e.flops / 1e9, e.flops / cost.flops_per_second, cost.flops_per_second / 1e9,
      e.total / (e.flops / cost.flops_per_second));
  if (std::getenv("SLURM_JOB_ID") == nullptr) {
    std::printf(
        "  (measured on this machine: if it is a login node whose CPU differs from the compute nodes', run "
        "plan on one of them: srun -N 1 -n 1 build/attnsweep plan ...)\n");
  }
  const double available = sweep::available_memory_bytes();
  if (e.peak_memory > 0.9 * available) {
    std::printf(
        "  IMPOSSIBLE here: one trial of the largest cell needs %.1f GiB, this machine has %.1f GiB "
        "available (run is refused on such a node)\n",
        e.peak_memory / (1 << 30), available / (1 << 30));
  }
}

}  // namespace

int plan_command(const std::vector<std::string>& args) {
  std::string config_path;
  long ranks_per_node = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  bool output_name = false, critical_output_name = false;
  po::options_description desc("attnsweep plan options");
  desc.add_options()("config", po::value(&config_path)->required(), "sweep config (INI)")(
      "ranks-per-node", po::value(&ranks_per_node)->default_value(ranks_per_node),
      "MPI ranks per node, for the memory per node (default: this machine's cores)")(
      "output-name", po::bool_switch(&output_name), "print only the output file the config names (for job scripts)")(
      "critical-output-name", po::bool_switch(&critical_output_name),
      "print only the file `attnsweep critical` writes by default");
  std::vector<std::string> rest;
  parse(args, desc, nullptr, &rest);
  for (const auto& item : rest)
    if (item.find('=') == std::string::npos) throw InputError("unrecognised argument '" + item + "'");
  if (ranks_per_node < 1 || ranks_per_node > 100000) throw InputError("--ranks-per-node must be 1..100000");
  const io::SweepConfig config = io::load_config(config_path, rest);
  // Job scripts ask the program, which reads the INI as a run would (comments, CRLF, overrides),
  // instead of guessing the name with sed.
  if (output_name || critical_output_name) {
    std::printf("%s\n", output_name ? config.output.c_str() : config.critical_output().c_str());
    return 0;
  }
  const sweep::Grid grid(config);
  const sweep::CostModel generic = sweep::CostModel::calibrate();
  const Correction correction = correct_on_grid(estimate(grid, generic), generic);
  const sweep::CostModel cost = generic.scaled(correction.factor);
  const Estimate e = estimate(grid, cost);
  std::string sizes;
  for (const io::Axis& axis : grid.axes())
    sizes += (sizes.empty() ? "" : " x ") + std::to_string(axis.size()) + " " + axis.name;
  std::printf("plan for %s\n", config_path.c_str());
  std::printf("  grid: %s = %lld cells, %ld trials each (%lld trials)\n", sizes.c_str(),
              static_cast<long long>(grid.size()), config.trials, static_cast<long long>(grid.size()) * config.trials);
  std::printf(
      "  estimated work: %.3g core-seconds (%.2f core-hours); longest trial %.2f s; peak memory per rank %.2f GiB\n",
      e.total, e.total / 3600, e.largest_trial, e.peak_memory / (1 << 30));
  print_calibration(generic, correction, e);
  print_costliest(e, cost);
  if (config.threads > 1) {
    std::printf("  %d threads per rank on each trial (run.threads): a trial's wall time about 1/%d of the above\n",
                config.threads, config.threads);
  }
  print_memory(grid, e, ranks_per_node);
  print_cache_hint(e, ranks_per_node, static_cast<long>(config.gamma.size()));
  print_wall_times(config, e, config_path);
  return 0;
}

}  // namespace attnsweep::app
