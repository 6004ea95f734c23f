// Where an output came from: the engine's version, the build (git commit, HDF5, Eigen, compiler)
// and the time, as every file records them.
#pragma once

#include <string>

namespace attnsweep::io {

std::string engine_version();     // "0.1.0"
std::string build_description();  // "attnsweep 0.1.0 (git abc123); HDF5 1.10.8; Eigen 3.4.0; compiler ..."
std::string utc_now();            // "2026-12-02T06:13:49Z"

// InputError unless the file at `path`, whose results were computed by kernel version `stored`
// (its kernel_version attribute; 0: not recorded, a file written before 0.3, taken as version 1),
// may be resumed, grown or merged by this binary (model::kKernelVersion): otherwise one file would
// hold results of two arithmetics.
void require_this_kernel(const std::string& path, std::int64_t stored);

}  // namespace attnsweep::io
