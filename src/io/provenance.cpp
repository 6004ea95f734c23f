#include "attnsweep/io/provenance.hpp"

#include <H5public.h>

#include <Eigen/Core>
#include <ctime>

#include "attnsweep/io/config.hpp"  // InputError
#include "attnsweep/model/kernel.hpp"
#include "attnsweep_git_commit.h"  // generated at build time

#ifndef ATTNSWEEP_VERSION
#define ATTNSWEEP_VERSION "unknown"
#endif

namespace attnsweep::io {

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string engine_version() { return ATTNSWEEP_VERSION; }

void require_this_kernel(const std::string& path, std::int64_t stored) {
  const std::int64_t version = stored == 0 ? 1 : stored;
  if (version == model::kKernelVersion) return;
  throw InputError(path + " was computed by kernel version " + std::to_string(version) +
                   " and this attnsweep computes version " + std::to_string(model::kKernelVersion) +
                   ": its results would mix two arithmetics; finish it with the attnsweep that made it (/meta/build "
                   "names it) or write a new --output");
}

std::string build_description() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::string("attnsweep ") + ATTNSWEEP_VERSION + " (git " + ATTNSWEEP_GIT_COMMIT + "); kernel version " +
         std::to_string(model::kKernelVersion) + "; HDF5 " + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(release) + "; Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) + "; compiler " + __VERSION__;
}

}  // namespace attnsweep::io
