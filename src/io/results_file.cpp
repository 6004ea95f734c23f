#include "attnsweep/io/results_file.hpp"

#include <H5public.h>
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

#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep_git_commit.h"  // generated at build time

#ifndef ATTNSWEEP_VERSION
#define ATTNSWEEP_VERSION "unknown"
#endif

namespace attnsweep::io {

// Where each dataset lives, by schema version. Version 2 (written) keeps the axes and the arrays
// at the root, so netCDF-4 readers (xarray with h5netcdf, ncdump), which look for a variable's
// dimensions in its own group and its parents, find them; version 1 (0.1's layout: /grid,
// /results, /cells) is still read, and rewritten as version 2 by the next snapshot of a resume.
struct Layout {
  const char* axes[4];
  const char *lambda_mean, *lambda_stderr, *eta_mean, *eta_stderr, *trials, *status, *seconds, *attempts, *error;
  const char *config, *config_hash, *build;
  std::vector<const char*> arrays() const {
    return {lambda_mean, lambda_stderr, eta_mean, eta_stderr, trials, status, seconds, attempts, error};
  }
};

namespace {
const char* const kAxes[4] = {"rho", "gamma", "d", "n"};
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
static_assert(kSchemaVersion == 2, "kLayoutV2 is the layout written");

const Layout& layout_of(std::int64_t schema, const std::string& path) {
  if (schema == 1) return kLayoutV1;
  if (schema == 2) return kLayoutV2;
  throw WrongKindOfFile(path + ": schema version " + std::to_string(schema) +
                        " is not supported (this build reads 1 and 2" +
                        (schema > 2 ? "; the file is from a newer attnsweep)" : ")"));
}

// Flushes a file (or a folder's entries) to disk; an I/O fault if it cannot.
void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open " + path + " to flush it: " + std::strerror(errno));
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0) throw IoError("cannot flush " + path + " to disk: " + std::strerror(error));
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

std::string free_space_note(const std::string& folder) {
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) != 0) return "";
  const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
  char note[96];
  std::snprintf(note, sizeof note, "; %.1f MB free on its file system", free_bytes / 1e6);
  return note;
}

}  // namespace

const char* status_name(CellStatus status) {
  switch (status) {
    case CellStatus::missing:
      return "missing";
    case CellStatus::done:
      return "done";
    case CellStatus::failed:
      return "failed";
  }
  return "unknown";
}

CellStatus parse_status(const std::string& text) {
  if (text == "missing") return CellStatus::missing;
  if (text == "done") return CellStatus::done;
  if (text == "failed") return CellStatus::failed;
  throw InputError("--status must be missing, done or failed, not '" + text + "'");
}

SweepState::SweepState(std::int64_t cells)
    : status(static_cast<size_t>(cells), 0),
      trials(static_cast<size_t>(cells), 0),
      attempts(static_cast<size_t>(cells), 0),
      lambda_mean(static_cast<size_t>(cells), kNaN),
      lambda_stderr(static_cast<size_t>(cells), kNaN),
      eta_mean(static_cast<size_t>(cells), kNaN),
      eta_stderr(static_cast<size_t>(cells), kNaN),
      seconds(static_cast<size_t>(cells), 0) {}

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
    const size_t known = r.status == CellStatus::done ? std::min(slots, r.trial_lambda.size()) : 0;
    for (size_t t = 0; t < slots; ++t) {
      const bool have = t < known && t < r.trial_eta.size();
      trial_lambda.at(i * slots + t) = have ? r.trial_lambda[t] : kNaN;
      trial_eta[i * slots + t] = have ? r.trial_eta[t] : kNaN;
    }
  }
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

std::int64_t CellBox::flat_index(std::int64_t k, const std::array<std::int64_t, 4>& shape) const {
  std::array<std::int64_t, 4> at{};
  for (int a = 3; a >= 0; --a) {
    at[a] = start[a] + k % count[a];
    k /= count[a];
  }
  return ((at[0] * shape[1] + at[1]) * shape[2] + at[2]) * shape[3] + at[3];
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
  if (trial_slots_ > 0 && r.status == CellStatus::done) {
    const auto slots = static_cast<size_t>(trial_slots_);
    const size_t count = std::min(slots, static_cast<size_t>(std::max(0, trials[i])));
    if (count > 0 && !std::isnan(trial_lambda[i * slots])) {
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

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string engine_version() { return ATTNSWEEP_VERSION; }

std::string build_description() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::string("attnsweep ") + ATTNSWEEP_VERSION + " (git " + ATTNSWEEP_GIT_COMMIT + "); HDF5 " +
         std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release) + "; Eigen " +
         std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION) + "; compiler " + __VERSION__;
}

void write_hdf5_atomically(const std::string& path, const std::function<void(const h5::Handle& file)>& fill) {
  namespace h = h5;
  const std::string temporary = temporary_path_of(path);
  try {
    h::Handle file = h::create_file(temporary);
    fill(file);
    h::check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), "flush " + temporary);
    file.close("close " + temporary);
    fsync_path(temporary);
  } catch (const h::Hdf5Error& e) {
    std::remove(temporary.c_str());
    throw IoError("cannot write " + temporary + " (" + e.what() + ")" + free_space_note(folder_of(path)));
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    throw IoError("cannot replace " + path + " with " + temporary + ": " + std::strerror(error));
  }
  fsync_path(folder_of(path));
}

void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state) {
  namespace h = h5;
  const std::vector<std::int64_t> shape = {
      static_cast<std::int64_t>(config.rho.size()), static_cast<std::int64_t>(config.gamma.size()),
      static_cast<std::int64_t>(config.d.size()), static_cast<std::int64_t>(config.n.size())};
  write_hdf5_atomically(path, [&](const h::Handle& file) {
    const Layout& at = kLayoutV2;
    {
      h::write_doubles(file, "rho", {shape[0]}, config.rho);
      h::write_doubles(file, "gamma", {shape[1]}, config.gamma);
      h::write_int64(file, "d", {shape[2]}, {config.d.begin(), config.d.end()});
      h::write_int64(file, "n", {shape[3]}, {config.n.begin(), config.n.end()});
      h::write_doubles(file, "lambda_mean", shape, state.lambda_mean);
      h::write_doubles(file, "lambda_stderr", shape, state.lambda_stderr);
      h::write_doubles(file, "eta_mean", shape, state.eta_mean);
      h::write_doubles(file, "eta_stderr", shape, state.eta_stderr);
      h::write_int32(file, "trials", shape, state.trials);
      h::write_uint8(file, "status", shape, state.status);
      h::write_doubles(file, "seconds", shape, state.seconds);
      h::write_int32(file, "attempts", shape, state.attempts);
      std::vector<const char*> errors(static_cast<size_t>(state.size()), nullptr);
      for (const auto& [cell, text] : state.error) errors[static_cast<size_t>(cell)] = text.c_str();
      h::write_strings(file, "error", shape, errors);
      if (state.trial_slots() > 0) {
        std::vector<std::int64_t> trial_index(static_cast<size_t>(state.trial_slots()));
        for (size_t t = 0; t < trial_index.size(); ++t) trial_index[t] = static_cast<std::int64_t>(t);
        h::write_int64(file, "trial", {state.trial_slots()}, trial_index);
        std::vector<std::int64_t> shape5 = shape;
        shape5.push_back(state.trial_slots());
        h::write_doubles(file, "lambda_trial", shape5, state.trial_lambda);
        h::write_doubles(file, "eta_trial", shape5, state.trial_eta);
      }
      h::Handle meta = h::create_group(file, "meta");
      h::write_string(meta, "config", config.canonical_text());
      char hash[32];
      std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(config.hash()));
      h::write_string(meta, "config_hash", hash);
      h::write_string(meta, "build", build_description());
    }
    // CRC-32 of every text, so that a flipped byte in the config is caught like one in an array.
    const std::string config_text = config.canonical_text();
    h::set_attribute(file, at.config, "crc32",
                     static_cast<std::int64_t>(crc32(config_text.data(), config_text.size())));
    h::set_attribute(file, at.error, "crc32", static_cast<std::int64_t>(errors_crc(state.error)));
    for (int a = 0; a < 4; ++a) h::make_scale(file, at.axes[a], kAxes[a]);
    for (const char* array : at.arrays()) {
      for (unsigned a = 0; a < 4; ++a) h::attach_scale(file, array, at.axes[a], a);
    }
    if (state.trial_slots() > 0) {
      h::make_scale(file, "/trial", "trial");
      for (const char* array : {"/lambda_trial", "/eta_trial"}) {
        for (unsigned a = 0; a < 4; ++a) h::attach_scale(file, array, at.axes[a], a);
        h::attach_scale(file, array, "/trial", 4);
      }
      h::set_attribute(file, "/trial", "long_name", std::string("trial index (its random draws)"));
      h::set_attribute(file, "/lambda_trial", "long_name",
                       std::string("angle ratio lambda of each trial (NaN: not run)"));
      h::set_attribute(file, "/eta_trial", "long_name", std::string("eta of each trial (NaN: not run)"));
    } else {
      char why[160];
      std::snprintf(
          why, sizeof why, "not stored: %lld cells x %ld trials is over %lld values (or over %d trials a cell)",
          static_cast<long long>(state.size()), config.trials, static_cast<long long>(kMaxTrialValues), kMaxTrialSlots);
      h::set_attribute(file, "/", "per_trial_values", std::string(why));
    }
    h::set_attribute(file, "/", "schema_version", kSchemaVersion);
    h::set_attribute(file, "/", "engine_version", engine_version());
    h::set_attribute(file, "/", "created_utc", utc_now());
    h::set_attribute(file, "/", "title", std::string("attnsweep phase diagram of critical attention scaling"));
    h::set_attribute(file, at.axes[1], "scale",
                     config.gamma_scale == GammaScale::critical ? std::string("critical: gamma = value / (1 - rho)")
                                                                : std::string("absolute"));
    // What each variable is, for whoever opens the file without the README (MODEL.md section 3).
    const std::pair<const char*, const char*> names[] = {
        {at.axes[0], "input pairwise cosine rho"},
        {at.axes[1], "attention scale gamma (beta = gamma ln n)"},
        {at.axes[2], "token dimension d"},
        {at.axes[3], "number of tokens n"},
        {at.lambda_mean, "angle ratio lambda, mean over trials"},
        {at.lambda_stderr, "standard error of lambda_mean (NaN with one trial)"},
        {at.eta_mean, "normalised Jacobian norm eta = ||J||_F^2 / (n d), mean over trials"},
        {at.eta_stderr, "standard error of eta_mean (NaN with one trial)"},
        {at.trials, "trials in the cell"},
        {at.seconds, "compute time of the cell in seconds"},
        {at.attempts, "attempts at the cell"},
        {at.error, "last error text of the cell (empty unless failed)"}};
    for (const auto& [path, text] : names) h::set_attribute(file, path, "long_name", std::string(text));
    h::set_attribute(file, at.status, "long_name", std::string("cell status"));
    h::set_attribute(file, at.status, "meaning", std::string("0 missing, 1 done, 2 failed"));
  });
}

ResultsReader::ResultsReader(const std::string& path) : path_(path) {
  namespace h = h5;
  std::int64_t schema = 0;
  // First, what the file is: HDF5, an attnsweep output, a sweep's (InputError otherwise).
  try {
    file_ = h::open_file_readonly(path);
    if (!h::has_attribute(file_, "/", "schema_version")) {
      throw InputError(path + ": not an attnsweep output (no schema_version attribute)");
    }
    if (h::has_attribute(file_, "/", "kind") && h::get_string_attribute(file_, "/", "kind") == "critical") {
      throw WrongKindOfFile(path +
                            ": a critical-search file, not a sweep's (`attnsweep critical` prints its table "
                            "again with the same --config and --output; h5py and xarray read it)");
    }
    schema = h::get_int_attribute(file_, "/", "schema_version");
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
  if (!h5::exists(file_, dataset)) throw CorruptFile(path_ + ": " + dataset + " is missing (the file is damaged)");
  const std::vector<std::int64_t> stored = h5::dataset_shape(file_, dataset);
  if (stored != shape) {
    std::string text;
    for (auto v : stored) text += (text.empty() ? "" : " x ") + std::to_string(v);
    throw CorruptFile(path_ + ": " + dataset + " has shape (" + text + "), not the one its config gives " +
                      "(the file is damaged)");
  }
}

void ResultsReader::read_header() {
  namespace h = h5;
  const Layout& at = *layout_;
  if (!h::exists(file_, at.config)) throw CorruptFile(path_ + ": " + at.config + " is missing (the file is damaged)");
  header_.config_text = h::read_string(file_, at.config);
  if (h::has_attribute(file_, at.config, "crc32") &&
      h::get_int_attribute(file_, at.config, "crc32") !=
          static_cast<std::int64_t>(crc32(header_.config_text.data(), header_.config_text.size()))) {
    throw CorruptFile(path_ + ": " + at.config + " fails its CRC-32 checksum (the file is damaged)");
  }
  header_.config = parse_config(header_.config_text, {}, path_ + ":" + at.config);
  header_.config_hash = header_.config.hash();
  const SweepConfig& c = header_.config;
  shape_ = {static_cast<std::int64_t>(c.rho.size()), static_cast<std::int64_t>(c.gamma.size()),
            static_cast<std::int64_t>(c.d.size()), static_cast<std::int64_t>(c.n.size())};
  // Declared shapes are checked before anything is read: a damaged dataspace may declare 2^32
  // values, and reading it would ask for tens of GiB.
  for (int a = 0; a < 4; ++a) require_shape(at.axes[a], {shape_[static_cast<size_t>(a)]});
  const std::vector<std::int64_t> shape(shape_.begin(), shape_.end());
  for (const char* array : at.arrays()) require_shape(array, shape);
  // The axes must be the config's, value for value (bitwise).
  const auto axis_differs = [](const auto& stored, const auto& configured) {
    return stored.size() != configured.size() ||
           std::memcmp(stored.data(), configured.data(), stored.size() * sizeof(stored[0])) != 0;
  };
  const std::vector<std::int64_t> d(c.d.begin(), c.d.end()), n(c.n.begin(), c.n.end());
  if (axis_differs(h::read_doubles(file_, at.axes[0]), c.rho) ||
      axis_differs(h::read_doubles(file_, at.axes[1]), c.gamma) || axis_differs(h::read_int64(file_, at.axes[2]), d) ||
      axis_differs(h::read_int64(file_, at.axes[3]), n)) {
    throw CorruptFile(path_ + ": the axes do not match " + at.config + " (the file is damaged)");
  }
  if (header_.schema_version >= 2 && (h::exists(file_, "/lambda_trial") || h::exists(file_, "/eta_trial"))) {
    std::vector<std::int64_t> shape5 = shape;
    shape5.push_back(c.trials);
    require_shape("/lambda_trial", shape5);
    require_shape("/eta_trial", shape5);
    require_shape("/trial", {c.trials});
    trial_slots_ = static_cast<std::int32_t>(c.trials);
  }
  header_.created_utc = h::get_string_attribute(file_, "/", "created_utc");
  header_.engine_version = h::get_string_attribute(file_, "/", "engine_version");
  header_.build = h::read_string(file_, at.build);
}

CellBox ResultsReader::whole() const {
  CellBox box;
  box.count = shape_;
  return box;
}

SweepState ResultsReader::read(const CellBox& box, unsigned fields) const {
  namespace h = h5;
  h::Slab slab;
  for (int a = 0; a < 4; ++a) {
    slab.start.push_back(box.start[a]);
    slab.count.push_back(box.count[a]);
  }
  SweepState s;
  const Layout& at = *layout_;
  try {
    if (fields & kStatus) s.status = h::read_uint8(file_, at.status, slab);
    if (fields & kCounts) {
      s.trials = h::read_int32(file_, at.trials, slab);
      s.attempts = h::read_int32(file_, at.attempts, slab);
    }
    if (fields & kValues) {
      s.lambda_mean = h::read_doubles(file_, at.lambda_mean, slab);
      s.lambda_stderr = h::read_doubles(file_, at.lambda_stderr, slab);
      s.eta_mean = h::read_doubles(file_, at.eta_mean, slab);
      s.eta_stderr = h::read_doubles(file_, at.eta_stderr, slab);
    }
    if (fields & kSeconds) s.seconds = h::read_doubles(file_, at.seconds, slab);
    if ((fields & kTrials) && trial_slots_ > 0) {
      h::Slab slab5 = slab;
      slab5.start.push_back(0);
      slab5.count.push_back(trial_slots_);
      s.set_trial_values(trial_slots_, h::read_doubles(file_, "/lambda_trial", slab5),
                         h::read_doubles(file_, "/eta_trial", slab5));
    }
    if (fields & kErrors) {
      const std::vector<std::string> errors = h::read_strings(file_, at.error, slab);
      for (size_t k = 0; k < errors.size(); ++k) {
        if (!errors[k].empty()) s.error[static_cast<std::int64_t>(k)] = errors[k];
      }
      // The texts' checksum covers the whole grid: checked when the whole grid is read.
      if (box.size() == whole().size() && h::has_attribute(file_, at.error, "crc32") &&
          h::get_int_attribute(file_, at.error, "crc32") != static_cast<std::int64_t>(errors_crc(s.error))) {
        throw CorruptFile(path_ + ": " + at.error + " fails its CRC-32 checksum (the file is damaged)");
      }
    }
  } catch (const h::Hdf5Error& e) {
    // The file opened and its layout checked out: a read that fails is a damaged chunk
    // (Fletcher-32) or a damaged structure.
    throw CorruptFile(path_ + ": " + e.what() + " (the file is damaged)");
  }
  for (auto v : s.status) {
    if (v > 2) throw CorruptFile(path_ + ": " + at.status + " holds " + std::to_string(v) + ", not 0, 1 or 2");
  }
  return s;
}

void ResultsReader::for_each_slab(unsigned fields,
                                  const std::function<void(std::int64_t, const SweepState&)>& visit) const {
  const std::int64_t per_rho = shape_[1] * shape_[2] * shape_[3];
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
  try {
    h5::Handle file = h5::open_file_readonly(path);
    for (const char* array : at.arrays())
      for (unsigned a = 0; a < 4; ++a)
        if (!h5::scale_attached(file, array, at.axes[a], a))
          problems.push_back(std::string(array) + ": dimension " + std::to_string(a) + " has no " + kAxes[a] +
                             " scale");
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
  } catch (const h5::Hdf5Error& e) {
    problems.push_back(e.what());
  }
  // Slab by slab along rho (Fletcher-32 is checked on every chunk read), in bounded memory.
  std::map<std::int64_t, std::string> errors;
  try {
    reader.for_each_slab(ResultsReader::kAll, [&](std::int64_t first, const SweepState& s) {
      for (const auto& [k, text] : s.error) errors[first + k] = text;
      for (std::int64_t k = 0; k < s.size() && problems.size() <= 20; ++k) {
        const auto st = static_cast<CellStatus>(s.status[static_cast<size_t>(k)]);
        const auto i = static_cast<size_t>(k);
        const std::int64_t cell = first + k;
        const bool finite = std::isfinite(s.lambda_mean[i]) && std::isfinite(s.eta_mean[i]);
        if (st == CellStatus::done && (!finite || s.trials[i] != f.config.trials)) {
          problems.push_back("cell " + std::to_string(cell) + " is done but its values or trial count are not");
        }
        if (st != CellStatus::done && (!std::isnan(s.lambda_mean[i]) || !std::isnan(s.eta_mean[i]))) {
          problems.push_back("cell " + std::to_string(cell) + " is " + status_name(st) + " but has values");
        }
        if (st == CellStatus::failed && s.error_of(k).empty()) {
          problems.push_back("cell " + std::to_string(cell) + " is failed without an error text");
        }
      }
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
