// The one runtime of every campaign (sweep/campaign.hpp): start-up, master, workers, shutdown.
#include <cstdio>

#include "attnsweep/sweep/campaign.hpp"
#include "attnsweep/sweep/exit_codes.hpp"
#include "attnsweep/sweep/master_loop.hpp"
#include "attnsweep/sweep/startup.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "attnsweep/sweep/task_runner.hpp"
#include "attnsweep/sweep/topology.hpp"

namespace attnsweep::sweep {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Rank 0 after the start-up: the master loop over the campaign, then the shutdown.
int run_master(Campaign& campaign, const Grid& grid, const CampaignLimits& limits, int ranks) {
  if (const int cpus = cpus_of_this_rank(); grid.config().threads > cpus) {
    std::fprintf(stderr,
                 "[attnsweep] run.threads = %d but rank 0 may run on %d CPU(s) (its affinity): launch with "
                 "mpirun --map-by slot:PE=%d (or --bind-to none) so that the threads get cores of their own\n",
                 grid.config().threads, cpus, grid.config().threads);
  }
  const CostModel cost = CostModel::calibrate();
  const double max_task = limits.time_limit > 0 ? limits.time_limit / 4 : kMaxTaskSeconds;
  const auto start = Clock::now();
  std::vector<Task> tasks = campaign.start(cost, computing_workers(ranks), max_task);

  parallel::Outbox outbox;
  Dispatcher dispatcher(std::move(tasks), worker_depths(ranks), limits.time_limit,
                        static_cast<int>(grid.config().max_attempts));
  ProgressReporter progress(limits.progress);
  MasterHooks hooks;
  hooks.before_assign = [&campaign](Dispatcher& d) { campaign.feed(d); };
  hooks.on_results = [&campaign](std::vector<TaskResult>& results, Dispatcher& d) { campaign.accept(results, d); };
  hooks.each_pass = [&] {
    campaign.checkpoint();
    // Counting can walk every search of a campaign: only when a report is due, not every pass.
    if (progress.due()) progress.report(campaign.progress(), false);
  };
  hooks.finished = [&campaign](const Dispatcher& d) { return campaign.finished(d); };
  const MasterStats stats = run_master_loop(grid, ranks, outbox, dispatcher, limits.started, hooks);
  // The final checkpoint before the worker ranks are released: 63 ranks finalising MPI on two
  // cores would otherwise compete with it.
  campaign.final_checkpoint();
  progress.report(campaign.progress(), true);
  campaign.summarise(seconds_since(start), stats.busy_seconds);
  const int code = campaign.exit_code(dispatcher);
  send_exit_code(outbox, ranks, code);
  outbox.drain();
  campaign.publish();
  return code;
}
}  // namespace

int run_campaign(Campaign& campaign, const CampaignLimits& limits, const parallel::Environment& mpi) {
  remember_launcher();
  // Rank 0 decides (config, output, memory, resume state) and broadcasts each verdict; the
  // other ranks wait for it, so a refused run leaves every rank with exit code 2.
  const auto agree = [&mpi](const std::function<void()>& step) { return rank0_decides(mpi, step); };
  io::SweepConfig config;
  std::string config_text;
  if (const int verdict = agree([&] {
        config = campaign.prepare();
        // The canonical text is the study's identity; how a rank computes travels beside it.
        config_text = config.canonical_text() + "[run]\nthreads = " + std::to_string(config.threads) + "\n";
      });
      verdict != kExitOk)
    return verdict;
  parallel::broadcast(config_text, 0);
  const Grid grid(mpi.rank() == 0 ? config : io::parse_config(config_text, {}, "broadcast config"));
  // Every node must hold one trial of the largest cell in each of its computing slots.
  const std::vector<parallel::NodeShare> nodes = parallel::gather_nodes(available_memory_bytes());
  if (const int verdict = agree([&] {
        (void)injected_failures(grid.size());  // a malformed list is refused here, not on a worker
        check_nodes_fit(nodes, grid, mpi.size(), campaign.master_bytes(grid));
        campaign.open(grid);
      });
      verdict != kExitOk)
    return verdict;
  if (mpi.rank() != 0) return run_worker_rank(grid);
  campaign.announce(node_summary(nodes), mpi.size());
  return run_master(campaign, grid, limits, mpi.size());
}

}  // namespace attnsweep::sweep
