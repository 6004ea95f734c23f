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
#include "attnsweep/model/layer.hpp"
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
      {"scaling", "attention scaling law: beta as a function of gamma and n"},
      {"mask", "attention mask: none, or causal (row i attends to tokens 0..i)"},
      {"position",
       "what the observables describe: the whole sequence, or position bucket b (tokens 2^b .. "
       "2^(b+1) - 1; bucket 0: tokens 0 and 1; last: the last bucket of n; lambda's pairs by their "
       "later token, eta's rows)"}};
  const auto it = names.find(name);
  return it == names.end() ? "swept model parameter" : it->second;
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const Layout kLayoutV1 = {{"/grid/rho", "/grid/gamma", "/grid/d", "/grid/n"},
                          "/results/%s/mean",
                          "/results/%s/stderr",
                          "/results/trials",
                          "/cells/status",
                          "/cells/seconds",
                          "/cells/attempts",
                          "/cells/error",
                          "/meta/config",
                          "/meta/config_hash",
                          "/meta/build",
                          1};
// Schemas 2 to 4 share the places; each stores the observables that came before it.
const Layout kLayoutV2 = {{"/rho", "/gamma", "/d", "/n"},
                          "/%s_mean",
                          "/%s_stderr",
                          "/trials",
                          "/status",
                          "/seconds",
                          "/attempts",
                          "/error",
                          "/meta/config",
                          "/meta/config_hash",
                          "/meta/build",
                          2};
Layout with_schema(Layout layout, int schema) {
  layout.schema = schema;
  return layout;
}
const Layout kLayoutV3 = with_schema(kLayoutV2, 3);
const Layout kLayoutV4 = with_schema(kLayoutV2, 4);
static_assert(kSchemaVersion == 4, "kLayoutV4 is the layout written (schema 4: schema 3 plus eta_probe_stderr)");
}  // namespace

namespace {
std::string with_name(const char* pattern, size_t k) {
  std::string path = pattern;
  return path.replace(path.find("%s"), 2, mc::kObservables[k].name);
}
}  // namespace

std::string Layout::mean(size_t k) const { return with_name(mean_pattern, k); }
std::string Layout::std_error(size_t k) const { return with_name(stderr_pattern, k); }

bool Layout::stores(size_t k) const { return mc::kObservables[k].since_schema <= schema; }

std::vector<std::string> Layout::arrays() const {
  std::vector<std::string> all;
  for (size_t k = 0; k < mc::kObservableCount; ++k)
    if (stores(k)) all.insert(all.end(), {mean(k), std_error(k)});
  all.insert(all.end(), {trials, status, seconds, attempts, error});
  return all;
}

std::string observable_dataset(size_t k, const char* suffix) {
  return std::string("/") + mc::kObservables[k].name + "_" + suffix;
}

const Layout& layout_of(std::int64_t schema, const std::string& path) {
  if (schema == 1) return kLayoutV1;
  if (schema == 2) return kLayoutV2;
  if (schema == 3) return kLayoutV3;
  if (schema == 4) return kLayoutV4;
  throw WrongKindOfFile(path + ": schema version " + std::to_string(schema) +
                        " is not supported (this build reads 1 to 4" +
                        (schema > 4 ? "; the file is from a newer attnsweep)" : ")"));
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

void write_cell_arrays(const h::Handle& file, const Layout& at, const std::vector<std::int64_t>& shape,
                       const SweepState& state) {
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    h::write_doubles(file, at.mean(k), shape, state.observables[k].mean);
    h::write_doubles(file, at.std_error(k), shape, state.observables[k].std_error);
  }
  h::write_int32(file, "trials", shape, state.trials);
  h::write_uint8(file, "status", shape, state.status);
  h::write_doubles(file, "seconds", shape, state.seconds);
  h::write_int32(file, "attempts", shape, state.attempts);
  for (size_t k = 0; k < mc::kObservableCount; ++k)
    h::write_int32(file, observable_dataset(k, "defined"), shape, state.observables[k].defined);
  std::vector<const char*> errors(static_cast<size_t>(state.size()), nullptr);
  for (const auto& [cell, text] : state.error) errors[static_cast<size_t>(cell)] = text.c_str();
  h::write_strings(file, "error", shape, errors);
  // Quantiles over the trials: a trailing `quantile` dimension whose coordinate is the level.
  const std::vector<double> levels(mc::kQuantileLevels.begin(), mc::kQuantileLevels.end());
  h::write_doubles(file, "quantile", {static_cast<std::int64_t>(levels.size())}, levels);
  std::vector<std::int64_t> with_level = shape;
  with_level.push_back(static_cast<std::int64_t>(levels.size()));
  for (size_t k = 0; k < mc::kObservableCount; ++k)
    h::write_doubles(file, observable_dataset(k, "quantile"), with_level, state.observables[k].quantile);
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
  for (size_t k = 0; k < mc::kObservableCount; ++k)
    h::write_doubles(file, observable_dataset(k, "trial"), with_trial, state.observables[k].trial);
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

// Every array's dimensions named by the axes' scales (and the quantile or trial scale last).
void attach_scales(const h::Handle& file, const Layout& at, const std::vector<Axis>& axes, bool trials) {
  std::vector<std::string> arrays = at.arrays();
  std::vector<std::pair<std::string, const char*>> trailing;  // array, its last dimension's scale
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    arrays.push_back(observable_dataset(k, "defined"));
    trailing.emplace_back(observable_dataset(k, "quantile"), "/quantile");
    if (trials) trailing.emplace_back(observable_dataset(k, "trial"), "/trial");
  }
  for (const auto& [array, scale] : trailing) arrays.push_back(array);
  for (const std::string& array : arrays) {
    for (size_t a = 0; a < axes.size(); ++a)
      h::attach_scale(file, array, axis_dataset(at, axes, a), static_cast<unsigned>(a));
  }
  for (const auto& [array, scale] : trailing) h::attach_scale(file, array, scale, static_cast<unsigned>(axes.size()));
}

// What each variable is and its units, for whoever opens the file without the docs (MODEL.md
// section 3).
std::vector<Variable> sweep_variables(const Layout& at, const std::vector<Axis>& axes, bool trials) {
  std::vector<Variable> v;
  for (size_t a = 0; a < axes.size(); ++a)
    v.push_back(
        {axis_dataset(at, axes, a), axis_long_name(axes[a].name), axes[a].kind == Axis::Kind::label ? "" : "1"});
  for (size_t k = 0; k < mc::kObservableCount; ++k) {
    const mc::ObservableInfo& o = mc::kObservables[k];
    const std::string name = o.name, what = o.long_name;
    const std::string one_trial = k == mc::kEta ? "one trial: the spread of its Hutchinson probes (eta_probe_stderr) "
                                                  "on simplex tokens, NaN on gaussian tokens"
                                                : "NaN with one trial";
    v.insert(v.end(), {{at.mean(k), what + ", mean over trials", o.units, true},
                       {at.std_error(k), "standard error of " + name + "_mean (" + one_trial + ")", o.units, true},
                       {observable_dataset(k, "quantile"),
                        what + ", quantiles over trials (0.5: the median; NaN: not known)", o.units, true},
                       {observable_dataset(k, "defined"),
                        "trials on which " + name + " is defined (undefined: " + o.undefined_when + ")", "1"}});
    if (trials)
      v.push_back(
          {observable_dataset(k, "trial"), what + " of each trial (NaN: not run, or undefined)", o.units, true});
  }
  v.insert(v.end(), {{"/quantile", "quantile level of the trials' distribution", "1"},
                     {at.trials, "trials in the cell", "1"},
                     {at.seconds, "compute time of the cell", "s"},
                     {at.attempts, "attempts at the cell", "1"},
                     {at.error, "last error text of the cell (empty unless failed)", ""},
                     {at.status, "cell status", ""}});
  if (trials) v.push_back({"/trial", "trial index (its random draws)", ""});
  return v;
}

// Coordinates derived from the axes, where they apply (CF auxiliary coordinates, named in each
// data variable's `coordinates` attribute): kappa = gamma (1 - rho) and beta = gamma times the
// scaling law of n (per cell's gamma: on the critical scale the axis value over 1 - rho), and the
// paper's critical gamma 1 / (1 - rho) for one layer, alpha = 0 and beta = gamma ln n only.
std::string write_derived_coordinates(const h::Handle& file, const SweepConfig& config, const std::vector<Axis>& axes) {
  const auto R = static_cast<std::int64_t>(config.rho.size()), G = static_cast<std::int64_t>(config.gamma.size()),
             N = static_cast<std::int64_t>(config.n.size());
  std::vector<model::ScalingLaw> laws{config.scaling};
  std::vector<std::int64_t> beta_shape{R, G, N};
  size_t scaling_axis = 0;
  for (size_t a = 0; a < axes.size(); ++a)
    if (axes[a].name == "scaling") scaling_axis = a;  // a swept axis: never the first
  if (scaling_axis > 0) {
    laws.clear();
    for (const std::string& label : axes[scaling_axis].labels) laws.push_back(model::parse_scaling(label));
    beta_shape.push_back(static_cast<std::int64_t>(laws.size()));
  }
  std::vector<double> kappa, beta;
  for (double rho : config.rho)
    for (double g : config.gamma) {
      const double gamma = cell_gamma(config, rho, g);
      kappa.push_back(gamma * (1 - rho));
      for (long n : config.n)
        for (model::ScalingLaw law : laws)
          beta.push_back(
              model::attention_scale(gamma, static_cast<double>(n), law, static_cast<double>(config.train_length)));
    }
  h::write_doubles(file, "kappa", {R, G}, kappa);
  h::write_doubles(file, "beta", beta_shape, beta);
  const char* scales[] = {"/rho", "/gamma", "/n"};
  for (unsigned a = 0; a < 2; ++a) h::attach_scale(file, "/kappa", scales[a], a);
  for (unsigned a = 0; a < 3; ++a) h::attach_scale(file, "/beta", scales[a], a);
  if (scaling_axis > 0) h::attach_scale(file, "/beta", "/scaling", 3);
  describe_variables(file,
                     {{"/kappa", "kappa = gamma (1 - rho): subcritical below 1, supercritical above", "1"},
                      {"/beta",
                       "beta: gamma times the scaling law of n (the softmax's inverse temperature; for log-keys and "
                       "qwen-logn the last row's, which attends to n keys)",
                       "1"}});
  std::string names = "kappa beta";
  const bool paper = config.scaling == model::ScalingLaw::log && config.layers == 1 && config.alpha == 0 &&
                     config.mask == model::Mask::none && !is_swept(config, "alpha") && !is_swept(config, "layers") &&
                     !is_swept(config, "scaling") && !is_swept(config, "mask");
  if (paper) {
    std::vector<double> critical;
    for (double rho : config.rho) critical.push_back(1 / (1 - rho));
    h::write_doubles(file, "gamma_critical", {R}, critical);
    h::attach_scale(file, "/gamma_critical", "/rho", 0);
    describe_variables(file,
                       {{"/gamma_critical", "the paper's critical gamma 1 / (1 - rho) (one layer, alpha = 0)", "1"}});
    names += " gamma_critical";
  }
  return names;
}

void describe_sweep_file(const h::Handle& file, const Layout& at, const SweepConfig& config,
                         const std::vector<Axis>& axes, bool trials) {
  describe_file(file, "sweep", kSchemaVersion, "attnsweep phase diagram of critical attention scaling");
  h::set_attribute(file, at.axes[1], "scale",
                   config.gamma_scale == GammaScale::critical ? std::string("critical: gamma = value / (1 - rho)")
                                                              : std::string("absolute"));
  describe_variables(file, sweep_variables(at, axes, trials));
  describe_flags(file, at.status, {"missing", "done", "failed", "undefined"});
  describe_settings(file, config.canonical_text());
  const std::string coordinates = write_derived_coordinates(file, config, axes);
  for (const std::string& array : at.arrays()) h::set_attribute(file, array, "coordinates", coordinates);
}
}  // namespace

void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state) {
  const std::vector<Axis> axes = study_axes(config);
  std::vector<std::int64_t> shape;
  for (const Axis& axis : axes) shape.push_back(axis.size());
  const Layout& at = kLayoutV4;
  write_hdf5_atomically(path, [&](const h::Handle& file) {
    write_axes(file, at, axes);
    write_cell_arrays(file, at, shape, state);
    write_trial_arrays(file, shape, state, config);
    write_meta(file, at, config);
    h::set_attribute(file, at.error, "crc32", static_cast<std::int64_t>(errors_crc(state.error)));
    attach_scales(file, at, axes, state.trial_slots() > 0);
    describe_sweep_file(file, at, config, axes, state.trial_slots() > 0);
  });
}

}  // namespace attnsweep::io
