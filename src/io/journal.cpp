#include "attnsweep/io/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace attnsweep::io {

namespace {
constexpr char kMagic[8] = {'A', 'T', 'S', 'W', 'J', 'R', 'N', '1'};
constexpr size_t kHeaderSize = 16;
constexpr std::uint32_t kMaxPayload = 1u << 20;
constexpr std::uint8_t kTrialsKind = 3;           // after the CellStatus values 0..2
constexpr size_t kMaxTrialsPerRecord = 1u << 14;  // 24 bytes each: well inside kMaxPayload

std::array<std::uint32_t, 256> crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
bool get(const std::string& in, size_t& at, T& value) {
  if (at + sizeof value > in.size()) return false;
  std::memcpy(&value, in.data() + at, sizeof value);
  at += sizeof value;
  return true;
}

std::string encode(const CellRecord& r) {
  std::string p;
  put(p, r.cell);
  put(p, static_cast<std::uint8_t>(r.status));
  put(p, r.trials);
  put(p, r.lambda_mean);
  put(p, r.lambda_stderr);
  put(p, r.eta_mean);
  put(p, r.eta_stderr);
  put(p, r.seconds);
  put(p, r.attempts);
  const std::string error = r.error.substr(0, 4096);
  put(p, static_cast<std::uint32_t>(error.size()));
  p += error;
  return p;
}

bool decode(const std::string& p, CellRecord& r) {
  size_t at = 0;
  std::uint8_t status = 0;
  std::uint32_t error_size = 0;
  if (!(get(p, at, r.cell) && get(p, at, status) && get(p, at, r.trials) && get(p, at, r.lambda_mean) &&
        get(p, at, r.lambda_stderr) && get(p, at, r.eta_mean) && get(p, at, r.eta_stderr) && get(p, at, r.seconds) &&
        get(p, at, r.attempts) && get(p, at, error_size)))
    return false;
  if (status > 2 || at + error_size != p.size()) return false;
  r.status = static_cast<CellStatus>(status);
  r.error = p.substr(at, error_size);
  return true;
}

std::string encode(const TrialsRecord& r, size_t begin, size_t end) {
  std::string p;
  put(p, r.cell);
  put(p, kTrialsKind);
  // The seconds go with the first chunk only, so that chunks add up to the record's time.
  put(p, begin == 0 ? r.seconds : 0.0);
  put(p, static_cast<std::uint32_t>(end - begin));
  for (size_t i = begin; i < end; ++i) {
    put(p, r.trial[i]);
    put(p, r.lambda[i]);
    put(p, r.eta[i]);
  }
  return p;
}

bool decode(const std::string& p, TrialsRecord& r) {
  size_t at = 0;
  std::uint8_t kind = 0;
  std::uint32_t count = 0;
  if (!(get(p, at, r.cell) && get(p, at, kind) && get(p, at, r.seconds) && get(p, at, count))) return false;
  if (kind != kTrialsKind || p.size() - at != static_cast<size_t>(count) * 24) return false;
  r.trial.resize(count);
  r.lambda.resize(count);
  r.eta.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    get(p, at, r.trial[i]);
    get(p, at, r.lambda[i]);
    get(p, at, r.eta[i]);
  }
  return true;
}

// The kind byte that follows the cell index.
bool is_trials_record(const std::string& p) { return p.size() > 8 && static_cast<std::uint8_t>(p[8]) == kTrialsKind; }

std::string read_all(int fd) {
  std::string data;
  char buf[1 << 16];
  ssize_t got;
  while ((got = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(got));
  return data;
}

// Parses records after the header; returns the offset just past the last good record.
size_t parse_records(const std::string& data, std::vector<CellRecord>& records, std::vector<TrialsRecord>& trials) {
  size_t at = kHeaderSize;
  while (true) {
    size_t cursor = at;
    std::uint32_t size = 0, crc = 0;
    if (!get(data, cursor, size) || !get(data, cursor, crc)) break;
    if (size > kMaxPayload || cursor + size > data.size()) break;
    const std::string payload = data.substr(cursor, size);
    if (crc32(payload.data(), payload.size()) != crc) break;
    if (is_trials_record(payload)) {
      TrialsRecord r;
      if (!decode(payload, r)) break;
      trials.push_back(std::move(r));
    } else {
      CellRecord r;
      if (!decode(payload, r)) break;
      records.push_back(std::move(r));
    }
    at = cursor + size;
  }
  return at;
}

std::uint64_t check_header(const std::string& data, const std::string& path) {
  if (data.size() < kHeaderSize || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    throw InputError(path + ": not an attnsweep journal");
  }
  std::uint64_t hash = 0;
  std::memcpy(&hash, data.data() + 8, sizeof hash);
  return hash;
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

std::uint32_t crc32(const void* data, size_t size, std::uint32_t crc) {
  static const auto table = crc_table();
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

Journal::Journal(const std::string& path, std::uint64_t config_hash) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw InputError("cannot open journal " + path + ": " + std::strerror(errno));
  // One writer per sweep: a second run on the same output (or ranks orphaned by a killed
  // launcher) must not interleave records.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw InputError(path + " is in use by another running sweep");
  }
  const std::string data = read_all(fd_);
  try {
    if (data.empty()) {
      std::string header(kMagic, sizeof kMagic);
      put(header, config_hash);
      if (::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()) || ::fsync(fd_) != 0) {
        throw InputError("cannot write journal " + path + ": " + std::strerror(errno));
      }
    } else {
      const std::uint64_t stored = check_header(data, path);
      if (stored != config_hash) {
        throw InputError(path + " belongs to a sweep with another config (hash " + hex(stored) + ", this config " +
                         hex(config_hash) + "); use another output file or the original config");
      }
      const size_t good = parse_records(data, replayed_, replayed_trials_);
      if (good < data.size()) {
        dropped_bytes_ = data.size() - good;
        if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || ::fsync(fd_) != 0) {
          throw InputError("cannot repair journal " + path + ": " + std::strerror(errno));
        }
      }
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

void Journal::append(const CellRecord& record) { append_payload(encode(record)); }

void Journal::append(const TrialsRecord& record) {
  const size_t count = record.trial.size();
  if (record.lambda.size() != count || record.eta.size() != count) {
    throw std::logic_error("journal: trials record with arrays of different lengths");
  }
  for (size_t begin = 0; begin < count; begin += kMaxTrialsPerRecord) {
    append_payload(encode(record, begin, std::min(count, begin + kMaxTrialsPerRecord)));
  }
}

void Journal::append_payload(const std::string& payload) {
  std::string frame;
  put(frame, static_cast<std::uint32_t>(payload.size()));
  put(frame, crc32(payload.data(), payload.size()));
  frame += payload;
  // One write per record: a kill leaves at most this record torn, which replay cuts off.
  if (::write(fd_, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()) || ::fdatasync(fd_) != 0) {
    throw std::runtime_error("journal " + path_ + ": write failed: " + std::strerror(errno));
  }
}

std::vector<CellRecord> Journal::read(const std::string& path, std::uint64_t* config_hash) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError("cannot open journal " + path + ": " + std::strerror(errno));
  const std::string data = read_all(fd);
  ::close(fd);
  const std::uint64_t hash = check_header(data, path);
  if (config_hash) *config_hash = hash;
  std::vector<CellRecord> records;
  std::vector<TrialsRecord> trials;
  parse_records(data, records, trials);
  return records;
}

}  // namespace attnsweep::io
