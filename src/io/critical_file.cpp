// The critical search's HDF5 file (layout in docs/file-format.md): written atomically, described
// like every attnsweep file (schema.hpp).
#include "attnsweep/io/critical_file.hpp"

#include <algorithm>
#include <cstdio>

#include "atomic_write.hpp"
#include "attnsweep/io/provenance.hpp"
#include "attnsweep/mc/samples.hpp"
#include "attnsweep/model/layer.hpp"
#include "hdf5.hpp"
#include "schema.hpp"

namespace attnsweep::io {

namespace {
constexpr std::int64_t kCriticalSchema = 1;

// The file's kind, provenance and what each variable is.
void describe_search_file(const h5::Handle& file, const SweepConfig& config, const std::vector<std::string>& meanings) {
  namespace h = h5;
  describe_file(file, "critical", kCriticalSchema,
                "attnsweep critical-point search: gamma where lambda crosses its target");
  char interval[96];
  std::snprintf(interval, sizeof interval, "%.4g%% bootstrap over trials, %ld resamples",
                100 * config.critical.confidence, config.critical.resamples);
  describe_variables(
      file,
      {{"/rho", "input pairwise cosine rho", "1"},
       {"/d", "token dimension d", "1"},
       {"/n", "number of tokens n", "1"},
       {"/evaluation", "evaluation index (in the order the search asked for them)", ""},
       {"/trial", "trial index (its random draws)", ""},
       {"/gamma_c", "gamma where the trial-averaged lambda crosses lambda_target", "1", true},
       {"/gamma_c_low", std::string("lower end of gamma_c's interval (") + interval + ")", "1", true},
       {"/gamma_c_high", std::string("upper end of gamma_c's interval (") + interval + ")", "1", true},
       {"/gamma_c_spread", "delta-method spread of gamma_c: stderr of lambda over its slope", "1", true},
       {"/lambda_target", "the lambda crossed (paper: 1 / (1 + 3 rho))", "1"},
       {"/gamma_theory", "the paper's gamma_c = 1 / (1 - rho) (NaN unless beta = gamma ln n, one layer and alpha = 0)",
        "1", true},
       {"/grid_equivalent", "cells of a uniform gamma grid over the range at the same resolution", "1"},
       {"/evaluations", "gammas evaluated (each with every trial)", "1"},
       {"/bisection_steps", "bisection steps", "1"},
       {"/status", "search status", ""},
       {"/error", "error text of a failed search", ""},
       {"/eval_gamma", "gamma of each evaluation (NaN: none)", "1", true},
       {"/eval_lambda_mean", "lambda averaged over trials at each evaluation", "1", true},
       {"/eval_lambda_stderr", "standard error of eval_lambda_mean", "1", true},
       {"/eval_lambda_trial", "lambda of each trial at each evaluation", "1", true},
       {"/quantile", "quantile level of the trials' distribution", "1"},
       {"/eval_lambda_quantile", "quantiles of lambda over trials at each evaluation (0.5: the median)", "1", true},
       {"/gamma_c_median",
        "gamma where the median lambda over trials crosses lambda_target (beside gamma_c, the mean's)", "1", true}});
  describe_flags(file, "/status", meanings);
  describe_settings(file, config.critical_text());
}

}  // namespace

std::string critical_hash_text(std::uint64_t hash) {
  char text[32];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

namespace {
// The position dimension of a search per position (arrays.P > 0): the bucket index, each bucket's
// first token, and its last token at each n (-1 where n tokens do not reach the bucket).
void write_positions(const h5::Handle& file, const SweepConfig& config, std::int64_t P) {
  std::vector<std::int64_t> index, first, last;
  for (std::int64_t b = 0; b < P; ++b) {
    index.push_back(b);
    first.push_back(model::bucket_first(static_cast<int>(b)));
  }
  for (long n : config.n)
    for (std::int64_t b = 0; b < P; ++b)
      last.push_back(model::bucket_first(static_cast<int>(b)) < n ? model::bucket_end(static_cast<int>(b), n) - 1 : -1);
  h5::write_int64(file, "position", {P}, index);
  h5::write_int64(file, "position_first", {P}, first);
  h5::write_int64(file, "position_last", {static_cast<std::int64_t>(config.n.size()), P}, last);
  describe_variables(file,
                     {{"/position",
                       "position bucket b whose lambda the search follows: pairs whose later token is in "
                       "[2^b, 2^(b+1)) (b = 0: tokens 0 and 1)",
                       ""},
                      {"/position_first", "first token of the bucket", ""},
                      {"/position_last", "last token of the bucket at each n (-1: n tokens do not reach it)", ""}});
}

// Dimension scales: the point axes (rho, d, n[, position]), then evaluation and trial, attached to
// every array in that order (the quantile level last where there is one).
void attach_search_scales(const h5::Handle& file, const std::vector<const char*>& axes, bool positions) {
  namespace h = h5;
  std::vector<const char*> scales = axes;
  scales.push_back("/evaluation");
  scales.push_back("/trial");
  for (const char* axis : scales) h::make_scale(file, axis, axis + 1);
  h::make_scale(file, "/quantile", "quantile");
  const auto point_rank = static_cast<unsigned>(axes.size());
  const auto attach = [&](const char* array, unsigned rank) {
    for (unsigned a = 0; a < rank; ++a) h::attach_scale(file, array, scales[a], a);
  };
  for (const char* array :
       {"/gamma_c", "/gamma_c_low", "/gamma_c_high", "/gamma_c_spread", "/lambda_target", "/gamma_theory",
        "/grid_equivalent", "/evaluations", "/bisection_steps", "/status", "/error", "/gamma_c_median"})
    attach(array, point_rank);
  for (const char* array : {"/eval_gamma", "/eval_lambda_mean", "/eval_lambda_stderr"}) attach(array, point_rank + 1);
  attach("/eval_lambda_trial", point_rank + 2);
  attach("/eval_lambda_quantile", point_rank + 1);
  h::attach_scale(file, "/eval_lambda_quantile", "/quantile", point_rank + 1);
  if (positions) {
    h::attach_scale(file, "/position_first", "/position", 0);
    h::attach_scale(file, "/position_last", "/n", 0);
    h::attach_scale(file, "/position_last", "/position", 1);
  }
}
}  // namespace

void write_critical_file(const std::string& path, const SweepConfig& config, const CriticalArrays& arrays) {
  namespace h = h5;
  const auto R = static_cast<std::int64_t>(config.rho.size()), D = static_cast<std::int64_t>(config.d.size()),
             N = static_cast<std::int64_t>(config.n.size());
  // The search's arrays, point by point (K evaluations of T trials at most), over (rho, d, n) or
  // (rho, d, n, position).
  const auto& [K, T, P, gamma_c, low, high, target, theory, spread, equivalent, gamma_c_median, evaluations, steps,
               status, errors, eval_gamma, eval_mean, eval_stderr, eval_trial, eval_quantile, meanings] = arrays;
  std::vector<std::int64_t> shape = {R, D, N};
  std::vector<const char*> axes = {"/rho", "/d", "/n"};
  if (P > 0) {
    shape.push_back(P);
    axes.push_back("/position");
  }
  const auto with = [&shape](std::initializer_list<std::int64_t> more) {
    std::vector<std::int64_t> s = shape;
    s.insert(s.end(), more);
    return s;
  };
  write_hdf5_atomically(path, [&](const h::Handle& file) {
    h::write_doubles(file, "rho", {R}, config.rho);
    h::write_int64(file, "d", {D}, {config.d.begin(), config.d.end()});
    h::write_int64(file, "n", {N}, {config.n.begin(), config.n.end()});
    if (P > 0) write_positions(file, config, P);
    std::vector<std::int64_t> index(static_cast<size_t>(std::max(K, T)));
    for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<std::int64_t>(i);
    h::write_int64(file, "evaluation", {K}, {index.begin(), index.begin() + K});
    h::write_int64(file, "trial", {T}, {index.begin(), index.begin() + T});
    h::write_doubles(file, "gamma_c", shape, gamma_c);
    h::write_doubles(file, "gamma_c_low", shape, low);
    h::write_doubles(file, "gamma_c_high", shape, high);
    h::write_doubles(file, "gamma_c_spread", shape, spread);
    h::write_doubles(file, "lambda_target", shape, target);
    h::write_doubles(file, "gamma_theory", shape, theory);
    h::write_doubles(file, "grid_equivalent", shape, equivalent);
    h::write_int32(file, "evaluations", shape, evaluations);
    h::write_int32(file, "bisection_steps", shape, steps);
    h::write_uint8(file, "status", shape, status);
    std::vector<const char*> error_texts(errors.size());
    for (size_t p = 0; p < errors.size(); ++p) error_texts[p] = errors[p].c_str();
    h::write_strings(file, "error", shape, error_texts);
    h::write_doubles(file, "eval_gamma", with({K}), eval_gamma);
    h::write_doubles(file, "eval_lambda_mean", with({K}), eval_mean);
    h::write_doubles(file, "eval_lambda_stderr", with({K}), eval_stderr);
    h::write_doubles(file, "eval_lambda_trial", with({K, T}), eval_trial);
    h::write_doubles(file, "gamma_c_median", shape, gamma_c_median);
    const std::vector<double> levels(mc::kQuantileLevels.begin(), mc::kQuantileLevels.end());
    const auto L = static_cast<std::int64_t>(levels.size());
    h::write_doubles(file, "quantile", {L}, levels);
    h::write_doubles(file, "eval_lambda_quantile", with({K, L}), eval_quantile);
    h::Handle meta = h::create_group(file, "meta");
    h::write_string(meta, "config", config.critical_text());
    h::write_string(meta, "config_hash", critical_hash_text(config.critical_hash()));
    h::write_string(meta, "build", build_description());
    attach_search_scales(file, axes, P > 0);
    describe_search_file(file, config, meanings);
  });
}

void require_same_critical_search(const std::string& output, std::uint64_t config_hash) {
  namespace h = h5;
  std::string stored;
  std::int64_t stored_kernel = 0;
  try {
    h::quiet_errors();
    const h::Handle file = h::open_file_readonly(output);
    if (!h::has_attribute(file, "/", "kind") || h::get_string_attribute(file, "/", "kind") != "critical")
      throw InputError("");
    stored = h::read_string(h::open_group(file, "meta"), "config_hash");
    if (h::has_attribute(file, "/", "kernel_version"))
      stored_kernel = h::get_int_attribute(file, "/", "kernel_version");
  } catch (const std::exception&) {
    throw InputError(output + " is not an attnsweep critical-search file; move it away or choose another --output");
  }
  if (stored != critical_hash_text(config_hash))
    throw InputError(output +
                     " holds a critical search with another config; use another --output or the original config");
  require_this_kernel(output, stored_kernel);
}

}  // namespace attnsweep::io
