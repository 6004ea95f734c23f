#include "attnsweep/sweep/task_runner.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <sstream>

#include "attnsweep/io/config.hpp"
#include "attnsweep/mc/trial.hpp"

namespace attnsweep::sweep {

namespace {
// "lambda inf, eta 0.5" when any observable is infinite; empty otherwise.
std::string infinite_values(const mc::TrialResult& r) {
  bool any = false;
  std::string text;
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    any = any || std::isinf(r[k]);
    text += (k ? ", " : "") + std::string(mc::kObservables[k].name) + " " + std::to_string(r[k]);
  }
  return any ? text : "";
}
}  // namespace

std::set<std::int64_t> injected_failures(std::int64_t grid_size) {
  std::set<std::int64_t> cells;
  const char* text = std::getenv("ATTNSWEEP_INJECT_FAILURE");
  if (!text) return cells;
  std::stringstream in(text);
  std::string item;
  const std::string whole = text;
  while (std::getline(in, item, ',')) {
    if (item.empty() || (whole.back() == ',' && in.peek() == EOF)) {
      throw io::InputError(std::string("ATTNSWEEP_INJECT_FAILURE: '") + text +
                           "' has an empty item (a list of cell indices separated by single commas)");
    }
    char* end = nullptr;
    errno = 0;
    const long long cell = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || cell < 0 || cell >= grid_size) {
      throw io::InputError("ATTNSWEEP_INJECT_FAILURE: '" + item.substr(0, 40) + "' is not a cell index in [0, " +
                           std::to_string(grid_size) + ")");
    }
    cells.insert(cell);
  }
  return cells;
}

TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop) {
  mc::TrialWorkspace workspace;
  return run_task(grid, task, inject, should_stop, workspace);
}

namespace {
// One evaluation's values for a cell: its gamma's whole-sequence values, or its position
// bucket's when the run mixes positions (one evaluation per gamma serves every position).
struct Pick {
  size_t gamma = 0;  // index into the run's distinct gammas
  int bucket = model::kWholeSequence;
};

// Trials of cells [begin, end) of the task, one draw group: the tokens are drawn once per trial
// and each distinct gamma evaluated once, whatever the number of its cells (a position axis).
void run_draw_group(const Grid& grid, const Task& task, size_t begin, size_t end, TaskResult& result,
                    const std::function<bool()>& should_stop, mc::TrialWorkspace& workspace) {
  mc::CellParams base = grid.cell(result.outcomes[begin].cell);
  base.observe_eta = !task.lambda_only;
  if (task.position != model::kWholeSequence) base.position = task.position;  // the critical search's
  std::vector<mc::CellParams> cells;
  bool mixed = false;
  for (size_t k = begin; k < end; ++k) {
    cells.push_back(grid.cell(result.outcomes[k].cell));
    mixed = mixed || cells.back().position != cells.front().position;
  }
  if (mixed) base.position = model::kWholeSequence;
  workspace.keep_positions = mixed;
  std::vector<size_t> live;
  std::vector<Pick> picks;
  std::vector<double> gammas;
  std::vector<std::string> errors;
  for (std::uint64_t t = task.first_trial; t < task.first_trial + task.trial_count; ++t) {
    if (should_stop()) {
      result.abandoned = true;
      return;
    }
    live.clear();
    picks.clear();
    gammas.clear();
    for (size_t k = begin; k < end; ++k) {
      if (!result.outcomes[k].ok) continue;
      live.push_back(k);
      const double gamma = task.gammas.empty() ? cells[k - begin].gamma : task.gammas[k];
      const auto slot = static_cast<size_t>(std::find(gammas.begin(), gammas.end(), gamma) - gammas.begin());
      if (slot == gammas.size()) gammas.push_back(gamma);
      picks.push_back(
          {slot, mixed ? model::selected_bucket(cells[k - begin].position, base.n) : model::kWholeSequence});
    }
    if (live.empty()) return;
    const std::vector<mc::TrialResult> values = mc::run_trial_over_gamma(base, gammas, t, errors, workspace);
    for (size_t j = 0; j < live.size(); ++j) {
      CellOutcome& outcome = result.outcomes[live[j]];
      const size_t g = picks[j].gamma;
      const mc::TrialResult r =
          picks[j].bucket < 0 ? values[g] : mc::bucket_result(workspace.positions[g], picks[j].bucket);
      if (!errors[g].empty()) {
        outcome.ok = false;
        outcome.error = errors[g];
      } else if (const std::string infinite = infinite_values(r); !infinite.empty()) {
        // mc reports faults as errors and NaN is undefined: an infinity here is a fault too.
        outcome.ok = false;
        outcome.error = "non-finite result at trial " + std::to_string(t) + " (" + infinite + ")";
      } else {
        outcome.samples.add(t, r);
      }
    }
  }
}
}  // namespace

TaskResult run_task(const Grid& grid, const Task& task, const std::set<std::int64_t>& inject,
                    const std::function<bool()>& should_stop, mc::TrialWorkspace& workspace) {
  TaskResult result;
  result.task = task;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t cell : task.cells) {
    CellOutcome outcome;
    outcome.cell = cell;
    if (inject.count(cell)) {
      outcome.ok = false;
      outcome.error = "injected failure (ATTNSWEEP_INJECT_FAILURE)";
    }
    result.outcomes.push_back(std::move(outcome));
  }
  // The task's cells come in runs of one draw group (plan_tasks keeps them adjacent); each
  // run draws its tokens once per trial and computes all its gammas from them.
  for (size_t begin = 0; begin < result.outcomes.size() && !result.abandoned;) {
    const std::int64_t group = grid.draw_group(result.outcomes[begin].cell);
    size_t end = begin + 1;
    while (end < result.outcomes.size() && grid.draw_group(result.outcomes[end].cell) == group) ++end;
    try {
      run_draw_group(grid, task, begin, end, result, should_stop, workspace);
    } catch (const std::exception& e) {
      // Token drawing or normalisation failed: every cell of the run shares that failure.
      for (size_t k = begin; k < end; ++k) {
        if (result.outcomes[k].ok) {
          result.outcomes[k].ok = false;
          result.outcomes[k].error = e.what();
        }
      }
    }
    begin = end;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace attnsweep::sweep
