// HDF5 reading with the C API.
#include "caps2h5/h5_image_reader.hpp"

#include <cstdlib>

#include "caps2h5/h5_image_writer.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/image_limits.hpp"
#include "cdl/data/h5_format.hpp"

namespace cdl::data_tools {
namespace fmt = data::h5format;

H5ImageReader::H5ImageReader(const std::string& path) : path_(path) {
  silence_hdf5_errors();
  file_ = data::H5File(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file_.valid()) {
    CDL_THROW(DataError, "cannot open '", path, "' as HDF5: ", data::hdf5_error_text(),
              "; hint: regenerate it with caps2h5 convert");
  }
}

bool H5ImageReader::has_attribute(const std::string& name) const {
  return H5Aexists(file_.get(), name.c_str()) > 0;
}

std::string H5ImageReader::string_attribute(const std::string& name) const {
  data::H5Attribute attr(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT));
  data::H5Datatype type(attr.valid() ? H5Aget_type(attr.get()) : H5I_INVALID_HID);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) {
    CDL_THROW(DataError, "'", path_, "': root attribute '", name, "' is missing or not a string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    char* text = nullptr;
    data::H5Datatype mem(H5Tcopy(type.get()));
    H5Aread(attr.get(), mem.get(), &text);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(type.get()), '\0');
  H5Aread(attr.get(), type.get(), value.data());
  return value.substr(0, value.find('\0'));
}

int64_t H5ImageReader::int_attribute(const std::string& name) const {
  data::H5Attribute attr(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT));
  data::H5Datatype type(attr.valid() ? H5Aget_type(attr.get()) : H5I_INVALID_HID);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_INTEGER) {
    CDL_THROW(DataError, "'", path_, "': root attribute '", name, "' is missing or not an integer");
  }
  int64_t value = 0;
  H5Aread(attr.get(), H5T_NATIVE_INT64, &value);
  return value;
}

std::vector<std::string> H5ImageReader::attribute_names() const {
  std::vector<std::string> names;
  H5O_info_t info;
  H5Oget_info2(file_.get(), &info, H5O_INFO_NUM_ATTRS);
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    char name[256] = {0};
    H5Aget_name_by_idx(file_.get(), ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, name, sizeof name,
                       H5P_DEFAULT);
    if (name[0] == '\0') {
      H5Aget_name_by_idx(file_.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                         H5P_DEFAULT);
    }
    names.emplace_back(name);
  }
  return names;
}

bool H5ImageReader::exists(const std::string& name) const {
  return H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) > 0;
}

data::H5Dataset H5ImageReader::open_dataset(const std::string& name) const {
  data::H5Dataset set(exists(name) ? H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT)
                                   : H5I_INVALID_HID);
  if (!set.valid()) CDL_THROW(DataError, "'", path_, "' has no dataset '", name, "'");
  return set;
}

std::vector<int64_t> H5ImageReader::shape(const std::string& dataset) const {
  data::H5Dataset set = open_dataset(dataset);
  data::H5Dataspace space(H5Dget_space(set.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(rank > 0 ? rank : 0));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

std::string H5ImageReader::dtype(const std::string& dataset) const {
  data::H5Dataset set = open_dataset(dataset);
  data::H5Datatype type(H5Dget_type(set.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT) return size == 2 ? "float16" : size == 4 ? "float32" : "float64";
  if (cls == H5T_STRING) return "string";
  if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE) return "uint8";
  return "other";
}

std::string H5ImageReader::filters(const std::string& dataset) const {
  data::H5Dataset set = open_dataset(dataset);
  data::H5PropertyList dcpl(H5Dget_create_plist(set.get()));
  std::string text;
  const int n = H5Pget_nfilters(dcpl.get());
  for (int f = 0; f < n; ++f) {
    unsigned flags = 0, values[8] = {0};
    size_t nvalues = 8;
    char name[64] = {0};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), unsigned(f), &flags, &nvalues, values,
                                           sizeof name, name, nullptr);
    text += (text.empty() ? "" : "+");
    text += id == H5Z_FILTER_DEFLATE   ? "deflate(" + std::to_string(values[0]) + ")"
            : id == H5Z_FILTER_SHUFFLE ? std::string("shuffle")
                                       : std::string(name);
  }
  return text.empty() ? "none" : text;
}

std::vector<float> H5ImageReader::read_image(int64_t index) const {
  data::H5Dataset set = open_dataset(fmt::kImages);
  data::H5Dataspace space(H5Dget_space(set.get()));
  hsize_t dims[5] = {0};
  if (H5Sget_simple_extent_ndims(space.get()) != 5) {
    CDL_THROW(DataError, "'", path_, "': ", fmt::kImages, " is not 5-D [N, C, D, H, W]");
  }
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  check_image_shape(path_,
                    {int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3]), int64_t(dims[4])});
  const hsize_t start[5] = {hsize_t(index), 0, 0, 0, 0};
  const hsize_t count[5] = {1, dims[1], dims[2], dims[3], dims[4]};
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  data::H5Dataspace memory(H5Screate_simple(5, count, nullptr));
  std::vector<float> values(dims[1] * dims[2] * dims[3] * dims[4]);
  if (H5Dread(set.get(), H5T_NATIVE_FLOAT, memory.get(), space.get(), H5P_DEFAULT, values.data()) <
      0) {
    const std::string cause = data::hdf5_error_text();
    CDL_THROW(DataError, "'", path_, "': cannot read image ", index, " of ", fmt::kImages, ": ",
              cause.empty() ? std::string("unknown HDF5 error") : cause,
              " (the file is damaged: corrupt or truncated)");
  }
  return values;
}

std::vector<std::string> H5ImageReader::read_strings(const std::string& dataset) const {
  data::H5Dataset set = open_dataset(dataset);
  const std::vector<int64_t> dims = shape(dataset);
  const size_t n = dims.empty() ? 0 : size_t(dims[0]);
  data::H5Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::vector<char*> pointers(n, nullptr);
  if (n > 0 && H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0) {
    CDL_THROW(DataError, "'", path_, "': cannot read strings of '", dataset, "'");
  }
  std::vector<std::string> values;
  for (char* p : pointers) {
    values.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return values;
}

std::vector<std::string> H5ImageReader::mask_names() const {
  std::vector<std::string> names;
  if (!exists(fmt::kMasksGroup)) return names;
  data::H5Group group(H5Gopen2(file_.get(), fmt::kMasksGroup, H5P_DEFAULT));
  H5G_info_t info;
  H5Gget_info(group.get(), &info);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256] = {0};
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                       H5P_DEFAULT);
    names.emplace_back(name);
  }
  return names;
}

std::vector<uint8_t> H5ImageReader::read_mask(const std::string& roi) const {
  const std::string name = std::string(fmt::kMasksGroup) + "/" + roi;
  data::H5Dataset set = open_dataset(name);
  int64_t n = 1;
  for (int64_t d : shape(name)) n *= d;
  std::vector<uint8_t> values(static_cast<size_t>(n));
  H5Dread(set.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  return values;
}

}  // namespace cdl::data_tools
