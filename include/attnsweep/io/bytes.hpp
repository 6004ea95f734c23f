// The one byte codec of the project: MPI messages and journal records are both written with
// ByteWriter and read with ByteReader, so a field added to one is laid out like the other.
// Values are copied in the machine's byte order (little-endian on every platform we build).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace attnsweep::io {

// Reading past the end of a buffer: a truncated or malformed message or record.
struct TruncatedBytes : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  template <class T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  // A length-prefixed (u32) string.
  void put_text(std::string_view text) {
    put(static_cast<std::uint32_t>(text.size()));
    out_.append(text.data(), text.size());
  }

 private:
  std::string& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    if (sizeof(T) > in_.size() - at_) throw TruncatedBytes("truncated data");
    T value;
    std::memcpy(&value, in_.data() + at_, sizeof value);
    at_ += sizeof value;
    return value;
  }
  std::string get_text() {
    const auto size = get<std::uint32_t>();
    if (size > in_.size() - at_) throw TruncatedBytes("truncated text");
    std::string text(in_.substr(at_, size));
    at_ += size;
    return text;
  }
  size_t remaining() const { return in_.size() - at_; }
  bool at_end() const { return at_ == in_.size(); }

 private:
  std::string_view in_;
  size_t at_ = 0;
};

}  // namespace attnsweep::io
