// One runtime for every campaign (`run`'s sweep, `critical`'s search, and whatever comes next):
// the start-up every rank goes through, the master loop on rank 0, the workers on the others,
// progress, stop and exit codes. A campaign says only what is its own: its config and output,
// its journal and state, what to compute next, what a result means, when it is finished, what
// it checkpoints, what it prints.
//
// The start-up (run_campaign), the same for every campaign:
//   1. rank 0: prepare() (config, output, whether an existing output and journal are this
//      campaign's; nothing written) -> verdict broadcast (a refusal is exit 2 on every rank);
//   2. the config text broadcast, the Grid built on every rank;
//   3. the nodes gathered; rank 0: the memory check (with master_bytes()), open() (journal
//      replay, state) -> verdict broadcast;
//   4. ranks 1..P-1 become workers; rank 0 announces, calibrates the cost model, takes start()'s
//      tasks and runs the master loop (feed, accept, checkpoint, finished) until done or stopped;
//   5. final checkpoint, the last progress report and summary, exit code to every rank, publish().
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/parallel/mpi.hpp"
#include "attnsweep/sweep/cost.hpp"
#include "attnsweep/sweep/dispatcher.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "attnsweep/sweep/progress.hpp"
#include "attnsweep/sweep/scheduler.hpp"
#include "attnsweep/sweep/workers.hpp"

namespace attnsweep::sweep {

// What every campaign's command line sets beside its own options.
struct CampaignLimits {
  double time_limit = 0;  // seconds since `started`; 0 = none
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // the command's start
  ProgressMode progress = ProgressMode::automatic;
};

class Campaign {
 public:
  virtual ~Campaign() = default;

  // ---- rank 0, start-up (an io::InputError refuses the run: exit 2, nothing changed)
  // The validated config; checks the output and that an existing output and journal are this
  // campaign's. Writes nothing.
  virtual io::SweepConfig prepare() = 0;
  // The most rank 0 holds (results, per-trial values), for the per-node memory check.
  virtual double master_bytes(const Grid& grid) const = 0;
  // Opens the journal (replaying it) and the state; `grid` outlives the campaign's run.
  virtual void open(const Grid& grid) = 0;
  // The start-up line, given the job's layout ("2 nodes (a: 1, b: 1)").
  virtual void announce(const std::string& nodes, int ranks) const = 0;

  // ---- rank 0, the master
  // The tasks known at the start (what journaled trials already cover left out).
  virtual std::vector<Task> start(const CostModel& cost, int workers, double max_task_seconds) = 0;
  // Before tasks are assigned: tasks that depend on results so far (an adaptive campaign).
  virtual void feed(Dispatcher& dispatcher) { (void)dispatcher; }
  // Every result of one pass (also none: durable records may become visible); durable first.
  virtual void accept(std::vector<TaskResult>& results, Dispatcher& dispatcher) = 0;
  // Asked when nothing is in flight.
  virtual bool finished(const Dispatcher& dispatcher) const = 0;
  // Once a pass (a snapshot when one is due), and once at the end, before the workers go.
  virtual void checkpoint() = 0;
  virtual void final_checkpoint() = 0;
  virtual ProgressCounts progress() const = 0;
  // The last line(s) on stderr: what the run did and what it cost.
  virtual void summarise(double wall_seconds, double master_busy_seconds) const = 0;
  // The exit code, with the message that explains it (failed cells, a stop).
  virtual int exit_code(const Dispatcher& dispatcher) const = 0;
  // After every worker has its exit code: results on stdout, if the campaign prints any.
  virtual void publish() const {}
};

// The whole command on every rank; returns the process exit code.
int run_campaign(Campaign& campaign, const CampaignLimits& limits, const parallel::Environment& mpi);

}  // namespace attnsweep::sweep
