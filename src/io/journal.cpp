#include "attnsweep/io/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "attnsweep/io/bytes.hpp"
#include "attnsweep/io/checksum.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/provenance.hpp"
#include "attnsweep/model/kernel.hpp"
#include "journal_records.hpp"

namespace attnsweep::io {

namespace {
constexpr char kMagic[8] = {'A', 'T', 'S', 'W', 'J', 'R', 'N', '1'};
constexpr size_t kHeaderSize = 16;
constexpr size_t kFrameHeader = 8;  // u32 length, u32 CRC-32
constexpr std::uint32_t kMaxPayload = 1u << 20;
constexpr size_t kMaxTrialsPerRecord = 1u << 14;  // 24 bytes each: well inside kMaxPayload
constexpr size_t kReadBlock = 1u << 20;

// Opens a journal without blocking and refuses anything but a regular file (a FIFO would block
// open() and every read forever, deaf to INT and TERM). Returns -1 with errno set when open
// fails; throws InputError for a file of the wrong kind.
int open_regular(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError("journal " + path + " is " + kind_of_file(st.st_mode) + ", not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// Reads up to kReadBlock more bytes into `buffer`; false at end of file. A read error is an
// I/O fault, never mistaken for the end of the journal (which would cut good records off).
bool read_more(int fd, std::string& buffer, const std::string& path) {
  const size_t old = buffer.size();
  buffer.resize(old + kReadBlock);
  while (true) {
    const ssize_t got = ::read(fd, buffer.data() + old, kReadBlock);
    if (got >= 0) {
      buffer.resize(old + static_cast<size_t>(got));
      return got > 0;
    }
    if (errno != EINTR) {
      const int error = errno;
      buffer.resize(old);
      throw IoError("cannot read journal " + path + ": " + std::strerror(error));
    }
  }
}

// Streams the records that follow the header to the visitor. A damaged record (its checksum or
// its contents do not hold) in the middle is skipped: the parser moves on byte by byte to the
// next record that holds, and only the damaged record's work is lost. Damage that runs to the
// end of the file is a torn tail (a kill mid-write). Returns the offset where the good records
// end (the file size, or the start of a torn tail); `damaged` gets the bytes skipped in the middle.
std::uint64_t stream_records(int fd, const std::string& path, const JournalVisitor& visitor, std::uint64_t& records,
                             std::uint64_t& damaged) {
  std::string buffer;
  size_t at = 0;                       // parse position in buffer
  std::uint64_t offset = kHeaderSize;  // file offset of buffer[at]
  std::uint64_t good_end = kHeaderSize;
  std::uint64_t damage_start = 0;
  bool in_damage = false, eof = false;
  const auto have = [&](size_t bytes) {
    while (buffer.size() - at < bytes && !eof) {
      if (at > kReadBlock) {  // keep the buffer small: drop what was parsed
        buffer.erase(0, at);
        at = 0;
      }
      eof = !read_more(fd, buffer, path);
    }
    return buffer.size() - at >= bytes;
  };
  CellRecord cell;
  TrialsRecord trials;
  EvaluationRecord evaluation;
  while (have(kFrameHeader)) {
    std::uint32_t size = 0, crc = 0;
    std::memcpy(&size, buffer.data() + at, 4);
    std::memcpy(&crc, buffer.data() + at + 4, 4);
    bool ok = size >= 9 && size <= kMaxPayload && have(kFrameHeader + size);
    if (ok) {
      const std::string_view payload(buffer.data() + at + kFrameHeader, size);
      const std::uint8_t kind = kind_of(payload);
      ok = crc32(payload.data(), payload.size()) == crc && (is_trials_kind(kind)      ? decode(payload, trials)
                                                            : kind == kEvaluationKind ? decode(payload, evaluation)
                                                                                      : decode(payload, cell));
      if (ok) {
        if (in_damage) damaged += offset - damage_start;
        in_damage = false;
        if (is_trials_kind(kind)) {
          if (visitor.on_trials) visitor.on_trials(trials);
        } else if (kind == kEvaluationKind) {
          if (visitor.on_evaluation) visitor.on_evaluation(evaluation);
        } else if (visitor.on_cell) {
          visitor.on_cell(cell);
        }
        ++records;
        at += kFrameHeader + size;
        offset += kFrameHeader + size;
        good_end = offset;
        continue;
      }
    }
    if (!in_damage) {
      in_damage = true;
      damage_start = offset;
    }
    ++at;
    ++offset;
  }
  return good_end;
}

std::uint64_t check_header(int fd, const std::string& path, std::uint64_t file_size) {
  char header[kHeaderSize];
  if (file_size < kHeaderSize || ::pread(fd, header, kHeaderSize, 0) != static_cast<ssize_t>(kHeaderSize) ||
      std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    throw InputError(path + ": not an attnsweep journal");
  }
  std::uint64_t hash = 0;
  std::memcpy(&hash, header + 8, sizeof hash);
  return hash;
}

// A file shorter than the header whose bytes are a prefix of the magic (or empty).
bool header_is_torn(int fd, std::uint64_t size) {
  char bytes[kHeaderSize] = {};
  if (size > 0 && ::pread(fd, bytes, size, 0) != static_cast<ssize_t>(size)) return false;
  return std::memcmp(bytes, kMagic, std::min<std::uint64_t>(size, sizeof kMagic)) == 0;
}

std::uint64_t file_size_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The config hash stamped with a kernel version (version 1 stamps nothing: journals written
// before the stamp are version 1's).
std::uint64_t stamped(std::uint64_t config_hash, int version) {
  return version == 1 ? config_hash : config_hash ^ (0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(version));
}

// Why a journal's stored config hash is not the expected one: another config, or (one byte
// differs) a damaged header.
std::string owner_mismatch(const std::string& path, std::uint64_t stored, std::uint64_t expected,
                           const std::string& owner) {
  int bytes_differing = 0;
  for (int b = 0; b < 8; ++b) bytes_differing += ((stored >> (8 * b)) & 0xff) != ((expected >> (8 * b)) & 0xff);
  if (bytes_differing == 1) {
    return path + " is damaged: the config hash in its header differs from this config's in one byte (" + hex(stored) +
           " against " + hex(expected) +
           "), a damaged byte rather than another config; move it away and rerun (the work it held beyond the "
           "output's last snapshot is computed again)";
  }
  return path + " belongs to a " + owner + " with another config (hash " + hex(stored) + ", this config " +
         hex(expected) + "); use another output file or the original config";
}

// Writes all of `bytes` (retrying short writes and EINTR) and flushes it to disk.
void write_durably(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) throw IoError("cannot write journal " + path + ": " + std::strerror(wrote < 0 ? errno : ENOSPC));
    done += static_cast<size_t>(wrote);
  }
  if (::fdatasync(fd) != 0) throw IoError("cannot flush journal " + path + " to disk: " + std::strerror(errno));
}
}  // namespace

void Journal::Batch::add_payload(const std::string& payload) {
  ByteWriter w(frames_);
  w.put(static_cast<std::uint32_t>(payload.size()));
  w.put(crc32(payload.data(), payload.size()));
  frames_ += payload;
  ++records_;
}

void Journal::Batch::add(const CellRecord& record) { add_payload(encode(record)); }

void Journal::Batch::absorb(Batch& other) {
  frames_ += other.frames_;
  records_ += other.records_;
  other.frames_.clear();
  other.records_ = 0;
}

void Journal::Batch::add(const TrialsRecord& record) {
  const size_t count = record.trial.size();
  bool consistent = true;
  for (const std::vector<double>& v : record.values) consistent = consistent && v.size() == count;
  if (!consistent) {
    throw std::logic_error("journal: trials record with arrays of different lengths");
  }
  for (size_t begin = 0; begin < count; begin += kMaxTrialsPerRecord) {
    add_payload(encode(record, begin, std::min(count, begin + kMaxTrialsPerRecord)));
  }
}

void Journal::Batch::add(const EvaluationRecord& record) {
  const size_t count = record.trial.size();
  if (record.lambda.size() != count)
    throw std::logic_error("journal: evaluation record with arrays of different lengths");
  for (size_t begin = 0; begin < count; begin += kMaxTrialsPerRecord) {
    add_payload(encode(record, begin, std::min(count, begin + kMaxTrialsPerRecord)));
  }
}

Journal::Journal(const std::string& path, std::uint64_t config_hash, const JournalVisitor& visitor) : path_(path) {
  fd_ = open_regular(path, O_RDWR | O_CREAT | O_EXCL);
  const bool created = fd_ >= 0;
  if (!created && errno == EEXIST) fd_ = open_regular(path, O_RDWR);
  if (fd_ < 0) {
    const int error = errno;
    if (error == ENOSPC || error == EIO || error == EDQUOT) {
      throw IoError("cannot create journal " + path + ": " + std::strerror(error));
    }
    throw InputError("cannot open journal " + path + ": " + std::strerror(error));
  }
  // One writer per sweep: a second run on the same output (or ranks orphaned by a killed
  // launcher) must not interleave records.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw InputError(path + " is in use by another running sweep");
  }
  try {
    const std::uint64_t size = file_size_of(fd_);
    if (size < kHeaderSize && header_is_torn(fd_, size)) {
      // Empty, or a header cut short (a full disk or a kill while creating it): it holds no
      // record, so it is started again rather than refused forever.
      if (::ftruncate(fd_, 0) != 0) throw IoError("cannot reset journal " + path + ": " + std::strerror(errno));
      std::string header(kMagic, sizeof kMagic);
      ByteWriter(header).put(stamp(config_hash));
      try {
        write_durably(fd_, header, path);
      } catch (const IoError&) {
        // Leave no empty or half-written journal behind (a later open would reset it anyway).
        if (created) {
          ::unlink(path.c_str());
        } else if (::ftruncate(fd_, 0) != 0) {
          // Nothing more to do: the next open finds a torn header and starts it again.
        }
        throw;
      }
      size_ = kHeaderSize;
    } else {
      const std::uint64_t stored = check_header(fd_, path, size);
      require_stamp(path, stored, config_hash, "sweep");
      ::lseek(fd_, static_cast<off_t>(kHeaderSize), SEEK_SET);
      const std::uint64_t good = stream_records(fd_, path, visitor, replayed_records_, damaged_bytes_);
      if (good < size) {
        // A torn tail only: damage followed by good records stays (it is skipped at each replay).
        dropped_bytes_ = size - good;
        if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || ::fsync(fd_) != 0) {
          throw IoError("cannot cut the torn tail of journal " + path + ": " + std::strerror(errno));
        }
      }
      size_ = good;
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
  ::lseek(fd_, 0, SEEK_END);
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::commit(Batch& batch) {
  if (batch.empty()) return;
  // One write per batch: a kill leaves at most the batch's last records torn, which replay cuts off.
  write_durably(fd_, batch.frames_, path_);
  size_ += batch.frames_.size();
  batch.frames_.clear();
  batch.records_ = 0;
}

void Journal::append(const CellRecord& record) {
  Batch batch;
  batch.add(record);
  commit(batch);
}

void Journal::append(const TrialsRecord& record) {
  Batch batch;
  batch.add(record);
  commit(batch);
}

std::uint64_t Journal::read_hash(const std::string& path) {
  const int fd = open_regular(path, O_RDONLY);
  if (fd < 0) throw InputError("cannot open journal " + path + ": " + std::strerror(errno));
  try {
    const std::uint64_t size = file_size_of(fd);
    const std::uint64_t hash = size < kHeaderSize && header_is_torn(fd, size) ? kNoHash : check_header(fd, path, size);
    ::close(fd);
    return hash;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void Journal::require_owner(const std::string& path, std::uint64_t config_hash, const std::string& owner) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // no journal yet
  const std::uint64_t stored = read_hash(path);
  if (stored != kNoHash) require_stamp(path, stored, config_hash, owner);
}

std::uint64_t Journal::stamp(std::uint64_t config_hash) { return stamped(config_hash, model::kKernelVersion); }

void Journal::require_stamp(const std::string& path, std::uint64_t stored, std::uint64_t config_hash,
                            const std::string& owner) {
  if (stored == stamp(config_hash)) return;
  // This config's records computed by another kernel (any version up to far beyond this one).
  for (int version = 1; version <= model::kKernelVersion + 64; ++version)
    if (stored == stamped(config_hash, version)) require_this_kernel(path, version);
  throw InputError(owner_mismatch(path, stored, stamp(config_hash), owner));
}

bool Journal::locked_here(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  // Lines of /proc/locks: "1: FLOCK  ADVISORY  WRITE 1234 08:01:123456 0 EOF"; the device is
  // in hex major:minor.
  char wanted[64];
  std::snprintf(wanted, sizeof wanted, " %02x:%02x:%llu ", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line))
    if ((line + " ").find(wanted) != std::string::npos) return true;
  return false;
}

std::uint64_t Journal::read(const std::string& path, const JournalVisitor& visitor) {
  const int fd = open_regular(path, O_RDONLY);
  if (fd < 0) throw InputError("cannot open journal " + path + ": " + std::strerror(errno));
  try {
    const std::uint64_t size = file_size_of(fd);
    if (size < kHeaderSize && header_is_torn(fd, size)) {
      ::close(fd);
      return kNoHash;
    }
    const std::uint64_t hash = check_header(fd, path, size);
    ::lseek(fd, static_cast<off_t>(kHeaderSize), SEEK_SET);
    std::uint64_t records = 0, damaged = 0;
    stream_records(fd, path, visitor, records, damaged);
    ::close(fd);
    return hash;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace attnsweep::io
