// The rules for the file names a user gives: what an input must be, what an output resolves
// to, and the companion files a run creates beside its output. One place, so that every
// command refuses a bad path the same way, before it opens anything for data.
#pragma once

#include <string>

namespace attnsweep::io {

// Companions of an output FILE: its journal, and the temporary FILE.tmp.PID each snapshot is
// written to before it is renamed over FILE.
inline constexpr const char* kJournalSuffix = ".journal";
inline constexpr const char* kTemporaryInfix = ".tmp.";
std::string journal_path_of(const std::string& output);
std::string temporary_path_of(const std::string& output);  // with this process's PID

// The folder of a path ("." for a bare name).
std::string folder_of(const std::string& path);

// "a FIFO", "a directory", "a character device", ... for a stat mode; "" for a regular file.
std::string kind_of_file(unsigned mode);

// InputError unless `path` names an existing regular file (symlinks followed): "no such
// file", "is a FIFO, not a regular file", ... A FIFO or a device would block or never end
// when opened for data, so nothing else is ever opened. `what` names the role in messages ("config file"; empty: the
// path alone).
void require_regular_file(const std::string& path, const std::string& what);

// The file an output name stands for: symlinks followed, also a dangling one (its target is
// where the user wants the file), folders canonical. InputError for a symlink loop or a name
// that cannot be resolved.
std::string resolve_output_path(const std::string& path);

// InputError unless `path` can be created or replaced by a run: its folder exists and is
// writable; if it exists it is a regular file; its journal, if any, is a regular file; and every
// name the run will create beside it (journal, temporary snapshot) fits the file system's
// limits. Checked before any work, so a run never computes for hours and then fails to write.
void check_output_path(const std::string& path);

// Flushes a file (or a folder's entries) to disk; IoError if it cannot.
void fsync_path(const std::string& path);
// Renames `from` over `to` and flushes the folder, so that the new name survives a crash: a
// reader sees the old file or the new one, never neither. On failure `from` is removed and
// IoError names both files and the cause.
void rename_durably(const std::string& from, const std::string& to);

}  // namespace attnsweep::io
