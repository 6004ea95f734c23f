#include "attnsweep/io/results_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>

#include "atomic_write.hpp"
#include "attnsweep/io/checksum.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/provenance.hpp"
#include "hdf5.hpp"
#include "results_layout.hpp"
#include "schema.hpp"

namespace attnsweep::io {

std::string axis_dataset(const Layout& at, const std::vector<Axis>& axes, size_t a) {
  return a < 4 ? std::string(at.axes[a]) : "/" + axes[a].name;
}

const char* axis_long_name(const std::string& name) {
  static const std::map<std::string, const char*> names = {
      {"rho", "input pairwise cosine rho"},
      {"gamma", "attention scale gamma (beta = gamma ln n)"},
      {"d", "token dimension d"},
      {"n", "number of tokens n"},
      {"alpha", "residual weight alpha (the layer adds alpha times its input)"},
      {"layers", "number of layers L (the layer applied L times)"},
      {"scaling", "attention scaling law: beta as a function of gamma and n"}};
  const auto it = names.find(name);
  return it == names.end() ? "swept model parameter" : it->second;
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const Layout kLayoutV1 = {{"/grid/rho", "/grid/gamma", "/grid/d", "/grid/n"},
                          "/results/lambda/mean",
                          "/results/lambda/stderr",
                          "/results/eta/mean",
                          "/results/eta/stderr",
                          "/results/trials",
                          "/cells/status",
                          "/cells/seconds",
                          "/cells/attempts",
                          "/cells/error",
                          "/meta/config",
                          "/meta/config_hash",
                          "/meta/build"};
const Layout kLayoutV2 = {{"/rho", "/gamma", "/d", "/n"},
                          "/lambda_mean",
                          "/lambda_stderr",
                          "/eta_mean",
                          "/eta_stderr",
                          "/trials",
                          "/status",
                          "/seconds",
                          "/attempts",
                          "/error",
                          "/meta/config",
                          "/meta/config_hash",
                          "/meta/build"};
static_assert(kSchemaVersion == 3, "kLayoutV2 is the layout written (schema 3: the same places, plus swept axes)");
}  // namespace

const Layout& layout_of(std::int64_t schema, const std::string& path) {
  if (schema == 1) return kLayoutV1;
  if (schema == 2 || schema == 3) return kLayoutV2;
  throw WrongKindOfFile(path + ": schema version " + std::to_string(schema) +
                        " is not supported (this build reads 1 to 3" +
                        (schema > 3 ? "; the file is from a newer attnsweep)" : ")"));
}

// CRC-32 of the error texts with their cell indices, in cell order.
std::uint32_t errors_crc(const std::map<std::int64_t, std::string>& errors) {
  std::uint32_t crc = 0;
  for (const auto& [cell, text] : errors) {
    crc = crc32(&cell, sizeof cell, crc);
    crc = crc32(text.data(), text.size(), crc);
  }
  return crc;
}

const char* status_name(CellStatus status) {
  switch (status) {
    case CellStatus::missing:
      return "missing";
    case CellStatus::done:
      return "done";
    case CellStatus::failed:
      return "failed";
    case CellStatus::undefined:
      return "undefined";
  }
  return "unknown";
}

CellStatus parse_status(const std::string& text) {
  if (text == "missing") return CellStatus::missing;
  if (text == "done") return CellStatus::done;
  if (text == "failed") return CellStatus::failed;
  if (text == "undefined") return CellStatus::undefined;
  throw InputError("--status must be missing, done, failed or undefined, not '" + text + "'");
}

SweepState::SweepState(std::int64_t cells)
    : status(static_cast<size_t>(cells), 0),
      trials(static_cast<size_t>(cells), 0),
      attempts(static_cast<size_t>(cells), 0),
      lambda_defined(static_cast<size_t>(cells), 0),
      eta_defined(static_cast<size_t>(cells), 0),
      lambda_mean(static_cast<size_t>(cells), kNaN),
      lambda_stderr(static_cast<size_t>(cells), kNaN),
      eta_mean(static_cast<size_t>(cells), kNaN),
      eta_stderr(static_cast<size_t>(cells), kNaN),
      seconds(static_cast<size_t>(cells), 0),
      lambda_quantile(static_cast<size_t>(cells) * mc::kQuantileLevels.size(), kNaN),
      eta_quantile(static_cast<size_t>(cells) * mc::kQuantileLevels.size(), kNaN) {}

mc::Quantiles CellRecord::no_quantiles() {
  mc::Quantiles q;
  q.fill(kNaN);
  return q;
}

bool SweepState::keep_trials(std::int32_t per_cell) {
  if (per_cell < 1 || per_cell > kMaxTrialSlots || size() * per_cell > kMaxTrialValues) {
    trial_slots_ = 0;
    trial_lambda.clear();
    trial_eta.clear();
    return false;
  }
  if (trial_slots_ == per_cell) return true;
  trial_slots_ = per_cell;
  trial_lambda.assign(static_cast<size_t>(size() * per_cell), kNaN);
  trial_eta.assign(static_cast<size_t>(size() * per_cell), kNaN);
  return true;
}

void SweepState::set_trial_values(std::int32_t per_cell, std::vector<double> lambda, std::vector<double> eta) {
  trial_slots_ = per_cell;
  trial_lambda = std::move(lambda);
  trial_eta = std::move(eta);
}

void SweepState::apply(const CellRecord& r) {
  const auto i = static_cast<size_t>(r.cell);
  if (trial_slots_ > 0) {
    const auto slots = static_cast<size_t>(trial_slots_);
    const bool ran_here = r.status == CellStatus::done || r.status == CellStatus::undefined;
    const size_t known = ran_here ? std::min(slots, r.trial_lambda.size()) : 0;
    for (size_t t = 0; t < slots; ++t) {
      const bool have = t < known && t < r.trial_eta.size();
      trial_lambda.at(i * slots + t) = have ? r.trial_lambda[t] : kNaN;
      trial_eta[i * slots + t] = have ? r.trial_eta[t] : kNaN;
    }
  }
  // Quantiles: the record's, else from its per-trial values (a journal record), else unknown.
  mc::Quantiles lambda_q = r.lambda_quantiles, eta_q = r.eta_quantiles;
  std::int32_t lambda_n = r.lambda_defined, eta_n = r.eta_defined;
  const bool ran = r.status == CellStatus::done || r.status == CellStatus::undefined;
  const bool have_trials = !r.trial_lambda.empty() && r.trial_lambda.size() == static_cast<size_t>(r.trials) &&
                           r.trial_eta.size() == r.trial_lambda.size();
  if (!ran) {
    lambda_q = eta_q = CellRecord::no_quantiles();
    lambda_n = eta_n = 0;
  } else if (have_trials) {
    const auto defined = [](const std::vector<double>& v) {
      return static_cast<std::int32_t>(std::count_if(v.begin(), v.end(), [](double x) { return !std::isnan(x); }));
    };
    if (std::isnan(lambda_q[2])) lambda_q = mc::quantiles(r.trial_lambda);  // NaN (undefined) values left out
    if (std::isnan(eta_q[2])) eta_q = mc::quantiles(r.trial_eta);
    if (lambda_n < 0) lambda_n = defined(r.trial_lambda);
    if (eta_n < 0) eta_n = defined(r.trial_eta);
  }
  if (ran && lambda_n < 0) lambda_n = r.trials;  // a record of an engine that failed undefined trials
  if (ran && eta_n < 0) eta_n = r.trials;
  lambda_defined[i] = lambda_n;
  eta_defined[i] = eta_n;
  std::copy(lambda_q.begin(), lambda_q.end(),
            lambda_quantile.begin() + static_cast<std::ptrdiff_t>(i * lambda_q.size()));
  std::copy(eta_q.begin(), eta_q.end(), eta_quantile.begin() + static_cast<std::ptrdiff_t>(i * eta_q.size()));
  status.at(i) = static_cast<std::uint8_t>(r.status);
  trials[i] = r.trials;
  attempts[i] = r.attempts;
  lambda_mean[i] = r.lambda_mean;
  lambda_stderr[i] = r.lambda_stderr;
  eta_mean[i] = r.eta_mean;
  eta_stderr[i] = r.eta_stderr;
  seconds[i] = r.seconds;
  if (r.error.empty())
    error.erase(r.cell);
  else
    error[r.cell] = r.error;
}

const std::string& SweepState::error_of(std::int64_t cell) const {
  static const std::string none;
  const auto it = error.find(cell);
  return it == error.end() ? none : it->second;
}

std::int64_t CellBox::size() const {
  std::int64_t cells = 1;
  for (std::int64_t c : count) cells *= c;
  return cells;
}

std::int64_t CellBox::flat_index(std::int64_t k, const std::vector<std::int64_t>& shape) const {
  std::int64_t flat = 0, stride = 1;
  for (size_t a = shape.size(); a-- > 0;) {
    flat += (start[a] + k % count[a]) * stride;
    k /= count[a];
    stride *= shape[a];
  }
  return flat;
}

CellRecord SweepState::record(std::int64_t cell) const {
  const auto i = static_cast<size_t>(cell);
  CellRecord r{cell,
               static_cast<CellStatus>(status.at(i)),
               trials[i],
               lambda_mean[i],
               lambda_stderr[i],
               eta_mean[i],
               eta_stderr[i],
               seconds[i],
               attempts[i],
               error_of(cell),
               {},
               {}};
  if (lambda_defined.size() == lambda_mean.size()) {
    r.lambda_defined = lambda_defined[i];
    r.eta_defined = eta_defined[i];
  }
  const size_t q = mc::kQuantileLevels.size();
  if (lambda_quantile.size() == lambda_mean.size() * q) {
    std::copy_n(lambda_quantile.begin() + static_cast<std::ptrdiff_t>(i * q), q, r.lambda_quantiles.begin());
    std::copy_n(eta_quantile.begin() + static_cast<std::ptrdiff_t>(i * q), q, r.eta_quantiles.begin());
  }
  if (trial_slots_ > 0 && (r.status == CellStatus::done || r.status == CellStatus::undefined)) {
    const auto slots = static_cast<size_t>(trial_slots_);
    const size_t count = std::min(slots, static_cast<size_t>(std::max(0, trials[i])));
    // Known unless every value is NaN (a file without per-trial values) and the counts do not
    // say that every trial was undefined.
    bool known = r.lambda_defined == 0 && r.eta_defined == 0;
    for (size_t t = 0; t < count && !known; ++t)
      known = !std::isnan(trial_lambda[i * slots + t]) || !std::isnan(trial_eta[i * slots + t]);
    if (count > 0 && known) {
      r.trial_lambda.assign(trial_lambda.begin() + static_cast<std::ptrdiff_t>(i * slots),
                            trial_lambda.begin() + static_cast<std::ptrdiff_t>(i * slots + count));
      r.trial_eta.assign(trial_eta.begin() + static_cast<std::ptrdiff_t>(i * slots),
                         trial_eta.begin() + static_cast<std::ptrdiff_t>(i * slots + count));
    }
  }
  return r;
}

std::int64_t SweepState::count(CellStatus s) const {
  std::int64_t c = 0;
  for (auto v : status) c += v == static_cast<std::uint8_t>(s);
  return c;
}

namespace {
namespace h = h5;

// The coordinate datasets, as dimension scales named like their axis.
void write_axes(const h::Handle& file, const Layout& at, const std::vector<Axis>& axes) {
  for (size_t a = 0; a < axes.size(); ++a) {
    const Axis& axis = axes[a];
    const std::string path = axis_dataset(at, axes, a);
    switch (axis.kind) {
      case Axis::Kind::real:
        h::write_doubles(file, path, {axis.size()}, axis.values);
        break;
      case Axis::Kind::integer:
        h::write_int64(file, path, {axis.size()}, {axis.values.begin(), axis.values.end()});
        break;
      case Axis::Kind::label: {
        std::vector<const char*> labels;
        for (const std::string& label : axis.labels) labels.push_back(label.c_str());
        h::write_strings(file, path, {axis.size()}, labels);
        break;
      }
    }
    h::make_scale(file, path, axis.name);
  }
}

void write_cell_arrays(const h::Handle& file, const std::vector<std::int64_t>& shape, const SweepState& state) {
  h::write_doubles(file, "lambda_mean", shape, state.lambda_mean);
  h::write_doubles(file, "lambda_stderr", shape, state.lambda_stderr);
  h::write_doubles(file, "eta_mean", shape, state.eta_mean);
  h::write_doubles(file, "eta_stderr", shape, state.eta_stderr);
  h::write_int32(file, "trials", shape, state.trials);
  h::write_uint8(file, "status", shape, state.status);
  h::write_doubles(file, "seconds", shape, state.seconds);
  h::write_int32(file, "attempts", shape, state.attempts);
  h::write_int32(file, "lambda_defined", shape, state.lambda_defined);
  h::write_int32(file, "eta_defined", shape, state.eta_defined);
  std::vector<const char*> errors(static_cast<size_t>(state.size()), nullptr);
  for (const auto& [cell, text] : state.error) errors[static_cast<size_t>(cell)] = text.c_str();
  h::write_strings(file, "error", shape, errors);
  // Quantiles over the trials: a trailing `quantile` dimension whose coordinate is the level.
  const std::vector<double> levels(mc::kQuantileLevels.begin(), mc::kQuantileLevels.end());
  h::write_doubles(file, "quantile", {static_cast<std::int64_t>(levels.size())}, levels);
  std::vector<std::int64_t> with_level = shape;
  with_level.push_back(static_cast<std::int64_t>(levels.size()));
  h::write_doubles(file, "lambda_quantile", with_level, state.lambda_quantile);
  h::write_doubles(file, "eta_quantile", with_level, state.eta_quantile);
  h::make_scale(file, "/quantile", "quantile");
}

// Per-trial values (a trailing `trial` dimension), or an attribute saying why they are not kept.
void write_trial_arrays(const h::Handle& file, const std::vector<std::int64_t>& shape, const SweepState& state,
                        const SweepConfig& config) {
  if (state.trial_slots() == 0) {
    char why[160];
    std::snprintf(why, sizeof why, "not stored: %lld cells x %ld trials is over %lld values (or over %d trials a cell)",
                  static_cast<long long>(state.size()), config.trials, static_cast<long long>(kMaxTrialValues),
                  kMaxTrialSlots);
    h::set_attribute(file, "/", "per_trial_values", std::string(why));
    return;
  }
  std::vector<std::int64_t> trial_index(static_cast<size_t>(state.trial_slots()));
  for (size_t t = 0; t < trial_index.size(); ++t) trial_index[t] = static_cast<std::int64_t>(t);
  h::write_int64(file, "trial", {state.trial_slots()}, trial_index);
  std::vector<std::int64_t> with_trial = shape;
  with_trial.push_back(state.trial_slots());
  h::write_doubles(file, "lambda_trial", with_trial, state.trial_lambda);
  h::write_doubles(file, "eta_trial", with_trial, state.trial_eta);
  h::make_scale(file, "/trial", "trial");
}

// The config (with its CRC-32, so that a flipped byte is caught like one in an array), its hash
// and the build.
void write_meta(const h::Handle& file, const Layout& at, const SweepConfig& config) {
  h::Handle meta = h::create_group(file, "meta");
  const std::string config_text = config.canonical_text();
  h::write_string(meta, "config", config_text);
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(config.hash()));
  h::write_string(meta, "config_hash", hash);
  h::write_string(meta, "build", build_description());
  h::set_attribute(file, at.config, "crc32", static_cast<std::int64_t>(crc32(config_text.data(), config_text.size())));
}

// Every array's dimensions named by the axes' scales (and the trial scale for per-trial arrays).
void attach_scales(const h::Handle& file, const Layout& at, const std::vector<Axis>& axes, bool trials) {
  const std::vector<const char*> fixed = at.arrays();
  std::vector<std::string> arrays(fixed.begin(), fixed.end());
  arrays.insert(arrays.end(), {"/lambda_defined", "/eta_defined", "/lambda_quantile", "/eta_quantile"});
  if (trials) arrays.insert(arrays.end(), {"/lambda_trial", "/eta_trial"});
  for (const std::string& array : arrays) {
    for (size_t a = 0; a < axes.size(); ++a)
      h::attach_scale(file, array, axis_dataset(at, axes, a), static_cast<unsigned>(a));
  }
  for (const char* array : {"/lambda_quantile", "/eta_quantile"})
    h::attach_scale(file, array, "/quantile", static_cast<unsigned>(axes.size()));
  if (trials) {
    for (const char* array : {"/lambda_trial", "/eta_trial"})
      h::attach_scale(file, array, "/trial", static_cast<unsigned>(axes.size()));
  }
}

// What each variable is and its units, for whoever opens the file without the docs (MODEL.md
// section 3).
std::vector<Variable> sweep_variables(const Layout& at, const std::vector<Axis>& axes, bool trials) {
  std::vector<Variable> v;
  for (size_t a = 0; a < axes.size(); ++a)
    v.push_back(
        {axis_dataset(at, axes, a), axis_long_name(axes[a].name), axes[a].kind == Axis::Kind::label ? "" : "1"});
  v.insert(
      v.end(),
      {{at.lambda_mean, "angle ratio lambda, mean over trials", "1"},
       {at.lambda_stderr, "standard error of lambda_mean (NaN with one trial)", "1"},
       {at.eta_mean, "normalised Jacobian norm eta = ||J||_F^2 / (n d), mean over trials", "1"},
       {at.eta_stderr, "standard error of eta_mean (NaN with one trial)", "1"},
       {"/lambda_quantile", "angle ratio lambda, quantiles over trials (0.5: the median; NaN: not known)", "1"},
       {"/eta_quantile", "eta, quantiles over trials (0.5: the median; NaN: not known)", "1"},
       {"/quantile", "quantile level of the trials' distribution", "1"},
       {"/lambda_defined", "trials on which lambda is defined (it is not without a pair of distinct directions)", "1"},
       {"/eta_defined", "trials on which eta is defined (it is not with a zero-length output token)", "1"},
       {at.trials, "trials in the cell", "1"},
       {at.seconds, "compute time of the cell", "s"},
       {at.attempts, "attempts at the cell", "1"},
       {at.error, "last error text of the cell (empty unless failed)", ""},
       {at.status, "cell status", ""}});
  if (trials) {
    v.insert(v.end(), {{"/trial", "trial index (its random draws)", ""},
                       {"/lambda_trial", "angle ratio lambda of each trial (NaN: not run)", "1"},
                       {"/eta_trial", "eta of each trial (NaN: not run)", "1"}});
  }
  return v;
}

void describe_sweep_file(const h::Handle& file, const Layout& at, const SweepConfig& config,
                         const std::vector<Axis>& axes, bool trials) {
  describe_file(file, "sweep", kSchemaVersion, "attnsweep phase diagram of critical attention scaling");
  h::set_attribute(file, at.axes[1], "scale",
                   config.gamma_scale == GammaScale::critical ? std::string("critical: gamma = value / (1 - rho)")
                                                              : std::string("absolute"));
  describe_variables(file, sweep_variables(at, axes, trials));
  describe_flags(file, at.status, {"missing", "done", "failed", "undefined"});
}
}  // namespace

void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state) {
  const std::vector<Axis> axes = study_axes(config);
  std::vector<std::int64_t> shape;
  for (const Axis& axis : axes) shape.push_back(axis.size());
  const Layout& at = kLayoutV2;
  write_hdf5_atomically(path, [&](const h::Handle& file) {
    write_axes(file, at, axes);
    write_cell_arrays(file, shape, state);
    write_trial_arrays(file, shape, state, config);
    write_meta(file, at, config);
    h::set_attribute(file, at.error, "crc32", static_cast<std::int64_t>(errors_crc(state.error)));
    attach_scales(file, at, axes, state.trial_slots() > 0);
    describe_sweep_file(file, at, config, axes, state.trial_slots() > 0);
  });
}

}  // namespace attnsweep::io
