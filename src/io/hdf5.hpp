// A thin RAII layer over the HDF5 C API.
//
// Every handle closes itself; every call is checked, and a failure becomes an Hdf5Error
// carrying HDF5's own message (its error stack is silenced and read back instead of being
// printed). Destructors never throw.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnsweep::io::h5 {

struct Hdf5Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer, const std::string& what);  // throws if id < 0
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  // Closes now, checking the result (the destructor cannot report a failed close).
  void close(const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Silence HDF5's automatic error printing once per process.
void quiet_errors();
// Throws Hdf5Error(what + HDF5's message) when status < 0.
void check(herr_t status, const std::string& what);

Handle create_file(const std::string& path);  // truncates
Handle open_file_readonly(const std::string& path);
Handle create_group(const Handle& parent, const std::string& name);
Handle open_group(const Handle& parent, const std::string& name);
bool exists(const Handle& parent, const std::string& path);

// Datasets: contiguous row-major data of the given shape. Arrays of rank >= 1 are written
// chunked (chunks of at most kChunkElements elements, so no grid meets HDF5's 4 GiB chunk
// limit and a one-cell read touches one small chunk) with the Fletcher-32 checksum filter, so
// HDF5 itself detects corruption on read.
inline constexpr std::int64_t kChunkElements = std::int64_t{1} << 16;
std::vector<std::int64_t> chunk_shape(const std::vector<std::int64_t>& shape);
void write_doubles(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::vector<double>& data);
void write_int32(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                 const std::vector<std::int32_t>& data);
void write_int64(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                 const std::vector<std::int64_t>& data);
void write_uint8(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                 const std::vector<std::uint8_t>& data);
// Variable-length UTF-8 strings; a null pointer is an empty string (and costs nothing).
void write_strings(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::vector<const char*>& data);
void write_string(const Handle& parent, const std::string& name, const std::string& text);

std::vector<std::int64_t> dataset_shape(const Handle& parent, const std::string& name);

// A hyperslab: `count` elements from `start` along each dimension. An empty Slab means the
// whole dataset.
struct Slab {
  std::vector<std::int64_t> start, count;
  bool whole() const { return start.empty(); }
};
// Readers take an optional slab and return its elements in C order.
std::vector<double> read_doubles(const Handle& parent, const std::string& name, const Slab& slab = {});
std::vector<std::int32_t> read_int32(const Handle& parent, const std::string& name, const Slab& slab = {});
std::vector<std::int64_t> read_int64(const Handle& parent, const std::string& name, const Slab& slab = {});
std::vector<std::uint8_t> read_uint8(const Handle& parent, const std::string& name, const Slab& slab = {});
std::vector<std::string> read_strings(const Handle& parent, const std::string& name, const Slab& slab = {});
std::string read_string(const Handle& parent, const std::string& name);

// Attributes on an object (a file's root "/" or any dataset/group path).
void set_attribute(const Handle& file, const std::string& object, const std::string& name, const std::string& value);
void set_attribute(const Handle& file, const std::string& object, const std::string& name, std::int64_t value);
void set_attribute(const Handle& file, const std::string& object, const std::string& name, double value);
void set_attribute(const Handle& file, const std::string& object, const std::string& name,
                   const std::vector<std::uint8_t>& values);  // a 1-D array (CF's flag_values)
std::string get_string_attribute(const Handle& file, const std::string& object, const std::string& name);
std::int64_t get_int_attribute(const Handle& file, const std::string& object, const std::string& name);
bool has_attribute(const Handle& file, const std::string& object, const std::string& name);

// Marks `scale` as a dimension scale named `label` and attaches it to dimension `dim` of `dataset`.
void make_scale(const Handle& file, const std::string& scale, const std::string& label);
void attach_scale(const Handle& file, const std::string& dataset, const std::string& scale, unsigned dim);
bool scale_attached(const Handle& file, const std::string& dataset, const std::string& scale, unsigned dim);

}  // namespace attnsweep::io::h5
