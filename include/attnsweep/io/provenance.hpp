// Where an output came from: the engine's version, the build (git commit, HDF5, Eigen, compiler)
// and the time, as every file records them.
#pragma once

#include <string>

namespace attnsweep::io {

std::string engine_version();     // "0.1.0"
std::string build_description();  // "attnsweep 0.1.0 (git abc123); HDF5 1.10.8; Eigen 3.4.0; compiler ..."
std::string utc_now();            // "2026-12-02T06:13:49Z"

}  // namespace attnsweep::io
