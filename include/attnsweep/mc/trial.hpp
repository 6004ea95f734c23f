// One Monte-Carlo trial of one grid cell: draw tokens, run the layer, measure lambda and eta.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/mc/samples.hpp"
#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/model/kernel.hpp"
#include "attnsweep/model/stack.hpp"

namespace attnsweep::mc {

enum class JacobianMethod { exact, hutchinson };
const char* jacobian_name(JacobianMethod method);
JacobianMethod parse_jacobian(const std::string& text);  // throws std::invalid_argument

struct CellParams {
  double rho = 0;
  double gamma = 0;
  long d = 0;
  long n = 0;
  long trials = 1;
  long probes = 4;  // Hutchinson probes per trial (unused by the exact method)
  Geometry geometry = Geometry::gaussian;
  JacobianMethod jacobian = JacobianMethod::exact;
  double alpha = 0;
  model::ScalingLaw scaling = model::ScalingLaw::log;  // beta = gamma ln n unless chosen otherwise
  model::Mask mask = model::Mask::none;                // causal: row i attends to tokens 0..i
  double train_length = 0;                             // qwen-logn's T (>= 2 for that law)
  long layers = 1;  // the layer applied this many times (model/stack.hpp); > 1 needs hutchinson
  std::uint64_t seed = 0;
  int threads = 1;  // threads on one trial (results do not depend on it)
  // The kernel's cache (model::TiledLayer::set_cache_bytes): a study's setting (mc.cache-mb), since
  // cached and recomputed products can differ in the last bit.
  std::size_t cache_bytes = model::kKernelCacheBytes;
  bool observe_eta = true;  // false: lambda only, no Jacobian norm (eta 0; the critical search)
  // Which part of the sequence the observables describe (mc.position, grid.position, the critical
  // search per position): model::kWholeSequence (all pairs and rows), model::kLastBucket or a
  // position bucket b >= 0 (model::position_bucket); a bucket n tokens do not reach: undefined.
  int position = model::kWholeSequence;

  model::Attention attention() const { return {scaling, mask, train_length}; }
};

// Caps of a cell's parameters (far above any real use; a mistyped value is refused at once).
inline constexpr long kMaxTrials = 1'000'000;
inline constexpr long kMaxProbes = 10'000;
inline constexpr long kMaxDimension = 1'000'000;
inline constexpr long kMaxTokens = 100'000'000;
inline constexpr int kMaxThreads = 1024;
using model::kMaxLayers;

// Whether every trial of the cell sees the same tokens (the simplex: deterministic), for the
// summary of one-trial cells (CellSamples::summary).
inline CellSamples::Tokens tokens_of(const CellParams& cell) {
  return cell.geometry == Geometry::simplex ? CellSamples::Tokens::fixed : CellSamples::Tokens::drawn;
}

// Throws std::invalid_argument naming the first out-of-range parameter.
void validate(const CellParams& cell);

// The random stream of a trial is keyed by {seed, (d, n)} and counted by trial index.
// rho and gamma are deliberately not in the key: every cell with the same (d, n) and
// trial sees the same underlying draws (common random numbers), which makes the phase
// diagram smooth along rho and gamma, and makes `attnsweep cell` reproduce any cell
// of a sweep bitwise.
std::uint64_t stream_id(long d, long n);

// Every large matrix a trial needs, kept by a worker across trials, gammas and tasks: after the
// first trial of a given size a trial allocates nothing large (no page faults, no zeroing of
// fresh memory; at n = 1024 that was a third of a trial's time). The kernel's thread team lives
// here too, started once.
// One trial's observables by position bucket (model::position_bucket; MODEL.md section 11):
// lambda over the pairs whose later token is in the bucket, eta = the bucket's Jacobian rows'
// ||dx'_i / dX||_F^2 summed, over (its tokens x d). NaN where undefined (as the cell's values).
struct PositionResult {
  std::vector<double> lambda, eta;
  // The bucket's Hutchinson eta's standard error over its probes (as kEtaProbeStderr; NaN with
  // the exact Jacobian, one probe or no Jacobian norm).
  std::vector<double> eta_probe_stderr;
};
// One bucket's values as a trial's observables (kObservables' order); every one undefined (NaN)
// for a bucket the trial's tokens do not reach.
TrialResult bucket_result(const PositionResult& positions, int bucket);

struct TrialWorkspace {
  model::Matrix X, probes;
  model::TiledLayer layer;
  model::StackScratch stack;  // between the layers of a stack (layers > 1)
  // With keep_positions (cell's table, the tests), after run_trial_over_gamma: each gamma's values
  // by position bucket. Off by default: a sweep does not store them, so its trials skip the work.
  bool keep_positions = false;
  std::vector<PositionResult> positions;
};

TrialResult run_trial(const CellParams& cell, std::uint64_t trial);

// One trial of several cells that differ only in gamma: the tokens, their Gram matrix and
// the probes are drawn and computed once and shared. Element k is bitwise what
// run_trial(cell with gamma = gammas[k], trial) gives. A throwing gamma does not stop the
// others: its message is in errors[k] (empty when it succeeded).
std::vector<TrialResult> run_trial_over_gamma(const CellParams& cell, const std::vector<double>& gammas,
                                              std::uint64_t trial, std::vector<std::string>& errors,
                                              TrialWorkspace& workspace);
std::vector<TrialResult> run_trial_over_gamma(const CellParams& cell, const std::vector<double>& gammas,
                                              std::uint64_t trial, std::vector<std::string>& errors);

// Trials [first, first + count) of the cell (one workspace for all of them); with `positions`, each
// trial's values by position bucket too, in trial order.
CellSamples run_trials(const CellParams& cell, std::uint64_t first, std::uint64_t count,
                       std::vector<PositionResult>* positions = nullptr);

// Peak bytes one trial of this cell holds (model::kernel_cost with the cell's threads, plus the
// drawn tokens and probes).
double trial_memory_bytes(const CellParams& cell);

// Floating-point operations of one trial (one gamma, one token draw), from model::kernel_cost:
// the products the kernel multiplies (forward 4-6 n^2 d, lambda 1-2 n^2 d, 8 n^2 d per
// Hutchinson probe, exact 4 n^2 d plus the quartic term).
double trial_flops(const CellParams& cell);
// The part of trial_flops done once per token draw (caches, normalisation, probe directions),
// which the cells of one draw group (every gamma of a trial) share.
double draw_flops(const CellParams& cell);

}  // namespace attnsweep::mc
