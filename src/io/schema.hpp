// Internal to io/: what an attnsweep file says about itself, written the same way by both
// writers (the sweep's results file and the critical search's file). The attributes follow the
// CF conventions where they apply (Conventions, title, source, history, references; per variable
// long_name and units, flag_values and flag_meanings on a status), so that xarray, ncdump and
// CF-aware tools need no attnsweep documentation to read a file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hdf5.hpp"

namespace attnsweep::io {

// One variable (dataset) of a file: what it is and in what units.
struct Variable {
  std::string path;       // "/lambda_mean"
  std::string long_name;  // a sentence a reader understands without the docs
  std::string units;      // CF units: "1" for a dimensionless quantity, "s"; empty: none (text, indices)
  bool nan_fill = false;  // a float variable whose unknown values are NaN: CF's _FillValue = NaN
};

// The file's global attributes: `kind` (sweep, critical), schema version, title, the engine and
// time that wrote it, CF's Conventions, source, history and references (the paper).
void describe_file(const h5::Handle& file, const std::string& kind, std::int64_t schema_version,
                   const std::string& title);

// long_name and units of every variable listed (each must exist).
void describe_variables(const h5::Handle& file, const std::vector<Variable>& variables);

// The run settings, one root attribute per key of the config text ("mc.trials" = "8", ...).
void describe_settings(const h5::Handle& file, const std::string& config_text);

// A status variable's codes, as CF flags: values 0..meanings.size()-1 and their names (one word
// each), plus a readable "meaning" ("0 missing, 1 done, ...").
void describe_flags(const h5::Handle& file, const std::string& path, const std::vector<std::string>& meanings);

}  // namespace attnsweep::io
