#include "attnsweep/io/paths.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "attnsweep/io/config.hpp"

namespace attnsweep::io {

namespace {
// The longest decimal PID (pid_t is 32 bits): the temporary's name is checked at this length.
constexpr size_t kMaxPidDigits = 10;
constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit (ELOOP)

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// An existing companion or output must be a regular file; a missing one is fine.
void require_regular_if_present(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw InputError(what + " '" + path + "': " + std::strerror(errno));
  }
  const std::string kind = kind_of_file(st.st_mode);
  if (!kind.empty()) throw InputError(what + " '" + path + "' is " + kind + ", not a regular file");
}
}  // namespace

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string journal_path_of(const std::string& output) { return output + kJournalSuffix; }

std::string temporary_path_of(const std::string& output) {
  return output + kTemporaryInfix + std::to_string(::getpid());
}

std::string kind_of_file(unsigned mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

void require_regular_file(const std::string& path, const std::string& what) {
  const std::string name = what.empty() ? path : what + " '" + path + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) throw InputError(name + ": no such file");
    throw InputError(name + ": " + std::strerror(error));
  }
  const std::string kind = kind_of_file(st.st_mode);
  if (!kind.empty()) throw InputError(name + " is " + kind + ", not a regular file");
}

std::string resolve_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw InputError("the output file name is empty");
  fs::path at(path);
  std::error_code error;
  int hops = 0;
  for (; fs::is_symlink(fs::symlink_status(at, error)); ++hops) {
    if (hops == kMaxSymlinkHops) {
      throw InputError("output '" + path + "': too many levels of symbolic links (a symlink loop?)");
    }
    const fs::path target = fs::read_symlink(at, error);
    if (error) throw InputError("output '" + path + "': cannot read the symbolic link: " + error.message());
    at = target.is_absolute() ? target : at.parent_path() / target;
  }
  const fs::path resolved = fs::weakly_canonical(at, error);
  if (error || resolved.empty()) {
    throw InputError("output '" + path + "' cannot be resolved: " + (error ? error.message() : "empty path"));
  }
  return resolved.string();
}

void check_output_path(const std::string& path) {
  const std::string folder = folder_of(path);
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw InputError("output folder '" + folder + "' does not exist");
  }
  if (::access(folder.c_str(), W_OK) != 0) throw InputError("output folder '" + folder + "' is not writable");
  require_regular_if_present(path, "output");
  require_regular_if_present(journal_path_of(path), "journal");
  // Every name the run creates must fit, or it would compute and then fail to write.
  const long name_max = ::pathconf(folder.c_str(), _PC_NAME_MAX);
  const size_t longest_suffix = std::max(std::strlen(kJournalSuffix), std::strlen(kTemporaryInfix) + kMaxPidDigits);
  const size_t longest_name = base_name(path).size() + longest_suffix;
  if (name_max > 0 && longest_name > static_cast<size_t>(name_max)) {
    const std::string name = base_name(path);
    throw InputError("output name '" + name.substr(0, 24) + "..." + name.substr(name.size() - 8) + "' (" +
                     std::to_string(name.size()) + " characters) is too long: with the suffix of its temporary " +
                     "snapshot (" + kTemporaryInfix + "PID) it needs " + std::to_string(longest_name) +
                     "; this file system allows " + std::to_string(name_max));
  }
  if (path.size() + longest_suffix >= PATH_MAX) {
    throw InputError("output path is too long (" + std::to_string(path.size()) + " characters; at most " +
                     std::to_string(PATH_MAX - 1 - longest_suffix) + ")");
  }
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open " + path + " to flush it: " + std::strerror(errno));
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0) throw IoError("cannot flush " + path + " to disk: " + std::strerror(error));
}

void rename_durably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    const int error = errno;
    std::remove(from.c_str());
    throw IoError("cannot replace " + to + " with " + from + ": " + std::strerror(error));
  }
  fsync_path(folder_of(to));
}

}  // namespace attnsweep::io
