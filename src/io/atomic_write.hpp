// Internal to io/: how every HDF5 output is written.
#pragma once

#include <functional>
#include <string>

#include "hdf5.hpp"

namespace attnsweep::io {

// `fill` writes into OUTPUT.tmp.PID, which is flushed, fsynced and renamed over `path` (a reader
// never sees a half-written file). Throws IoError naming the file and the cause (with the free
// space when the disk is full); `path` is left as it was and the temporary removed.
void write_hdf5_atomically(const std::string& path, const std::function<void(const h5::Handle& file)>& fill);

}  // namespace attnsweep::io
