#include "hdf5.hpp"

#include <H5DSpublic.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>

#include "attnsweep/io/paths.hpp"

namespace attnsweep::io::h5 {

namespace {
constexpr std::int64_t kMaxWholeRead = std::int64_t{1} << 26;

herr_t collect_message(unsigned depth, const H5E_error2_t* err, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (depth == 0 && err->desc) *text = err->desc;  // the innermost, most specific message
  return 0;
}

std::string hdf5_message() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "unknown HDF5 error" : text;
}

hid_t checked(hid_t id, const std::string& what) {
  if (id < 0) throw Hdf5Error(what + ": " + hdf5_message());
  return id;
}

Handle dataspace(const std::vector<std::int64_t>& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  if (dims.empty()) return Handle(H5Screate(H5S_SCALAR), H5Sclose, "create scalar dataspace");
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "create dataspace");
}

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (auto s : shape) count *= s;
  return count;
}

// Chunked with a Fletcher-32 checksum (variable-length strings: chunked only, the filter would
// cover heap references, not the text); empty arrays and scalars stay contiguous.
Handle creation_properties(const std::vector<std::int64_t>& shape, bool checksum) {
  Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "create dataset properties");
  if (!shape.empty() && element_count(shape) > 0) {
    const std::vector<std::int64_t> chunk64 = chunk_shape(shape);
    std::vector<hsize_t> chunk(chunk64.begin(), chunk64.end());
    check(H5Pset_chunk(plist.id(), static_cast<int>(chunk.size()), chunk.data()), "set chunking");
    if (checksum) check(H5Pset_fletcher32(plist.id()), "set Fletcher-32 checksum");
  }
  return plist;
}

// The file and memory dataspaces of a read: everything, or the slab.
struct ReadSpaces {
  Handle file, memory;
  hid_t file_id() const { return file.id() >= 0 ? file.id() : H5S_ALL; }
  hid_t memory_id() const { return memory.id() >= 0 ? memory.id() : H5S_ALL; }
};

ReadSpaces read_spaces(const Handle& set, const Slab& slab, const std::string& name, std::int64_t& elements) {
  ReadSpaces spaces;
  Handle file_space(H5Dget_space(set.id()), H5Sclose, "get dataspace of " + name);
  const int rank = H5Sget_simple_extent_ndims(file_space.id());
  if (rank < 0) throw Hdf5Error("rank of " + name + ": " + hdf5_message());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(file_space.id(), dims.data(), nullptr), "dims of " + name);
  if (slab.whole()) {
    // Whole reads are for axes and texts; a count beyond any of those is a damaged dataspace
    // (a flipped bit declares 2^32 values), refused before memory is asked for it.
    double declared = 1;
    for (hsize_t d : dims) declared *= static_cast<double>(d);
    if (declared > static_cast<double>(kMaxWholeRead)) {
      throw Hdf5Error("read " + name + ": it declares " + std::to_string(static_cast<long double>(declared)) +
                      " values, more than a whole read takes (" + std::to_string(kMaxWholeRead) + ")");
    }
    elements = static_cast<std::int64_t>(declared);
    return spaces;
  }
  if (slab.start.size() != dims.size() || slab.count.size() != dims.size()) {
    throw Hdf5Error("read " + name + ": slab rank does not match the dataset");
  }
  std::vector<hsize_t> start(dims.size()), count(dims.size());
  elements = 1;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (slab.start[k] < 0 || slab.count[k] < 0 || static_cast<hsize_t>(slab.start[k] + slab.count[k]) > dims[k]) {
      throw Hdf5Error("read " + name + ": slab outside the dataset");
    }
    start[k] = static_cast<hsize_t>(slab.start[k]);
    count[k] = static_cast<hsize_t>(slab.count[k]);
    elements *= slab.count[k];
  }
  if (elements == 0) return spaces;
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
        "select slab of " + name);
  spaces.file = std::move(file_space);
  spaces.memory =
      Handle(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose, "create dataspace");
  return spaces;
}

// Every dataset has a fill value (NaN for reals, 0 for integers): an array that holds only
// its fill value (a fresh sweep's first snapshot) is created without writing a byte of data,
// and readers still see the fill value.
template <class T>
T fill_value() {
  if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::quiet_NaN();
  return T{};
}

template <class T>
bool only_fill(const std::vector<T>& data) {
  const T fill = fill_value<T>();
  return std::all_of(data.begin(), data.end(), [&fill](const T& v) { return std::memcmp(&v, &fill, sizeof v) == 0; });
}

template <class T>
void write_array(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                 const std::vector<T>& data, hid_t file_type, hid_t memory_type) {
  if (static_cast<std::int64_t>(data.size()) != element_count(shape)) {
    throw Hdf5Error("write " + name + ": data size does not match its shape");
  }
  Handle space = dataspace(shape);
  Handle plist = creation_properties(shape, true);
  const T fill = fill_value<T>();
  check(H5Pset_fill_value(plist.id(), memory_type, &fill), "set fill value of " + name);
  Handle set(H5Dcreate2(parent.id(), name.c_str(), file_type, space.id(), H5P_DEFAULT, plist.id(), H5P_DEFAULT),
             H5Dclose, "create dataset " + name);
  if (!data.empty() && !only_fill(data)) {
    check(H5Dwrite(set.id(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write dataset " + name);
  }
}

template <class T>
std::vector<T> read_array(const Handle& parent, const std::string& name, hid_t memory_type, const Slab& slab) {
  Handle set(H5Dopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  std::int64_t elements = 0;
  const ReadSpaces spaces = read_spaces(set, slab, name, elements);
  std::vector<T> data(static_cast<size_t>(elements));
  if (!data.empty()) {
    check(H5Dread(set.id(), memory_type, spaces.memory_id(), spaces.file_id(), H5P_DEFAULT, data.data()),
          "read dataset " + name);
  }
  return data;
}

Handle variable_string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "copy string type");
  check(H5Tset_size(type.id(), H5T_VARIABLE), "set string size");
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "set string encoding");
  return type;
}
}  // namespace

Handle::Handle(hid_t id, Closer closer, const std::string& what) : id_(checked(id, what)), closer_(closer) {}

void Handle::close(const std::string& what) {
  if (id_ < 0 || !closer_) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  check(closer_(id), what);
}

Handle::~Handle() {
  if (id_ >= 0 && closer_) closer_(id_);
}

Handle::Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No library shutdown at exit: after a write that failed (a full disk), HDF5 1.10's exit
    // handler crashes closing the file it could not close. Every handle here is closed by RAII
    // before exit, so the handler has nothing left to do anyway.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

void check(herr_t status, const std::string& what) {
  if (status < 0) throw Hdf5Error(what + ": " + hdf5_message());
}

std::vector<std::int64_t> chunk_shape(const std::vector<std::int64_t>& shape) {
  // Whole trailing dimensions first, then as many rows of the leading ones as the budget allows.
  std::vector<std::int64_t> chunk(shape.size(), 1);
  std::int64_t budget = kChunkElements;
  for (size_t k = shape.size(); k-- > 0;) {
    chunk[k] = std::max<std::int64_t>(1, std::min(shape[k], budget));
    budget = std::max<std::int64_t>(1, budget / chunk[k]);
  }
  return chunk;
}

Handle create_file(const std::string& path) {
  quiet_errors();
  return Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, "create " + path);
}

Handle open_file_readonly(const std::string& path) {
  // A FIFO or a device would block H5Fopen forever (deaf to INT and TERM): refused first.
  require_regular_file(path, "");
  quiet_errors();
  // attnsweep replaces its files atomically (write a temporary, rename), so readers need no
  // HDF5 file lock; without one, `query` works while a sweep runs and on file systems
  // without lock support (common for cluster scratch).
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "create file access properties");
  check(H5Pset_file_locking(access.id(), false, true), "disable file locking");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id());
  if (id < 0) {
    const std::string reason = hdf5_message();
    throw Hdf5Error("not a readable HDF5 file (" + reason + ")");
  }
  return Handle(id, H5Fclose, "open " + path);
}

Handle create_group(const Handle& parent, const std::string& name) {
  return Handle(H5Gcreate2(parent.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                "create group " + name);
}

Handle open_group(const Handle& parent, const std::string& name) {
  return Handle(H5Gopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Gclose, "open group " + name);
}

bool exists(const Handle& parent, const std::string& path) {
  // Check each component: H5Lexists fails, not returns false, when a parent is missing.
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      const htri_t found = H5Lexists(parent.id(), prefix.c_str(), H5P_DEFAULT);
      if (found <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

void write_doubles(const Handle& p, const std::string& n, const std::vector<std::int64_t>& s,
                   const std::vector<double>& d) {
  write_array(p, n, s, d, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}
void write_int32(const Handle& p, const std::string& n, const std::vector<std::int64_t>& s,
                 const std::vector<std::int32_t>& d) {
  write_array(p, n, s, d, H5T_STD_I32LE, H5T_NATIVE_INT32);
}
void write_int64(const Handle& p, const std::string& n, const std::vector<std::int64_t>& s,
                 const std::vector<std::int64_t>& d) {
  write_array(p, n, s, d, H5T_STD_I64LE, H5T_NATIVE_INT64);
}
void write_uint8(const Handle& p, const std::string& n, const std::vector<std::int64_t>& s,
                 const std::vector<std::uint8_t>& d) {
  write_array(p, n, s, d, H5T_STD_U8LE, H5T_NATIVE_UINT8);
}

void write_strings(const Handle& parent, const std::string& name, const std::vector<std::int64_t>& shape,
                   const std::vector<const char*>& data) {
  Handle type = variable_string_type();
  if (static_cast<std::int64_t>(data.size()) != element_count(shape)) {
    throw Hdf5Error("write " + name + ": data size does not match its shape");
  }
  Handle space = dataspace(shape);
  Handle plist = creation_properties(shape, false);
  Handle set(H5Dcreate2(parent.id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, plist.id(), H5P_DEFAULT),
             H5Dclose, "create dataset " + name);
  // All null: nothing written; readers get the fill value (a null string, read as empty).
  const bool all_null = !shape.empty() && std::all_of(data.begin(), data.end(), [](const char* s) { return !s; });
  if (!data.empty() && !all_null) {
    check(H5Dwrite(set.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write dataset " + name);
  }
}

void write_string(const Handle& parent, const std::string& name, const std::string& text) {
  write_strings(parent, name, {}, {text.c_str()});
}

std::vector<std::int64_t> dataset_shape(const Handle& parent, const std::string& name) {
  Handle set(H5Dopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle space(H5Dget_space(set.id()), H5Sclose, "get dataspace of " + name);
  const int rank = H5Sget_simple_extent_ndims(space.id());
  if (rank < 0) throw Hdf5Error("rank of " + name + ": " + hdf5_message());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), "dims of " + name);
  return {dims.begin(), dims.end()};
}

std::vector<double> read_doubles(const Handle& p, const std::string& n, const Slab& slab) {
  return read_array<double>(p, n, H5T_NATIVE_DOUBLE, slab);
}
std::vector<std::int32_t> read_int32(const Handle& p, const std::string& n, const Slab& slab) {
  return read_array<std::int32_t>(p, n, H5T_NATIVE_INT32, slab);
}
std::vector<std::int64_t> read_int64(const Handle& p, const std::string& n, const Slab& slab) {
  return read_array<std::int64_t>(p, n, H5T_NATIVE_INT64, slab);
}
std::vector<std::uint8_t> read_uint8(const Handle& p, const std::string& n, const Slab& slab) {
  return read_array<std::uint8_t>(p, n, H5T_NATIVE_UINT8, slab);
}

std::vector<std::string> read_strings(const Handle& parent, const std::string& name, const Slab& slab) {
  Handle set(H5Dopen2(parent.id(), name.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + name);
  Handle file_type(H5Dget_type(set.id()), H5Tclose, "type of " + name);
  if (H5Tget_class(file_type.id()) != H5T_STRING || H5Tis_variable_str(file_type.id()) <= 0) {
    throw Hdf5Error(name + " is not a variable-length string dataset");
  }
  std::int64_t count = 0;
  const ReadSpaces spaces = read_spaces(set, slab, name, count);
  std::vector<char*> pointers(static_cast<size_t>(count), nullptr);
  Handle type = variable_string_type();
  std::vector<std::string> out;
  if (count > 0) {
    check(H5Dread(set.id(), type.id(), spaces.memory_id(), spaces.file_id(), H5P_DEFAULT, pointers.data()),
          "read dataset " + name);
    for (char* p : pointers) out.emplace_back(p ? p : "");
    Handle memory_space = spaces.memory.id() >= 0
                              ? Handle(H5Scopy(spaces.memory.id()), H5Sclose, "copy dataspace")
                              : Handle(H5Dget_space(set.id()), H5Sclose, "get dataspace of " + name);
    H5Dvlen_reclaim(type.id(), memory_space.id(), H5P_DEFAULT, pointers.data());
  }
  return out;
}

std::string read_string(const Handle& parent, const std::string& name) {
  const auto all = read_strings(parent, name);
  if (all.size() != 1) throw Hdf5Error(name + " is not a single string");
  return all[0];
}

void set_attribute(const Handle& file, const std::string& object, const std::string& name, const std::string& value) {
  Handle type = variable_string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "create scalar dataspace");
  Handle attr(H5Acreate_by_name(file.id(), object.c_str(), name.c_str(), type.id(), space.id(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create attribute " + name);
  const char* text = value.c_str();
  check(H5Awrite(attr.id(), type.id(), &text), "write attribute " + name);
}

void set_attribute(const Handle& file, const std::string& object, const std::string& name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "create scalar dataspace");
  Handle attr(H5Acreate_by_name(file.id(), object.c_str(), name.c_str(), H5T_STD_I64LE, space.id(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create attribute " + name);
  check(H5Awrite(attr.id(), H5T_NATIVE_INT64, &value), "write attribute " + name);
}

void set_attribute(const Handle& file, const std::string& object, const std::string& name,
                   const std::vector<std::uint8_t>& values) {
  const hsize_t size = values.size();
  Handle space(H5Screate_simple(1, &size, nullptr), H5Sclose, "create dataspace of attribute " + name);
  Handle attr(H5Acreate_by_name(file.id(), object.c_str(), name.c_str(), H5T_STD_U8LE, space.id(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create attribute " + name);
  check(H5Awrite(attr.id(), H5T_NATIVE_UINT8, values.data()), "write attribute " + name);
}

void set_attribute(const Handle& file, const std::string& object, const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "create scalar dataspace");
  Handle attr(H5Acreate_by_name(file.id(), object.c_str(), name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create attribute " + name);
  check(H5Awrite(attr.id(), H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}

std::string get_string_attribute(const Handle& file, const std::string& object, const std::string& name) {
  Handle attr(H5Aopen_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              "open attribute " + name);
  Handle file_type(H5Aget_type(attr.id()), H5Tclose, "type of attribute " + name);
  if (H5Tget_class(file_type.id()) != H5T_STRING || H5Tis_variable_str(file_type.id()) <= 0) {
    throw Hdf5Error("attribute " + name + " is not a string");
  }
  Handle type = variable_string_type();
  char* text = nullptr;
  check(H5Aread(attr.id(), type.id(), &text), "read attribute " + name);
  std::string value = text ? text : "";
  H5free_memory(text);
  return value;
}

std::int64_t get_int_attribute(const Handle& file, const std::string& object, const std::string& name) {
  Handle attr(H5Aopen_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              "open attribute " + name);
  Handle file_type(H5Aget_type(attr.id()), H5Tclose, "type of attribute " + name);
  if (H5Tget_class(file_type.id()) != H5T_INTEGER) throw Hdf5Error("attribute " + name + " is not an integer");
  std::int64_t value = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_INT64, &value), "read attribute " + name);
  return value;
}

bool has_attribute(const Handle& file, const std::string& object, const std::string& name) {
  const htri_t found = H5Aexists_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (found < 0) throw Hdf5Error("look for attribute " + name + " of " + object + ": " + hdf5_message());
  return found > 0;
}

void make_scale(const Handle& file, const std::string& scale, const std::string& label) {
  Handle set(H5Dopen2(file.id(), scale.c_str(), H5P_DEFAULT), H5Dclose, "open " + scale);
  check(H5DSset_scale(set.id(), label.c_str()), "make " + scale + " a dimension scale");
}

void attach_scale(const Handle& file, const std::string& dataset, const std::string& scale, unsigned dim) {
  Handle set(H5Dopen2(file.id(), dataset.c_str(), H5P_DEFAULT), H5Dclose, "open " + dataset);
  Handle sc(H5Dopen2(file.id(), scale.c_str(), H5P_DEFAULT), H5Dclose, "open " + scale);
  check(H5DSattach_scale(set.id(), sc.id(), dim), "attach " + scale + " to " + dataset);
  // Label the dimension too, so tools that read labels rather than scales see the axis name.
  const std::string label = scale.substr(scale.rfind('/') + 1);
  check(H5DSset_label(set.id(), dim, label.c_str()), "label dimension of " + dataset);
}

bool scale_attached(const Handle& file, const std::string& dataset, const std::string& scale, unsigned dim) {
  Handle set(H5Dopen2(file.id(), dataset.c_str(), H5P_DEFAULT), H5Dclose, "open " + dataset);
  Handle sc(H5Dopen2(file.id(), scale.c_str(), H5P_DEFAULT), H5Dclose, "open " + scale);
  const htri_t attached = H5DSis_attached(set.id(), sc.id(), dim);
  if (attached < 0) throw Hdf5Error("check scale " + scale + ": " + hdf5_message());
  return attached > 0;
}

}  // namespace attnsweep::io::h5
