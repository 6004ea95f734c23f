#include "attnsweep/io/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "config_text.hpp"

namespace attnsweep::io {

namespace po = boost::program_options;

namespace {
// A value as quoted in an error message: at most 80 characters, so that an error about a huge
// axis is still one readable line.
std::string quoted(const std::string& text) {
  std::string shown = text.size() <= 80 ? text : text.substr(0, 60);
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';  // a newline would make it two lines
  return text.size() <= 80 ? shown : shown + "... (" + std::to_string(text.size()) + " characters)";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(trim(part));
  if (!s.empty() && s.back() == sep) parts.push_back("");
  return parts;
}

double parse_real(const std::string& key, const std::string& text) {
  const std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size()) throw InputError(key + ": '" + quoted(text) + "' is not a number");
  // Underflow (1e-308 and below) gives a tiny or zero value that the range rules judge;
  // overflow has no value at all.
  if ((errno == ERANGE && std::abs(v) > 1) || !std::isfinite(v)) {
    throw InputError(key + ": '" + quoted(text) + "' is not a finite number (beyond the range of a double)");
  }
  return v;
}

long parse_integer(const std::string& key, const std::string& text) {
  const std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE) {
    throw InputError(key + ": '" + quoted(text) + "' is not an integer");
  }
  return v;
}

// Grid values are rounded to 12 significant digits so that 0.05 + 2 * 0.05 is the same
// double as a user typing 0.15 (and `attnsweep cell --rho 0.15` reproduces that cell).
double tidy(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return std::strtod(buf, nullptr);
}

struct Keys {
  std::string rho, gamma, d, n, gamma_scale, trials, probes, jacobian, geometry, alpha, scaling, layers, seed, cache_mb,
      max_attempts, threads, file, target, tolerance, resamples, confidence, critical_file, grid_alpha, grid_layers,
      grid_scaling, mask, train_length, grid_mask, position, mc_position, grid_position;
};

po::options_description describe(Keys& k) {
  po::options_description desc;
  desc.add_options()("grid.rho", po::value(&k.rho)->required())("grid.gamma", po::value(&k.gamma)->required())(
      "grid.d", po::value(&k.d)->required())("grid.n", po::value(&k.n)->required())(
      "grid.gamma-scale", po::value(&k.gamma_scale)->default_value("absolute"))("grid.alpha", po::value(&k.grid_alpha))(
      "grid.layers", po::value(&k.grid_layers))("grid.scaling", po::value(&k.grid_scaling))(
      "grid.mask", po::value(&k.grid_mask))("mc.mask", po::value(&k.mask)->default_value("none"))(
      "grid.position", po::value(&k.grid_position))("mc.position", po::value(&k.mc_position)->default_value("whole"))(
      "mc.train-length", po::value(&k.train_length))("critical.position", po::value(&k.position))(
      "mc.trials", po::value(&k.trials))("mc.probes", po::value(&k.probes)->default_value("4"))(
      "mc.jacobian", po::value(&k.jacobian)->default_value("exact"))("mc.geometry",
                                                                     po::value(&k.geometry)->default_value("gaussian"))(
      "mc.alpha", po::value(&k.alpha)->default_value("0"))("mc.scaling", po::value(&k.scaling)->default_value("log"))(
      "mc.layers", po::value(&k.layers)->default_value("1"))("mc.seed", po::value(&k.seed)->default_value("2025"))(
      "mc.cache-mb", po::value(&k.cache_mb)->default_value(std::to_string(kDefaultCacheMiB)))(
      "run.max-attempts", po::value(&k.max_attempts)->default_value("2"))("run.threads",
                                                                          po::value(&k.threads)->default_value("1"))(
      "critical.target", po::value(&k.target)->default_value("paper"))("critical.tolerance",
                                                                       po::value(&k.tolerance)->default_value("1e-4"))(
      "critical.resamples", po::value(&k.resamples)->default_value("2000"))(
      "critical.confidence", po::value(&k.confidence)->default_value("0.95"))(
      "critical.file", po::value(&k.critical_file)->default_value(""))(
      "output.file", po::value(&k.file)->default_value("attnsweep.h5"));
  return desc;
}

// "key=value" -> "[section]\nkey=value", accepting a bare key when only one section has it.
std::string override_as_ini(const std::string& assignment, const po::options_description& desc) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("override '" + assignment + "' is not of the form section.key=value");
  }
  if (assignment.find_first_of("\n\r") != std::string::npos) {
    throw InputError("override '" + quoted(assignment) + "' spans several lines (an override is one key=value)");
  }
  std::string key = trim(assignment.substr(0, eq));
  const std::string value = trim(assignment.substr(eq + 1));
  if (key.find('.') == std::string::npos) {
    std::string match, all;
    for (const auto& option : desc.options()) {
      const std::string& full = option->long_name();
      if (full.substr(full.find('.') + 1) != key) continue;
      all += (all.empty() ? "" : " or ") + full;
      if (!match.empty())
        throw InputError("override '" + assignment + "': '" + key + "' is " + all + ": name the section");
      match = full;
    }
    if (match.empty()) {
      throw InputError("override '" + assignment + "': unknown config key '" + key + "'" + closest_key_hint(key, desc));
    }
    key = match;
  }
  const auto dot = key.find('.');
  return "[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) + " = " + value + "\n";
}

template <class T>
void require(bool ok, const std::string& key, const T& value, const std::string& rule) {
  if (!ok) {
    std::ostringstream msg;
    msg << value;
    throw InputError(key + " = " + quoted(msg.str()) + ": " + rule);
  }
}
std::string value_text(double v) { return format_real(v); }
std::string value_text(long v) { return std::to_string(v); }

// An axis may not repeat a value. Sorting a copy keeps this O(N log N) for axes of up to
// 10^6 values (a pairwise check would be 10^12 comparisons).
template <class T>
void require_distinct(const std::vector<T>& values, const std::string& key, const std::string& text) {
  std::vector<T> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) require(false, key, text, "repeated value " + value_text(*repeated));
}
}  // namespace

std::string format_real(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", value);
  if (std::strtod(buf, nullptr) == value) return buf;
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// An axis list with an empty item: named as such (a trailing or doubled comma), not as "'' is
// not a number".
void require_no_empty_item(const std::vector<std::string>& parts, const std::string& key, const std::string& text) {
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty()) continue;
    require(false, key, text,
            i + 1 == parts.size() ? "a trailing comma (an empty value after the last one)"
                                  : "an empty value between commas (item " + std::to_string(i + 1) + ")");
  }
}

namespace {
// "start:stop:*factor": start, start * factor, ... up to stop (included when on the lattice).
bool is_factor(const std::string& part) { return !trim(part).empty() && trim(part)[0] == '*'; }

std::vector<double> geometric_real_axis(const std::string& key, const std::string& text,
                                        const std::vector<std::string>& parts) {
  const double start = parse_real(key, parts[0]), stop = parse_real(key, parts[1]);
  const double factor = parse_real(key, trim(parts[2]).substr(1));
  require(start > 0, key, text, "a geometric range needs start > 0");
  require(factor > 1, key, text, "factor must be > 1");
  require(stop >= start, key, text, "stop must be >= start");
  // Powers of the factor, not repeated products, so that rounding does not accumulate; stop is
  // included when it lies on the lattice up to rounding.
  const double span = std::log(stop / start) / std::log(factor);
  require(std::isfinite(span) && span < static_cast<double>(kMaxAxisValues), key, text,
          "more than " + std::to_string(kMaxAxisValues) + " values");
  const long count = static_cast<long>(std::floor(span + 1e-9)) + 1;
  std::vector<double> values;
  for (long k = 0; k < count; ++k) values.push_back(tidy(start * std::pow(factor, static_cast<double>(k))));
  return values;
}

std::vector<long> geometric_integer_axis(const std::string& key, const std::string& text,
                                         const std::vector<std::string>& parts) {
  const long start = parse_integer(key, parts[0]), stop = parse_integer(key, parts[1]);
  const long factor = parse_integer(key, trim(parts[2]).substr(1));
  require(start > 0, key, text, "a geometric range needs start > 0");
  require(factor >= 2, key, text, "factor must be an integer >= 2");
  require(stop >= start, key, text, "stop must be >= start");
  std::vector<long> values;
  // In 128 bits: the last product may pass stop without overflowing.
  for (__int128 v = start; v <= stop; v *= factor) values.push_back(static_cast<long>(v));
  return values;
}

template <class T>
std::vector<T> distinct(std::vector<T> values, const std::string& key, const std::string& text) {
  require_distinct(values, key, text);
  return values;
}
}  // namespace

std::vector<double> parse_real_axis(const std::string& key, const std::string& text) {
  std::vector<double> values;
  const std::string t = trim(text);
  if (t.empty()) throw InputError(key + ": empty axis");
  if (t.find(':') != std::string::npos) {
    const auto parts = split(t, ':');
    if (parts.size() != 3)
      throw InputError(key + ": '" + quoted(text) + "' is not start:stop:step or start:stop:*factor");
    if (is_factor(parts[2])) return distinct(geometric_real_axis(key, text, parts), key, text);
    const double start = parse_real(key, parts[0]), stop = parse_real(key, parts[1]), step = parse_real(key, parts[2]);
    require(step > 0, key, text, "step must be > 0");
    require(stop >= start, key, text, "stop must be >= start");
    // Stop is included when it lies on the lattice up to rounding of the step. The count is
    // checked as a double first: a tiny step must not overflow the conversion.
    const double span = (stop - start) / step;
    require(std::isfinite(span) && span < static_cast<double>(kMaxAxisValues), key, text,
            "more than " + std::to_string(kMaxAxisValues) + " values");
    const long count = static_cast<long>(std::floor(span + 1e-9)) + 1;
    for (long k = 0; k < count; ++k) values.push_back(tidy(start + static_cast<double>(k) * step));
  } else {
    const auto parts = split(t, ',');
    require(parts.size() <= kMaxAxisValues, key, text, "more than " + std::to_string(kMaxAxisValues) + " values");
    require_no_empty_item(parts, key, text);
    for (const auto& part : parts) values.push_back(tidy(parse_real(key, part)));
  }
  require_distinct(values, key, text);
  return values;
}

std::vector<long> parse_integer_axis(const std::string& key, const std::string& text) {
  std::vector<long> values;
  const std::string t = trim(text);
  if (t.empty()) throw InputError(key + ": empty axis");
  if (t.find(':') != std::string::npos) {
    const auto parts = split(t, ':');
    if (parts.size() != 3)
      throw InputError(key + ": '" + quoted(text) + "' is not start:stop:step or start:stop:*factor");
    if (is_factor(parts[2])) return distinct(geometric_integer_axis(key, text, parts), key, text);
    const long start = parse_integer(key, parts[0]), stop = parse_integer(key, parts[1]),
               step = parse_integer(key, parts[2]);
    require(step > 0, key, text, "step must be > 0");
    require(stop >= start, key, text, "stop must be >= start");
    // In 128 bits: stop - start and the values themselves must not overflow.
    const auto count = static_cast<__int128>(stop - static_cast<__int128>(start)) / step + 1;
    require(count <= static_cast<__int128>(kMaxAxisValues), key, text,
            "more than " + std::to_string(kMaxAxisValues) + " values");
    for (long k = 0; k < static_cast<long>(count); ++k) values.push_back(start + k * step);
  } else {
    const auto parts = split(t, ',');
    require(parts.size() <= kMaxAxisValues, key, text, "more than " + std::to_string(kMaxAxisValues) + " values");
    require_no_empty_item(parts, key, text);
    for (const auto& part : parts) values.push_back(parse_integer(key, part));
  }
  require_distinct(values, key, text);
  return values;
}

double cell_gamma(const SweepConfig& config, double rho, double gamma_axis_value) {
  return config.gamma_scale == GammaScale::critical ? gamma_axis_value / (1 - rho) : gamma_axis_value;
}

// Stores the key=value overrides. In program_options the first stored value wins, so they are
// stored before the file; a key overridden twice is an error, as a key given twice in the file is.
static void store_overrides(const std::vector<std::string>& overrides, const po::options_description& desc,
                            po::variables_map& vm) {
  std::set<std::string> overridden;
  for (const auto& assignment : overrides) {
    try {
      const std::string ini = override_as_ini(assignment, desc);
      const std::string section = ini.substr(1, ini.find(']') - 1);
      const std::string key = section + "." + trim(ini.substr(ini.find('\n') + 1, ini.find('=') - ini.find('\n') - 1));
      if (!overridden.insert(key).second) throw InputError("override of '" + key + "' given twice");
      std::istringstream in(ini);
      po::store(po::parse_config_file(in, desc, false), vm);
    } catch (const po::unknown_option& e) {
      throw InputError("override '" + assignment + "': unknown config key '" + e.get_option_name() + "'" +
                       closest_key_hint(e.get_option_name(), desc));
    } catch (const po::error& e) {
      throw InputError("override '" + assignment + "': " + e.what());
    }
  }
}

// [grid]: the four fixed axes and the gamma scale.
static void parse_grid_keys(const Keys& k, SweepConfig& c) {
  c.rho = parse_real_axis("grid.rho", k.rho);
  c.gamma = parse_real_axis("grid.gamma", k.gamma);
  c.d = parse_integer_axis("grid.d", k.d);
  c.n = parse_integer_axis("grid.n", k.n);
  for (double v : c.rho) require(v >= 0 && v < 1, "grid.rho", format_real(v), "must satisfy 0 <= rho < 1");
  for (double v : c.gamma) require(v >= 0, "grid.gamma", format_real(v), "must be >= 0");
  for (long v : c.d) require(v >= 1, "grid.d", v, "must be >= 1");
  for (long v : c.n) require(v >= 2, "grid.n", v, "must be >= 2");
  for (long v : c.d) require(v <= kMaxDimension, "grid.d", v, "must be <= " + std::to_string(kMaxDimension));
  for (long v : c.n) require(v <= kMaxTokens, "grid.n", v, "must be <= " + std::to_string(kMaxTokens));
  const std::string scale = trim(k.gamma_scale);
  require(scale == "absolute" || scale == "critical", "grid.gamma-scale", scale, "must be absolute or critical");
  c.gamma_scale = scale == "critical" ? GammaScale::critical : GammaScale::absolute;
}

// mc.train-length: qwen-logn's T, needed by that law (scalar or swept) and refused without it (a
// value that changes nothing would still change the study's identity).
static void parse_train_length(const std::string& text, SweepConfig& c) {
  bool qwen = c.scaling == model::ScalingLaw::qwen_logn;
  for (model::ScalingLaw law : c.scaling_values) qwen = qwen || law == model::ScalingLaw::qwen_logn;
  if (trim(text).empty()) {
    if (qwen) throw InputError("mc.train-length: scaling qwen-logn needs the training length T (e.g. 1024)");
    return;
  }
  c.train_length = parse_integer("mc.train-length", text);
  require(c.train_length >= 2 && c.train_length <= kMaxTokens, "mc.train-length", c.train_length,
          "must be in [2, " + std::to_string(kMaxTokens) + "] (tokens)");
  require(qwen, "mc.train-length", c.train_length, "is used only by scaling qwen-logn (it changes nothing here)");
}

// [mc] and the swept model parameters of [grid]: what a trial computes.
static void parse_model_keys(const Keys& k, const po::variables_map& vm, SweepConfig& c) {
  // Parsed after the geometry: simplex tokens are deterministic (the layer is rotation-equivariant,
  // so a random rotation would change nothing but rounding), hence one trial by default and more
  // refused; gaussian tokens default to 8 trials.
  const bool trials_given = !k.trials.empty();
  c.probes = parse_integer("mc.probes", k.probes);
  require(c.probes >= 1 && c.probes <= kMaxProbes, "mc.probes", c.probes, "must be in [1, 10^4]");
  c.cache_mb = parse_integer("mc.cache-mb", k.cache_mb);
  require(c.cache_mb >= 0 && c.cache_mb <= kMaxCacheMiB, "mc.cache-mb", c.cache_mb, "must be in [0, 1048576] (MiB)");
  try {
    c.jacobian = mc::parse_jacobian(trim(k.jacobian));
    c.geometry = mc::parse_geometry(trim(k.geometry));
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("mc.") + e.what());
  }
  c.trials = trials_given ? parse_integer("mc.trials", k.trials) : (c.geometry == mc::Geometry::simplex ? 1 : 8);
  require(c.trials >= 1 && c.trials <= kMaxTrials, "mc.trials", c.trials, "must be in [1, 10^6]");
  require(c.geometry != mc::Geometry::simplex || c.trials == 1, "mc.trials", c.trials,
          "must be 1 with simplex geometry (its tokens are deterministic: every trial would repeat the first)");
  c.alpha = parse_real("mc.alpha", k.alpha);
  try {
    c.scaling = model::parse_scaling(trim(k.scaling));
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("mc.") + e.what());
  }
  c.layers = parse_integer("mc.layers", k.layers);
  check_layers("mc.layers", c.layers, c.jacobian);
  try {
    c.mask = model::parse_mask(trim(k.mask));
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("mc.") + e.what());
  }
  try {
    c.position = model::parse_position(trim(k.mc_position));
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("mc.") + e.what());
  }
  check_position("mc.position", c.position, c);
  parse_swept({{"alpha", trim(k.grid_alpha), !vm["mc.alpha"].defaulted()},
               {"layers", trim(k.grid_layers), !vm["mc.layers"].defaulted()},
               {"scaling", trim(k.grid_scaling), !vm["mc.scaling"].defaulted()},
               {"mask", trim(k.grid_mask), !vm["mc.mask"].defaulted()},
               {"position", trim(k.grid_position), !vm["mc.position"].defaulted()}},
              c);
  parse_train_length(k.train_length, c);
}

// The seed, [run], [critical] and [output].
static void parse_run_keys(const Keys& k, SweepConfig& c) {
  const long seed = parse_integer("mc.seed", k.seed);
  require(seed >= 0, "mc.seed", seed, "must be >= 0");
  c.seed = static_cast<std::uint64_t>(seed);
  c.max_attempts = parse_integer("run.max-attempts", k.max_attempts);
  require(c.max_attempts >= 1 && c.max_attempts <= 100, "run.max-attempts", c.max_attempts, "must be in [1, 100]");
  const long threads = parse_integer("run.threads", k.threads);
  require(threads >= 1 && threads <= mc::kMaxThreads, "run.threads", threads,
          "must be in [1, " + std::to_string(mc::kMaxThreads) + "]");
  c.threads = static_cast<int>(threads);
  if (trim(k.target) != "paper") {
    c.critical.target = parse_real("critical.target", k.target);
    require(c.critical.target > 0 && c.critical.target < 1, "critical.target", k.target,
            "must be paper (1 / (1 + 3 rho)) or a number in (0, 1)");
  }
  c.critical.tolerance = parse_real("critical.tolerance", k.tolerance);
  require(c.critical.tolerance >= 1e-12 && c.critical.tolerance <= 0.5, "critical.tolerance", k.tolerance,
          "must be in [1e-12, 0.5] (relative)");
  c.critical.resamples = parse_integer("critical.resamples", k.resamples);
  require(c.critical.resamples >= 1 && c.critical.resamples <= 1'000'000, "critical.resamples", c.critical.resamples,
          "must be in [1, 10^6]");
  c.critical.confidence = parse_real("critical.confidence", k.confidence);
  require(c.critical.confidence > 0 && c.critical.confidence < 1, "critical.confidence", k.confidence,
          "must be in (0, 1)");
  c.critical.file = trim(k.critical_file);
  const std::string position = trim(k.position);
  require(position.empty() || position == "whole" || position == "last" || position == "all", "critical.position",
          "'" + position + "'", "must be whole, last or all");
  c.critical.positions = position == "last"  ? CriticalConfig::Positions::last
                         : position == "all" ? CriticalConfig::Positions::all
                                             : CriticalConfig::Positions::whole;
  c.output = trim(k.file);
  require(!c.output.empty(), "output.file", "''", "must not be empty");
}

SweepConfig parse_config(const std::string& ini_text, const std::vector<std::string>& overrides,
                         const std::string& source_name) {
  Keys k;
  const po::options_description desc = describe(k);
  po::variables_map vm;
  store_overrides(overrides, desc, vm);
  try {
    // A UTF-8 byte-order mark (some editors write one) is not part of the first line.
    const bool bom = ini_text.rfind("\xEF\xBB\xBF", 0) == 0;
    std::istringstream in(bom ? ini_text.substr(3) : ini_text);
    po::store(po::parse_config_file(in, desc, false), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw InputError(source_name + line_of_key(ini_text, e.get_option_name()) + ": unknown config key '" +
                     e.get_option_name() + "'" + closest_key_hint(e.get_option_name(), desc));
  } catch (const po::required_option& e) {
    throw InputError(source_name + ": missing required key '" + e.get_option_name() + "'");
  } catch (const po::multiple_occurrences& e) {
    throw InputError(source_name + line_of_key(ini_text, e.get_option_name()) + ": key '" + e.get_option_name() +
                     "' given twice");
  } catch (const po::error& e) {
    throw InputError(source_name + ": " + e.what());
  }

  SweepConfig c;
  parse_grid_keys(k, c);
  parse_model_keys(k, vm, c);
  require_cells_fit(c, source_name);
  parse_run_keys(k, c);
  if (c.geometry == mc::Geometry::simplex) {
    long max_n = 0, min_d = c.d.front();
    for (long v : c.n) max_n = std::max(max_n, v);
    for (long v : c.d) min_d = std::min(min_d, v);
    require(min_d >= max_n + 1, "grid.d", min_d,
            "simplex geometry needs d >= n + 1 (largest n is " + std::to_string(max_n) + ")");
  }
  return c;
}

SweepConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  require_regular_file(path, "config file");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw InputError("config file '" + path + "' cannot be read");
  if (st.st_size > kMaxConfigBytes) {
    throw InputError("config file '" + path + "' has " + std::to_string(st.st_size) + " bytes; at most " +
                     std::to_string(kMaxConfigBytes) + " are allowed");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("config file '" + path + "' cannot be read");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  in.read(text.data(), st.st_size);
  text.resize(static_cast<size_t>(in.gcount()));
  if (trim(text).empty()) throw InputError("config file '" + path + "' is empty");
  return parse_config(text, overrides, path);
}

double SweepConfig::critical_target(double rho) const {
  return critical.target > 0 ? critical.target : 1 / (1 + 3 * rho);
}

std::string SweepConfig::critical_output() const {
  if (!critical.file.empty()) return critical.file;
  const std::string suffix = ".h5";
  const bool h5 =
      output.size() > suffix.size() && output.compare(output.size() - suffix.size(), suffix.size(), suffix) == 0;
  return (h5 ? output.substr(0, output.size() - suffix.size()) : output) + ".critical.h5";
}

}  // namespace attnsweep::io
