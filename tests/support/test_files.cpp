// Implementation of the data-suite test helpers (temp folders, tiny HDF5 stores).
#include "test_files.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "cdl/core/file_tree.hpp"
#include "cdl/h5/handle.hpp"
#include "cdl/h5/lock.hpp"

namespace cdl::data::testing {
namespace fs = std::filesystem;
namespace {

void check(herr_t status, const char* what) {
  if (status < 0) throw std::runtime_error(std::string("HDF5 test writer failed: ") + what);
}

void write_string_attr(hid_t loc, const char* name, const std::string& value, bool variable) {
  h5::Datatype type(H5Tcopy(H5T_C_S1));
  if (variable) {
    H5Tset_size(type.get(), H5T_VARIABLE);
  } else {
    H5Tset_size(type.get(), value.size() + 1);
  }
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  h5::Dataspace space(H5Screate(H5S_SCALAR));
  h5::Attribute attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* ptr = value.c_str();
  check(variable ? H5Awrite(attr.get(), type.get(), &ptr) : H5Awrite(attr.get(), type.get(), ptr),
        name);
}

void write_int_attr(hid_t loc, const char* name, int value) {
  h5::Dataspace space(H5Screate(H5S_SCALAR));
  h5::Attribute attr(H5Acreate2(loc, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  check(H5Awrite(attr.get(), H5T_NATIVE_INT, &value), name);
}

void write_strings(hid_t file, const char* path, const std::vector<std::string>& values) {
  h5::Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const hsize_t n = values.size();
  h5::Dataspace space(H5Screate_simple(1, &n, nullptr));
  h5::Dataset dset(
      H5Dcreate2(file, path, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  check(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), path);
}

hid_t half_type() {
  const hid_t type = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(type, 15, 10, 5, 0, 10);
  H5Tset_size(type, 2);
  H5Tset_precision(type, 16);
  H5Tset_ebias(type, 15);
  return type;
}

void declare_images(hid_t file, const std::vector<int64_t>& declared) {
  std::vector<hsize_t> dims(declared.begin(), declared.end());
  std::vector<hsize_t> chunk(dims.size(), 1);
  for (size_t d = 2; d < chunk.size(); ++d) chunk[d] = std::min<hsize_t>(dims[d], 64);
  h5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::PropertyList plist(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data());
  h5::Datatype type(H5Tcopy(H5T_IEEE_F32LE));
  h5::Dataset dset(H5Dcreate2(file, h5::format::kImages, type.get(), space.get(), H5P_DEFAULT,
                              plist.get(), H5P_DEFAULT));
  if (!dset.valid()) throw std::runtime_error("cannot declare /images");
}

void write_images(hid_t file, const StoreSpec& spec) {
  if (!spec.declared_dims.empty()) return declare_images(file, spec.declared_dims);
  const torch::Tensor images =
      spec.images.to(spec.float16 ? torch::kHalf : torch::kFloat).contiguous();
  std::vector<hsize_t> dims(images.sizes().begin(), images.sizes().end());
  std::vector<hsize_t> chunk = dims;
  chunk[0] = 1;
  h5::Dataspace space(H5Screate_simple(5, dims.data(), nullptr));
  h5::PropertyList plist(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(plist.get(), 5, chunk.data());
  if (spec.deflate) H5Pset_deflate(plist.get(), 4);
  h5::Datatype type(spec.float16 ? half_type() : H5Tcopy(H5T_IEEE_F32LE));
  h5::Dataset dset(H5Dcreate2(file, h5::format::kImages, type.get(), space.get(), H5P_DEFAULT,
                              plist.get(), H5P_DEFAULT));
  check(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, images.data_ptr()),
        "/images");
}

void write_masks(hid_t file, const std::map<std::string, torch::Tensor>& masks) {
  if (masks.empty()) return;
  h5::Group group(H5Gcreate2(file, h5::format::kMasksGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (const auto& [name, mask] : masks) {
    const torch::Tensor m = mask.to(torch::kUInt8).contiguous();
    std::vector<hsize_t> dims(m.sizes().begin(), m.sizes().end());
    h5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    h5::Dataset dset(H5Dcreate2(group.get(), name.c_str(), H5T_STD_U8LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT));
    check(H5Dwrite(dset.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data_ptr()),
          name.c_str());
  }
}

}  // namespace

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = (fs::temp_directory_path() /
           ("cdl_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
              .string();
  cdl::remove_tree(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  cdl::remove_tree(path_, ignored);
}

std::string TempDir::file(const std::string& relative) const {
  const fs::path p = fs::path(path_) / relative;
  fs::create_directories(p.parent_path());
  return p.string();
}

void write_text(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << content;
}

void write_store(const std::string& path, const StoreSpec& spec) {
  std::lock_guard<std::recursive_mutex> lock(h5::global_mutex());
  fs::create_directories(fs::path(path).parent_path());
  h5::File file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid()) throw std::runtime_error("cannot create " + path);
  write_string_attr(file.get(), h5::format::kAttrFormat, spec.format, true);
  write_int_attr(file.get(), h5::format::kAttrFormatVersion, spec.version);
  write_string_attr(file.get(), h5::format::kAttrPreprocessing, spec.preprocessing, true);
  write_string_attr(file.get(), h5::format::kAttrCohort, spec.cohort, false);
  write_images(file.get(), spec);
  write_strings(file.get(), h5::format::kParticipantId, spec.participants);
  write_strings(file.get(), h5::format::kSessionId, spec.sessions);
  write_masks(file.get(), spec.masks);
}

StoreSpec arange_spec(int64_t n, int64_t d, int64_t h, int64_t w) {
  StoreSpec spec;
  const torch::Tensor base = torch::arange(d * h * w, torch::kFloat).reshape({1, 1, d, h, w});
  const torch::Tensor offsets = torch::arange(n, torch::kFloat).reshape({n, 1, 1, 1, 1}) * 1000;
  spec.images = base + offsets;
  for (int64_t i = 0; i < n; ++i) {
    spec.participants.push_back("sub-" + std::to_string(100 + i));
    spec.sessions.push_back("ses-M000");
  }
  return spec;
}

}  // namespace cdl::data::testing
