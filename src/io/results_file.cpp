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
#include <limits>
#include <memory>

#include "attnsweep/io/hdf5.hpp"
#include "attnsweep/io/journal.hpp"
#include "attnsweep_git_commit.h"  // generated at build time

#ifndef ATTNSWEEP_VERSION
#define ATTNSWEEP_VERSION "unknown"
#endif

namespace attnsweep::io {

namespace {
const char* const kAxes[4] = {"rho", "gamma", "d", "n"};
const char* const kArrays[] = {"/results/lambda/mean", "/results/lambda/stderr", "/results/eta/mean",
                               "/results/eta/stderr",  "/results/trials",        "/cells/status",
                               "/cells/seconds",       "/cells/attempts",        "/cells/error"};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
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

std::string parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
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

void SweepState::apply(const CellRecord& r) {
  const auto i = static_cast<size_t>(r.cell);
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
  return {cell,
          static_cast<CellStatus>(status.at(i)),
          trials[i],
          lambda_mean[i],
          lambda_stderr[i],
          eta_mean[i],
          eta_stderr[i],
          seconds[i],
          attempts[i],
          error_of(cell)};
}

std::int64_t SweepState::count(CellStatus s) const {
  std::int64_t c = 0;
  for (auto v : status) c += v == static_cast<std::uint8_t>(s);
  return c;
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

void write_results_file(const std::string& path, const SweepConfig& config, const SweepState& state) {
  namespace h = h5;
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const std::vector<std::int64_t> shape = {
      static_cast<std::int64_t>(config.rho.size()), static_cast<std::int64_t>(config.gamma.size()),
      static_cast<std::int64_t>(config.d.size()), static_cast<std::int64_t>(config.n.size())};
  try {
    h::Handle file = h::create_file(temporary);
    {
      h::Handle grid = h::create_group(file, "grid");
      h::write_doubles(grid, "rho", {shape[0]}, config.rho);
      h::write_doubles(grid, "gamma", {shape[1]}, config.gamma);
      h::write_int64(grid, "d", {shape[2]}, {config.d.begin(), config.d.end()});
      h::write_int64(grid, "n", {shape[3]}, {config.n.begin(), config.n.end()});
      h::Handle results = h::create_group(file, "results");
      h::Handle lambda = h::create_group(results, "lambda");
      h::write_doubles(lambda, "mean", shape, state.lambda_mean);
      h::write_doubles(lambda, "stderr", shape, state.lambda_stderr);
      h::Handle eta = h::create_group(results, "eta");
      h::write_doubles(eta, "mean", shape, state.eta_mean);
      h::write_doubles(eta, "stderr", shape, state.eta_stderr);
      h::write_int32(results, "trials", shape, state.trials);
      h::Handle cells = h::create_group(file, "cells");
      h::write_uint8(cells, "status", shape, state.status);
      h::write_doubles(cells, "seconds", shape, state.seconds);
      h::write_int32(cells, "attempts", shape, state.attempts);
      std::vector<const char*> errors(static_cast<size_t>(state.size()), nullptr);
      for (const auto& [cell, text] : state.error) errors[static_cast<size_t>(cell)] = text.c_str();
      h::write_strings(cells, "error", shape, errors);
      h::Handle meta = h::create_group(file, "meta");
      h::write_string(meta, "config", config.canonical_text());
      char hash[32];
      std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(config.hash()));
      h::write_string(meta, "config_hash", hash);
      h::write_string(meta, "build", build_description());
    }
    // CRC-32 of every text, so that a flipped byte in the config is caught like one in an array.
    const std::string config_text = config.canonical_text();
    h::set_attribute(file, "/meta/config", "crc32",
                     static_cast<std::int64_t>(crc32(config_text.data(), config_text.size())));
    h::set_attribute(file, "/cells/error", "crc32", static_cast<std::int64_t>(errors_crc(state.error)));
    for (int a = 0; a < 4; ++a) h::make_scale(file, std::string("/grid/") + kAxes[a], kAxes[a]);
    for (const char* array : kArrays) {
      for (unsigned a = 0; a < 4; ++a) h::attach_scale(file, array, std::string("/grid/") + kAxes[a], a);
    }
    h::set_attribute(file, "/", "schema_version", kSchemaVersion);
    h::set_attribute(file, "/", "engine_version", engine_version());
    h::set_attribute(file, "/", "created_utc", utc_now());
    h::set_attribute(file, "/grid/gamma", "scale",
                     config.gamma_scale == GammaScale::critical ? std::string("critical: gamma = value / (1 - rho)")
                                                                : std::string("absolute"));
    h::set_attribute(file, "/cells/status", "meaning", std::string("0 missing, 1 done, 2 failed"));
    h::check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), "flush " + temporary);
    file.close("close " + temporary);
    fsync_path(temporary);
  } catch (const h::Hdf5Error& e) {
    std::remove(temporary.c_str());
    throw IoError("cannot write " + temporary + " (" + e.what() + ")" + free_space_note(parent_directory(path)));
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    throw IoError("cannot replace " + path + " with " + temporary + ": " + std::strerror(error));
  }
  fsync_path(parent_directory(path));
}

void check_output_path(const std::string& path) {
  const std::string folder = parent_directory(path);
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw InputError("output folder '" + folder + "' does not exist");
  }
  if (::access(folder.c_str(), W_OK) != 0) throw InputError("output folder '" + folder + "' is not writable");
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw InputError("output '" + path + "' is a directory");
}

ResultsReader::ResultsReader(const std::string& path) : path_(path) {
  namespace h = h5;
  try {
    file_ = h::open_file_readonly(path);
    for (const char* required : {"/grid/rho", "/grid/gamma", "/grid/d", "/grid/n", "/meta/config", "/cells/status"}) {
      if (!h::exists(file_, required)) throw InputError(path + ": not an attnsweep output (no " + required + ")");
    }
    const std::int64_t schema = h::get_int_attribute(file_, "/", "schema_version");
    if (schema != kSchemaVersion) {
      throw InputError(path + ": schema version " + std::to_string(schema) + " is not supported (this build reads " +
                       std::to_string(kSchemaVersion) + ")");
    }
    header_.config_text = h::read_string(file_, "/meta/config");
    if (h::has_attribute(file_, "/meta/config", "crc32") &&
        h::get_int_attribute(file_, "/meta/config", "crc32") !=
            static_cast<std::int64_t>(crc32(header_.config_text.data(), header_.config_text.size()))) {
      throw CorruptFile(path + ": /meta/config fails its CRC-32 checksum (the file is damaged)");
    }
    header_.config = parse_config(header_.config_text, {}, path + ":/meta/config");
    header_.config_hash = header_.config.hash();
    const SweepConfig& c = header_.config;
    shape_ = {static_cast<std::int64_t>(c.rho.size()), static_cast<std::int64_t>(c.gamma.size()),
              static_cast<std::int64_t>(c.d.size()), static_cast<std::int64_t>(c.n.size())};
    const std::vector<std::int64_t> shape(shape_.begin(), shape_.end());
    for (const char* array : kArrays) {
      if (!h::exists(file_, array)) throw InputError(path + ": not an attnsweep output (no " + array + ")");
      if (h::dataset_shape(file_, array) != shape) throw InputError(path + ": " + array + " has the wrong shape");
    }
    // The axes must be the config's, value for value (bitwise).
    const auto axis_differs = [](const auto& stored, const auto& configured) {
      return stored.size() != configured.size() ||
             std::memcmp(stored.data(), configured.data(), stored.size() * sizeof(stored[0])) != 0;
    };
    const std::vector<std::int64_t> d(c.d.begin(), c.d.end()), n(c.n.begin(), c.n.end());
    if (axis_differs(h::read_doubles(file_, "/grid/rho"), c.rho) ||
        axis_differs(h::read_doubles(file_, "/grid/gamma"), c.gamma) ||
        axis_differs(h::read_int64(file_, "/grid/d"), d) || axis_differs(h::read_int64(file_, "/grid/n"), n)) {
      throw CorruptFile(path + ": the /grid axes do not match /meta/config (the file is damaged)");
    }
    header_.created_utc = h::get_string_attribute(file_, "/", "created_utc");
    header_.engine_version = h::get_string_attribute(file_, "/", "engine_version");
    header_.build = h::read_string(file_, "/meta/build");
  } catch (const h::Hdf5Error& e) {
    throw InputError(path + ": " + e.what());
  }
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
  try {
    if (fields & kStatus) s.status = h::read_uint8(file_, "/cells/status", slab);
    if (fields & kCounts) {
      s.trials = h::read_int32(file_, "/results/trials", slab);
      s.attempts = h::read_int32(file_, "/cells/attempts", slab);
    }
    if (fields & kValues) {
      s.lambda_mean = h::read_doubles(file_, "/results/lambda/mean", slab);
      s.lambda_stderr = h::read_doubles(file_, "/results/lambda/stderr", slab);
      s.eta_mean = h::read_doubles(file_, "/results/eta/mean", slab);
      s.eta_stderr = h::read_doubles(file_, "/results/eta/stderr", slab);
    }
    if (fields & kSeconds) s.seconds = h::read_doubles(file_, "/cells/seconds", slab);
    if (fields & kErrors) {
      const std::vector<std::string> errors = h::read_strings(file_, "/cells/error", slab);
      for (size_t k = 0; k < errors.size(); ++k) {
        if (!errors[k].empty()) s.error[static_cast<std::int64_t>(k)] = errors[k];
      }
      // The texts' checksum covers the whole grid: checked when the whole grid is read.
      if (box.size() == whole().size() && h::has_attribute(file_, "/cells/error", "crc32") &&
          h::get_int_attribute(file_, "/cells/error", "crc32") != static_cast<std::int64_t>(errors_crc(s.error))) {
        throw CorruptFile(path_ + ": /cells/error fails its CRC-32 checksum (the file is damaged)");
      }
    }
  } catch (const h::Hdf5Error& e) {
    // The file opened and its layout checked out: a read that fails is a damaged chunk
    // (Fletcher-32) or a damaged structure.
    throw CorruptFile(path_ + ": " + e.what() + " (the file is damaged)");
  }
  for (auto v : s.status) {
    if (v > 2) throw CorruptFile(path_ + ": /cells/status holds " + std::to_string(v) + ", not 0, 1 or 2");
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
  try {
    opened = std::make_unique<ResultsReader>(path);  // schema, shapes, config, axes, text checksums
  } catch (const CorruptFile& e) {
    return {e.what()};
  }
  const ResultsReader& reader = *opened;
  const ResultsFile& f = reader.header();
  try {
    h5::Handle file = h5::open_file_readonly(path);
    for (const char* array : kArrays)
      for (unsigned a = 0; a < 4; ++a)
        if (!h5::scale_attached(file, array, std::string("/grid/") + kAxes[a], a))
          problems.push_back(std::string(array) + ": dimension " + std::to_string(a) + " has no " + kAxes[a] +
                             " scale");
    char hash[32];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(f.config_hash));
    if (h5::read_string(file, "/meta/config_hash") != hash)
      problems.push_back("/meta/config_hash does not match /meta/config");
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
    if (h5::has_attribute(file, "/cells/error", "crc32") &&
        h5::get_int_attribute(file, "/cells/error", "crc32") != static_cast<std::int64_t>(errors_crc(errors))) {
      problems.push_back("/cells/error fails its CRC-32 checksum");
    }
  } catch (const CorruptFile& e) {
    problems.push_back(e.what());
  } catch (const h5::Hdf5Error& e) {
    problems.push_back(e.what());
  }
  return problems;
}

}  // namespace attnsweep::io
