// Internal to io/: where each dataset of a sweep's file lives, shared by its writer
// (results_file.cpp) and its reader (results_reader.cpp). Not part of the io interface.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnsweep/io/study_axes.hpp"

namespace attnsweep::io {

// Where each dataset lives, by schema version. Version 2 (written) keeps the axes and the arrays
// at the root, so netCDF-4 readers (xarray with h5netcdf, ncdump), which look for a variable's
// dimensions in its own group and its parents, find them; version 1 (0.1's layout: /grid,
// /results, /cells) is still read, and rewritten as version 2 by the next snapshot of a resume.
struct Layout {
  const char* axes[4];
  // Where observable k's mean and standard error live: "%s" is its name (mc::kObservables).
  const char *mean_pattern, *stderr_pattern;
  const char *trials, *status, *seconds, *attempts, *error;
  const char *config, *config_hash, *build;
  int schema;  // the schema version: which observables the file stores (mc::ObservableInfo::since_schema)
  bool stores(size_t k) const;
  std::string mean(size_t k) const;
  std::string std_error(size_t k) const;
  // Every per-cell array of the layout (the stored observables' means and standard errors first).
  std::vector<std::string> arrays() const;
};

// The per-observable datasets schema 3 adds, "/<name>_<suffix>": quantile, defined, trial.
std::string observable_dataset(size_t k, const char* suffix);

// The dataset of axis `a` of a study's axes (io/study_axes.hpp): the layout's place for the four
// fixed axes, "/NAME" at the root for a swept parameter.
std::string axis_dataset(const Layout& at, const std::vector<Axis>& axes, size_t a);
// What an axis is, as its coordinate's long_name.
const char* axis_long_name(const std::string& name);

// The layout of a schema version; WrongKindOfFile for one this build does not read.
const Layout& layout_of(std::int64_t schema, const std::string& path);

// CRC-32 of the error texts with their cell indices, in cell order.
std::uint32_t errors_crc(const std::map<std::int64_t, std::string>& errors);

}  // namespace attnsweep::io
