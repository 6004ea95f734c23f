#include "atomic_write.hpp"

#include <sys/statvfs.h>

#include <cstdio>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/paths.hpp"

namespace attnsweep::io {

namespace {
std::string free_space_note(const std::string& folder) {
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) != 0) return "";
  const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
  char note[96];
  std::snprintf(note, sizeof note, "; %.1f MB free on its file system", free_bytes / 1e6);
  return note;
}

}  // namespace

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
  rename_durably(temporary, path);
}

}  // namespace attnsweep::io
