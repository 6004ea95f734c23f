// Reading and verifying a sweep's HDF5 file (the layout in results_layout.hpp): the header
// checked on open, cells read by box or slab in bounded memory, every dataset checked by verify.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "attnsweep/io/checksum.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/results_file.hpp"
#include "hdf5.hpp"
#include "results_layout.hpp"

namespace attnsweep::io {

namespace {
// An observable the file's schema does not store reads as unknown.
std::vector<double> unknown(std::int64_t count) {
  return std::vector<double>(static_cast<size_t>(count), std::numeric_limits<double>::quiet_NaN());
}
}  // namespace

ResultsReader::~ResultsReader() = default;
ResultsReader::ResultsReader(ResultsReader&&) noexcept = default;

ResultsReader::ResultsReader(const std::string& path) : path_(path) {
  namespace h = h5;
  std::int64_t schema = 0;
  // First, what the file is: HDF5, an attnsweep output, a sweep's (InputError otherwise).
  try {
    file_ = std::make_unique<h::Handle>(h::open_file_readonly(path));
    if (!h::has_attribute((*file_), "/", "schema_version")) {
      throw InputError(path + ": not an attnsweep output (no schema_version attribute)");
    }
    if (h::has_attribute((*file_), "/", "kind") && h::get_string_attribute((*file_), "/", "kind") == "critical") {
      throw WrongKindOfFile(
          path +
          ": a critical-search file, not a sweep's (`attnsweep critical` prints its table "
          "again with the same --config and --output; python/attnsweep's open_dataset, h5py and xarray read it)");
    }
    schema = h::get_int_attribute((*file_), "/", "schema_version");
  } catch (const h::Hdf5Error& e) {
    throw InputError(path + ": " + e.what());
  }
  layout_ = &layout_of(schema, path);
  header_.schema_version = schema;
  // Then its contents: from here on, anything missing, unreadable or inconsistent is damage.
  try {
    read_header();
  } catch (const CorruptFile&) {
    throw;
  } catch (const std::exception& e) {
    throw CorruptFile(path + ": " + e.what() + " (the file is damaged)");
  }
}

void ResultsReader::require_shape(const char* dataset, const std::vector<std::int64_t>& shape) const {
  if (!h5::exists((*file_), dataset)) throw CorruptFile(path_ + ": " + dataset + " is missing (the file is damaged)");
  const std::vector<std::int64_t> stored = h5::dataset_shape((*file_), dataset);
  if (stored != shape) {
    std::string text;
    for (auto v : stored) text += (text.empty() ? "" : " x ") + std::to_string(v);
    throw CorruptFile(path_ + ": " + dataset + " has shape (" + text + "), not the one its config gives " +
                      "(the file is damaged)");
  }
}

// Whether the stored coordinate `path` holds the axis's values, bit for bit.
bool ResultsReader::axis_matches(const Axis& axis, const std::string& path) const {
  namespace h = h5;
  switch (axis.kind) {
    case Axis::Kind::label:
      return h::read_strings((*file_), path) == axis.labels;
    case Axis::Kind::integer:
      return h::read_int64((*file_), path) == std::vector<std::int64_t>(axis.values.begin(), axis.values.end());
    case Axis::Kind::real:
      break;
  }
  const std::vector<double> stored = h::read_doubles((*file_), path);
  return stored.size() == axis.values.size() &&
         std::memcmp(stored.data(), axis.values.data(), stored.size() * sizeof(double)) == 0;
}

void ResultsReader::read_header() {
  namespace h = h5;
  const Layout& at = *layout_;
  if (!h::exists((*file_), at.config))
    throw CorruptFile(path_ + ": " + at.config + " is missing (the file is damaged)");
  header_.config_text = h::read_string((*file_), at.config);
  if (h::has_attribute((*file_), at.config, "crc32") &&
      h::get_int_attribute((*file_), at.config, "crc32") !=
          static_cast<std::int64_t>(crc32(header_.config_text.data(), header_.config_text.size()))) {
    throw CorruptFile(path_ + ": " + at.config + " fails its CRC-32 checksum (the file is damaged)");
  }
  header_.config = parse_config(header_.config_text, {}, path_ + ":" + at.config);
  header_.config_hash = header_.config.hash();
  const SweepConfig& c = header_.config;
  axes_ = study_axes(c);
  shape_.clear();
  for (const Axis& axis : axes_) shape_.push_back(axis.size());
  // Declared shapes are checked before anything is read: a damaged dataspace may declare 2^32
  // values, and reading it would ask for tens of GiB.
  for (size_t a = 0; a < axes_.size(); ++a) require_shape(axis_dataset(at, axes_, a).c_str(), {shape_[a]});
  const std::vector<std::int64_t>& shape = shape_;
  for (const std::string& array : at.arrays()) require_shape(array.c_str(), shape);
  for (size_t a = 0; a < axes_.size(); ++a) {
    if (!axis_matches(axes_[a], axis_dataset(at, axes_, a)))
      throw CorruptFile(path_ + ": the " + axes_[a].name + " axis does not match " + at.config +
                        " (the file is damaged)");
  }
  has_quantiles_ = header_.schema_version >= 3;
  // Counts of defined trials: written since the undefined status; older files derive them.
  const auto any_exists = [&](const char* suffix) {
    bool any = false;
    for (size_t k = 0; k < mc::kObservableCount; ++k)
      any = any || (at.stores(k) && h::exists((*file_), observable_dataset(k, suffix)));
    return any;
  };
  const auto require_all = [&](const char* suffix, const std::vector<std::int64_t>& want) {
    for (size_t k = 0; k < mc::kObservableCount; ++k)
      if (at.stores(k)) require_shape(observable_dataset(k, suffix).c_str(), want);
  };
  has_defined_counts_ = any_exists("defined");
  if (has_defined_counts_) require_all("defined", shape);
  if (has_quantiles_) {
    std::vector<std::int64_t> with_level = shape;
    with_level.push_back(static_cast<std::int64_t>(mc::kQuantileLevels.size()));
    require_all("quantile", with_level);
    require_shape("/quantile", {with_level.back()});
  }
  if (header_.schema_version >= 2 && any_exists("trial")) {
    std::vector<std::int64_t> with_trial = shape;
    with_trial.push_back(c.trials);
    require_all("trial", with_trial);
    require_shape("/trial", {c.trials});
    trial_slots_ = static_cast<std::int32_t>(c.trials);
  }
  header_.created_utc = h::get_string_attribute((*file_), "/", "created_utc");
  header_.engine_version = h::get_string_attribute((*file_), "/", "engine_version");
  if (h::has_attribute((*file_), "/", "kernel_version"))
    header_.kernel_version = h::get_int_attribute((*file_), "/", "kernel_version");
  header_.build = h::read_string((*file_), at.build);
}

// A file of schema 1 or 2 stores no quantiles: they are computed from its per-trial values
// where those were read (NaN otherwise), as the next write will store them.
void ResultsReader::derive_quantiles(SweepState& s, std::int64_t cells) const {
  const size_t levels = mc::kQuantileLevels.size();
  for (SweepState::Observable& o : s.observables)
    o.quantile.assign(static_cast<size_t>(cells) * levels, std::numeric_limits<double>::quiet_NaN());
  const auto slots = static_cast<size_t>(s.trial_slots());
  if (slots == 0 || s.trials.size() != static_cast<size_t>(cells) || s.status.size() != static_cast<size_t>(cells))
    return;
  for (size_t c = 0; c < static_cast<size_t>(cells); ++c) {
    const auto count = static_cast<size_t>(std::max(0, s.trials[c]));
    bool known = false;  // a cell without per-trial values has NaN in every first slot
    for (const SweepState::Observable& o : s.observables)
      known = known || (count > 0 && !std::isnan(o.trial[c * slots]));
    if (s.status[c] != static_cast<std::uint8_t>(CellStatus::done) || count > slots || !known) continue;
    const auto first = static_cast<std::ptrdiff_t>(c * slots);
    for (SweepState::Observable& o : s.observables) {
      const mc::Quantiles q =
          mc::quantiles({o.trial.begin() + first, o.trial.begin() + first + static_cast<std::ptrdiff_t>(count)});
      std::copy(q.begin(), q.end(), o.quantile.begin() + static_cast<std::ptrdiff_t>(c * levels));
    }
  }
}

CellBox ResultsReader::whole() const {
  CellBox box;
  box.start.assign(shape_.size(), 0);
  box.count = shape_;
  return box;
}

SweepState ResultsReader::read(const CellBox& box, unsigned fields) const {
  namespace h = h5;
  h::Slab slab;
  slab.start = box.start;
  slab.count = box.count;
  SweepState s;
  const Layout& at = *layout_;
  try {
    if (fields & kStatus) s.status = h::read_uint8((*file_), at.status, slab);
    if (fields & kCounts) {
      s.trials = h::read_int32((*file_), at.trials, slab);
      s.attempts = h::read_int32((*file_), at.attempts, slab);
      for (size_t k = 0; k < mc::kObservableCount && has_defined_counts_; ++k)
        s.observables[k].defined = at.stores(k) ? h::read_int32((*file_), observable_dataset(k, "defined"), slab)
                                                : std::vector<std::int32_t>(static_cast<size_t>(box.size()), 0);
    }
    if (fields & kValues) {
      for (size_t k = 0; k < mc::kObservableCount; ++k) {
        s.observables[k].mean = at.stores(k) ? h::read_doubles((*file_), at.mean(k), slab) : unknown(box.size());
        s.observables[k].std_error =
            at.stores(k) ? h::read_doubles((*file_), at.std_error(k), slab) : unknown(box.size());
      }
    }
    if (fields & kSeconds) s.seconds = h::read_doubles((*file_), at.seconds, slab);
    if ((fields & kValues) && has_quantiles_) {
      h::Slab with_level = slab;
      with_level.start.push_back(0);
      with_level.count.push_back(static_cast<std::int64_t>(mc::kQuantileLevels.size()));
      for (size_t k = 0; k < mc::kObservableCount; ++k)
        s.observables[k].quantile = at.stores(k)
                                        ? h::read_doubles((*file_), observable_dataset(k, "quantile"), with_level)
                                        : unknown(box.size() * static_cast<std::int64_t>(mc::kQuantileLevels.size()));
    }
    if ((fields & kTrials) && trial_slots_ > 0) {
      h::Slab slab5 = slab;
      slab5.start.push_back(0);
      slab5.count.push_back(trial_slots_);
      std::array<std::vector<double>, mc::kObservableCount> values;
      for (size_t k = 0; k < mc::kObservableCount; ++k)
        values[k] = at.stores(k) ? h::read_doubles((*file_), observable_dataset(k, "trial"), slab5)
                                 : unknown(box.size() * trial_slots_);
      s.set_trial_values(trial_slots_, std::move(values));
    }
    if (fields & kErrors) {
      const std::vector<std::string> errors = h::read_strings((*file_), at.error, slab);
      for (size_t k = 0; k < errors.size(); ++k) {
        if (!errors[k].empty()) s.error[static_cast<std::int64_t>(k)] = errors[k];
      }
      // The texts' checksum covers the whole grid: checked when the whole grid is read.
      if (box.size() == whole().size() && h::has_attribute((*file_), at.error, "crc32") &&
          h::get_int_attribute((*file_), at.error, "crc32") != static_cast<std::int64_t>(errors_crc(s.error))) {
        throw CorruptFile(path_ + ": " + at.error + " fails its CRC-32 checksum (the file is damaged)");
      }
    }
  } catch (const h::Hdf5Error& e) {
    // The file opened and its layout checked out: a read that fails is a damaged chunk
    // (Fletcher-32) or a damaged structure.
    throw CorruptFile(path_ + ": " + e.what() + " (the file is damaged)");
  }
  for (auto v : s.status) {
    if (v > kLastStatus)
      throw CorruptFile(path_ + ": " + at.status + " holds " + std::to_string(v) + ", not 0, 1, 2 or 3");
  }
  if ((fields & kValues) && !has_quantiles_) derive_quantiles(s, box.size());
  if ((fields & kCounts) && !has_defined_counts_ && s.status.size() == s.trials.size()) {
    // Engines before the undefined status failed a cell with an undefined trial: every trial of
    // a done cell is defined.
    std::vector<std::int32_t> all(s.trials.size(), 0);
    for (size_t c = 0; c < s.trials.size(); ++c)
      if (s.status[c] == static_cast<std::uint8_t>(CellStatus::done)) all[c] = s.trials[c];
    for (SweepState::Observable& o : s.observables) o.defined = all;
  }
  return s;
}

void ResultsReader::for_each_slab(unsigned fields,
                                  const std::function<void(std::int64_t, const SweepState&)>& visit) const {
  std::int64_t per_rho = 1;
  for (size_t a = 1; a < shape_.size(); ++a) per_rho *= shape_[a];
  const std::int64_t rows = std::max<std::int64_t>(1, (std::int64_t{1} << 18) / std::max<std::int64_t>(per_rho, 1));
  for (std::int64_t r0 = 0; r0 < shape_[0]; r0 += rows) {
    CellBox box = whole();
    box.start[0] = r0;
    box.count[0] = std::min(rows, shape_[0] - r0);
    visit(r0 * per_rho, read(box, fields));
  }
}

ResultsFile read_results_file(const std::string& path) {
  const ResultsReader reader(path);
  ResultsFile out = reader.header();
  out.state = reader.read(reader.whole());
  return out;
}

namespace {
// What the reader does not check on open: scales attached, the stored hash, the trial and
// quantile coordinates.
void verify_structure(const std::string& path, const ResultsReader& reader, std::vector<std::string>& problems) {
  const ResultsFile& f = reader.header();
  const Layout& at = layout_of(f.schema_version, path);
  try {
    h5::Handle file = h5::open_file_readonly(path);
    const std::vector<Axis>& axes = reader.axes();
    for (const std::string& array : at.arrays())
      for (size_t a = 0; a < axes.size(); ++a)
        if (!h5::scale_attached(file, array, axis_dataset(at, axes, a), static_cast<unsigned>(a)))
          problems.push_back(array + ": dimension " + std::to_string(a) + " has no " + axes[a].name + " scale");
    char hash[32];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(f.config_hash));
    if (h5::read_string(file, at.config_hash) != hash)
      problems.push_back(std::string(at.config_hash) + " does not match " + at.config);
    if (reader.trial_slots() > 0) {
      const std::vector<std::int64_t> trial = h5::read_int64(file, "/trial");
      for (size_t t = 0; t < trial.size(); ++t)
        if (trial[t] != static_cast<std::int64_t>(t)) {
          problems.push_back("/trial does not hold the trial indices 0.." + std::to_string(trial.size() - 1));
          break;
        }
    }
    if (f.schema_version >= 3) {
      const std::vector<double> levels = h5::read_doubles(file, "/quantile");
      if (!std::equal(levels.begin(), levels.end(), mc::kQuantileLevels.begin(), mc::kQuantileLevels.end()))
        problems.push_back("/quantile does not hold the levels 0.05, 0.25, 0.5, 0.75, 0.95");
    }
  } catch (const h5::Hdf5Error& e) {
    problems.push_back(e.what());
  }
}

// A cell's status against its values: done has every value, undefined not every one, the others
// none; failed has an error text.
void verify_cell(const SweepState& s, std::int64_t k, std::int64_t cell, long trials,
                 std::vector<std::string>& problems) {
  const auto st = static_cast<CellStatus>(s.status[static_cast<size_t>(k)]);
  const auto i = static_cast<size_t>(k);
  bool finite = true, none = true;  // every observable's mean finite (those that decide the status); none has one
  for (size_t o = 0; o < mc::kObservableCount; ++o) {
    const double mean = s.observables[o].mean[i];
    finite = finite && (std::isfinite(mean) || !mc::kObservables[o].decides_status);
    none = none && std::isnan(mean);
  }
  const std::string which = "cell " + std::to_string(cell);
  if (st == CellStatus::done && (!finite || s.trials[i] != trials))
    problems.push_back(which + " is done but its values or trial count are not");
  if (st == CellStatus::undefined && (finite || s.trials[i] != trials))
    problems.push_back(which + " is undefined but has every value, or not every trial");
  const bool ran = st == CellStatus::done || st == CellStatus::undefined;
  if (!ran && !none) problems.push_back(which + " is " + status_name(st) + " but has values");
  if (st == CellStatus::failed && s.error_of(k).empty()) problems.push_back(which + " is failed without an error text");
}
}  // namespace

std::vector<std::string> verify_results_file(const std::string& path) {
  std::vector<std::string> problems;
  std::unique_ptr<ResultsReader> opened;
  require_regular_file(path, "");  // a path that is not a file is a usage error, not a finding
  try {
    opened = std::make_unique<ResultsReader>(path);  // schema, shapes, config, axes, text checksums
  } catch (const WrongKindOfFile&) {
    throw;
  } catch (const InputError& e) {
    return {e.what()};  // not HDF5, not attnsweep's, damaged: the answer to "is this file sound?"
  }
  const ResultsReader& reader = *opened;
  const ResultsFile& f = reader.header();
  const Layout& at = layout_of(f.schema_version, path);
  verify_structure(path, reader, problems);
  // Slab by slab along rho (Fletcher-32 is checked on every chunk read), in bounded memory.
  std::map<std::int64_t, std::string> errors;
  try {
    reader.for_each_slab(ResultsReader::kAll, [&](std::int64_t first, const SweepState& s) {
      for (const auto& [k, text] : s.error) errors[first + k] = text;
      for (std::int64_t k = 0; k < s.size() && problems.size() <= 20; ++k)
        verify_cell(s, k, first + k, f.config.trials, problems);
    });
    h5::Handle file = h5::open_file_readonly(path);
    if (h5::has_attribute(file, at.error, "crc32") &&
        h5::get_int_attribute(file, at.error, "crc32") != static_cast<std::int64_t>(errors_crc(errors))) {
      problems.push_back(std::string(at.error) + " fails its CRC-32 checksum");
    }
  } catch (const CorruptFile& e) {
    problems.push_back(e.what());
  } catch (const h5::Hdf5Error& e) {
    problems.push_back(e.what());
  }
  return problems;
}

}  // namespace attnsweep::io
