// `cell`'s observables by position bucket (MODEL.md section 11): each bucket's lambda and eta
// over the trials, beside the exact simplex's closed form where it applies.
#pragma once

#include <string>
#include <vector>

#include "attnsweep/mc/samples.hpp"
#include "attnsweep/mc/trial.hpp"
#include "attnsweep/model/theory.hpp"

namespace attnsweep::app {

struct PositionReport {
  std::vector<mc::Summary> lambda, eta;  // by bucket, over the trials
  model::PositionTheory theory;          // the exact simplex's (theory_applies)
  bool theory_applies = false;
};

// Whether the cell's theory is the position-resolved one: a causal mask or a per-position law.
bool positional(const mc::CellParams& cell);
PositionReport position_report(const mc::CellParams& cell, const std::vector<mc::PositionResult>& trials);
// The table's rows (one per bucket: its tokens, lambda and eta with their errors and medians, the theory).
void print_position_table(const mc::CellParams& cell, const PositionReport& report);
// [{"bucket": b, "first": i, "last": j, "beta_last": ..., "lambda": {"mean", "stderr", "median",
// "simplex"}, "eta": {...}}, ...]
std::string position_json(const mc::CellParams& cell, const PositionReport& report);

}  // namespace attnsweep::app
