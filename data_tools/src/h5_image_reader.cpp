// HDF5 reading with the C API.
#include "caps2h5/h5_image_reader.hpp"

#include <cstdlib>

#include "caps2h5/h5_image_writer.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/image_limits.hpp"
#include "cdl/h5/container_format.hpp"
#include "cdl/h5/read.hpp"

namespace cdl::data_tools {
namespace fmt = h5::format;

H5ImageReader::H5ImageReader(const std::string& path) : path_(path) {
  silence_hdf5_errors();
  file_ = h5::open_image_file(path);
}

bool H5ImageReader::has_attribute(const std::string& name) const {
  return h5::has_attribute(file_.get(), name.c_str());
}

std::string H5ImageReader::string_attribute(const std::string& name) const {
  auto value = h5::string_attribute(file_.get(), name.c_str());
  if (!value) {
    CDL_THROW(DataError, "'", path_, "': root attribute '", name, "' is missing or not a string");
  }
  return *value;
}

int64_t H5ImageReader::int_attribute(const std::string& name) const {
  const auto value = h5::int_attribute(file_.get(), name.c_str());
  if (!value) {
    CDL_THROW(DataError, "'", path_, "': root attribute '", name, "' is missing or not an integer");
  }
  return *value;
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
  return h5::link_exists(file_.get(), name.c_str());
}

h5::Dataset H5ImageReader::open_dataset(const std::string& name) const {
  h5::Dataset set(exists(name) ? H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT)
                               : H5I_INVALID_HID);
  if (!set.valid()) CDL_THROW(DataError, "'", path_, "' has no dataset '", name, "'");
  return set;
}

std::vector<int64_t> H5ImageReader::shape(const std::string& dataset) const {
  return h5::dataset_dims(open_dataset(dataset).get());
}

std::string H5ImageReader::dtype(const std::string& dataset) const {
  h5::Dataset set = open_dataset(dataset);
  h5::Datatype type(H5Dget_type(set.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT) return size == 2 ? "float16" : size == 4 ? "float32" : "float64";
  if (cls == H5T_STRING) return "string";
  if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE) return "uint8";
  return "other";
}

h5::StorageCoverage H5ImageReader::coverage(const std::string& dataset) const {
  return h5::storage_coverage(open_dataset(dataset).get());
}

std::string H5ImageReader::filters(const std::string& dataset) const {
  h5::Dataset set = open_dataset(dataset);
  h5::PropertyList dcpl(H5Dget_create_plist(set.get()));
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
  h5::Dataset set = open_dataset(fmt::kImages);
  h5::Dataspace space(H5Dget_space(set.get()));
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
  h5::Dataspace memory(H5Screate_simple(5, count, nullptr));
  std::vector<float> values(dims[1] * dims[2] * dims[3] * dims[4]);
  if (H5Dread(set.get(), H5T_NATIVE_FLOAT, memory.get(), space.get(), H5P_DEFAULT, values.data()) <
      0) {
    const std::string cause = h5::error_text();
    CDL_THROW(DataError, "'", path_, "': cannot read image ", index, " of ", fmt::kImages, ": ",
              cause.empty() ? std::string("unknown HDF5 error") : cause,
              " (the file is damaged: corrupt or truncated)");
  }
  return values;
}

std::vector<std::string> H5ImageReader::read_strings(const std::string& dataset) const {
  return h5::string_dataset(file_.get(), dataset.c_str(), path_);
}

std::vector<std::string> H5ImageReader::mask_names() const {
  return h5::group_members(file_.get(), fmt::kMasksGroup);
}

std::vector<uint8_t> H5ImageReader::read_mask(const std::string& roi) const {
  const std::string name = std::string(fmt::kMasksGroup) + "/" + roi;
  h5::Dataset set = open_dataset(name);
  int64_t n = 1;
  for (int64_t d : shape(name)) n *= d;
  std::vector<uint8_t> values(static_cast<size_t>(n));
  H5Dread(set.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  return values;
}

}  // namespace cdl::data_tools
