// Implementation of the private HDF5 read helpers (attributes, string datasets, groups).
#include "cdl/h5/read.hpp"

#include <algorithm>
#include <filesystem>

#include "cdl/core/error.hpp"
#include "cdl/h5/handle.hpp"

namespace cdl::h5 {
namespace {

/// Reads `count` strings of file type `type` through `reader(mem_type, buffer)`.
template <typename Reader>
std::vector<std::string> read_strings(hid_t type, size_t count, Reader reader) {
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    Datatype mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type));
    std::vector<char*> buffer(count, nullptr);
    if (reader(mem.get(), buffer.data()) < 0) return out;
    for (char* s : buffer) {
      out.emplace_back(s ? s : "");
      if (s) H5free_memory(s);  // variable-length strings are allocated by the HDF5 library
    }
    return out;
  }
  const size_t size = H5Tget_size(type);
  Datatype mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), size);
  H5Tset_cset(mem.get(), H5Tget_cset(type));  // HDF5 does not convert between character sets
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  std::vector<char> buffer(size * count, '\0');
  if (reader(mem.get(), buffer.data()) < 0) return out;
  for (size_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + i * size;
    size_t length = 0;
    while (length < size && begin[length] != '\0') ++length;
    out.emplace_back(begin, length);
  }
  return out;
}

}  // namespace

bool has_attribute(hid_t loc, const char* name) {
  return H5Aexists(loc, name) > 0;
}

std::optional<std::string> string_attribute(hid_t loc, const char* name) {
  if (!has_attribute(loc, name)) return std::nullopt;
  Attribute attr(H5Aopen(loc, name, H5P_DEFAULT));
  if (!attr.valid()) return std::nullopt;
  Datatype type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  Dataspace space(H5Aget_space(attr.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 1) return std::nullopt;
  auto values = read_strings(type.get(), static_cast<size_t>(n),
                             [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); });
  if (values.empty()) return std::nullopt;
  return values.front();
}

std::optional<int64_t> int_attribute(hid_t loc, const char* name) {
  if (!has_attribute(loc, name)) return std::nullopt;
  Attribute attr(H5Aopen(loc, name, H5P_DEFAULT));
  if (!attr.valid()) return std::nullopt;
  Datatype type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  int64_t value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) return std::nullopt;
  return value;
}

std::vector<std::string> string_dataset(hid_t file_id, const char* path, const std::string& file) {
  if (!link_exists(file_id, path)) {
    CDL_THROW(DataError, "HDF5 file '", file, "' has no dataset '", path,
              "'\nhint: regenerate the file with `caps2h5 convert`");
  }
  Dataset dset(H5Dopen2(file_id, path, H5P_DEFAULT));
  Datatype type(H5Dget_type(dset.get()));
  const std::vector<int64_t> dims = dataset_dims(dset.get());
  if (!dset.valid() || H5Tget_class(type.get()) != H5T_STRING || dims.size() != 1) {
    CDL_THROW(DataError, "HDF5 file '", file, "': dataset '", path,
              "' is not a 1-D string dataset\nhint: regenerate the file with `caps2h5 convert`");
  }
  auto values = read_strings(type.get(), static_cast<size_t>(dims[0]), [&](hid_t mem, void* buf) {
    return H5Dread(dset.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
  if (static_cast<int64_t>(values.size()) != dims[0]) {
    CDL_THROW(DataError, "HDF5 file '", file, "': cannot read string dataset '", path, "'");
  }
  return values;
}

std::vector<int64_t> dataset_dims(hid_t dataset) {
  Dataspace space(H5Dget_space(dataset));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

File open_image_file(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    CDL_THROW(DataError, "'", path, "' is a folder, expected an HDF5 file made by caps2h5",
              "\nhint: if it is a CAPS folder, convert it once with `caps2h5 convert ", path,
              " data.h5` and use data.h5");
  }
  if (!std::filesystem::is_regular_file(path)) {
    CDL_THROW(DataError, "HDF5 image file '", path, "' does not exist",
              "\nhint: create it with `caps2h5 convert CAPS_DIR ", path, "`");
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    CDL_THROW(DataError, "'", path, "' is not an HDF5 file",
              "\nhint: regenerate it with `caps2h5 convert CAPS_DIR OUT.h5`");
  }
  File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) {
    CDL_THROW(DataError, "cannot open HDF5 file '", path, "' read-only: ", error_text(),
              "\nhint: regenerate it with `caps2h5 convert CAPS_DIR OUT.h5`");
  }
  return file;
}

StorageCoverage storage_coverage(hid_t dataset) {
  const std::vector<int64_t> dims = dataset_dims(dataset);
  PropertyList dcpl(H5Dget_create_plist(dataset));
  StorageCoverage coverage{0, 1};
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(dims.size());
    H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    for (size_t d = 0; d < dims.size(); ++d) {
      const auto side = static_cast<int64_t>(std::max<hsize_t>(chunk[d], 1));
      coverage.needed *= (dims[d] + side - 1) / side;
    }
    hsize_t chunks = 0;
    Dataspace space(H5Dget_space(dataset));
    if (H5Dget_num_chunks(dataset, space.get(), &chunks) >= 0) {
      coverage.written = static_cast<int64_t>(chunks);
    }
    return coverage;
  }
  H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
  H5Dget_space_status(dataset, &status);
  coverage.written =
      status == H5D_SPACE_STATUS_ALLOCATED || H5Pget_layout(dcpl.get()) == H5D_COMPACT;
  return coverage;
}

bool link_exists(hid_t loc, const char* path) {
  std::string p(path);
  // H5Lexists fails on missing intermediate groups: check each prefix in turn.
  size_t pos = (p.size() > 0 && p[0] == '/') ? 1 : 0;
  while (true) {
    const size_t slash = p.find('/', pos);
    const std::string prefix = p.substr(0, slash);
    if (!prefix.empty() && prefix != "/" && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      return false;
    }
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

std::vector<std::string> group_members(hid_t loc, const char* path) {
  std::vector<std::string> names;
  if (!link_exists(loc, path)) return names;
  Group group(H5Gopen2(loc, path, H5P_DEFAULT));
  if (!group.valid()) return names;
  H5G_info_t info;
  if (H5Gget_info(group.get(), &info) < 0) return names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                              nullptr, 0, H5P_DEFAULT);
    if (length <= 0) continue;
    std::string name(static_cast<size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<size_t>(length));
    names.push_back(name);
  }
  return names;
}

}  // namespace cdl::h5
