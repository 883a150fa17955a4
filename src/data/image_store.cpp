// Implementation of ImageStore: format checks and hyperslab reads of one HDF5 container.
#include "cdl/data/image_store.hpp"

#include <algorithm>
#include <filesystem>

#include "cdl/core/bids_id.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/image_limits.hpp"
#include "cdl/h5/container_format.hpp"
#include "cdl/h5/lock.hpp"
#include "cdl/h5/read.hpp"

namespace cdl::data {
namespace {

using Lock = h5::Lock;

constexpr const char* kRegenerateHint =
    "\nhint: regenerate it with `caps2h5 convert CAPS_DIR OUT.h5` (the converter of this version)";

/// True when `type` is the IEEE 754 binary16 layout (any byte order).
bool is_ieee_half(hid_t type) {
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_size(type) != 2 || H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) {
    return false;
  }
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 &&
         H5Tget_ebias(type) == 15;
}

/// A little-endian in-memory IEEE half type.
hid_t make_half_type() {
  const hid_t type = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(type, 15, 10, 5, 0, 10);
  H5Tset_size(type, 2);
  H5Tset_precision(type, 16);
  H5Tset_ebias(type, 15);
  H5Tset_order(type, H5T_ORDER_LE);
  return type;
}

}  // namespace

ImageStore::ImageStore(const std::string& path) : path_(path) {
  Lock lock;
  file_ = h5::open_image_file(path);
  check_format();
  cohort_ = h5::string_attribute(file_.get(), h5::format::kAttrCohort).value_or("");
  preprocessing_ = h5::string_attribute(file_.get(), h5::format::kAttrPreprocessing).value_or("");
  open_images();
  read_ids();
}

ImageStore::~ImageStore() {
  Lock lock;
  half_type_.reset();
  images_.reset();
  file_.reset();
}

void ImageStore::check_format() const {
  const auto name = h5::string_attribute(file_.get(), h5::format::kAttrFormat);
  if (name.value_or("") != h5::format::kFormatName) {
    CDL_THROW(DataError, "HDF5 file '", path_, "' has root attribute ", h5::format::kAttrFormat,
              "='", name.value_or("<absent>"), "', expected '", h5::format::kFormatName,
              "': not a clinicadl-hpc image container", kRegenerateHint);
  }
  const auto version = h5::int_attribute(file_.get(), h5::format::kAttrFormatVersion);
  if (version.value_or(-1) != h5::format::kFormatVersion) {
    CDL_THROW(DataError, "HDF5 file '", path_, "' has ", h5::format::kAttrFormatVersion, "=",
              version ? std::to_string(*version) : std::string("<absent>"), ", expected ",
              h5::format::kFormatVersion, " (the version this build of clinicadl-hpc reads)",
              kRegenerateHint);
  }
}

void ImageStore::open_images() {
  if (!h5::link_exists(file_.get(), h5::format::kImages)) {
    CDL_THROW(DataError, "HDF5 file '", path_, "' has no dataset ", h5::format::kImages,
              kRegenerateHint);
  }
  images_ = h5::Dataset(H5Dopen2(file_.get(), h5::format::kImages, H5P_DEFAULT));
  const std::vector<int64_t> dims = h5::dataset_dims(images_.get());
  h5::Datatype type(H5Dget_type(images_.get()));
  const bool is_float = H5Tget_class(type.get()) == H5T_FLOAT;
  if (is_float && H5Tget_size(type.get()) == 4) {
    dtype_ = StoredType::kFloat32;
  } else if (is_float && is_ieee_half(type.get())) {
    dtype_ = StoredType::kFloat16;
    half_type_ = h5::Datatype(make_half_type());
  } else {
    CDL_THROW(DataError, "HDF5 file '", path_, "': ", h5::format::kImages,
              " has an element type of ", H5Tget_size(type.get()),
              " bytes that is neither float32 nor IEEE float16", kRegenerateHint);
  }
  if (dims.size() != 5) {
    CDL_THROW(DataError, "HDF5 file '", path_, "': ", h5::format::kImages, " has ", dims.size(),
              " dimensions, expected 5 [N, C, D, H, W]", kRegenerateHint);
  }
  sample_shape_.assign(dims.begin() + 1, dims.end());
  check_image_shape(path_, sample_shape_);
  const auto coverage = h5::storage_coverage(images_.get());
  if (!coverage.complete()) {
    CDL_THROW(DataError, "HDF5 file '", path_, "': ", h5::format::kImages, " declares ", dims[0],
              " images but only ", coverage.written, " of its ", coverage.needed,
              " chunks were ever written (a conversion that did not finish?)", kRegenerateHint);
  }
}

void ImageStore::read_ids() {
  participants_ = h5::string_dataset(file_.get(), h5::format::kParticipantId, path_);
  sessions_ = h5::string_dataset(file_.get(), h5::format::kSessionId, path_);
  const int64_t n = h5::dataset_dims(images_.get()).at(0);
  if (static_cast<int64_t>(participants_.size()) != n ||
      static_cast<int64_t>(sessions_.size()) != n) {
    CDL_THROW(DataError, "HDF5 file '", path_, "' holds ", n, " images but ", participants_.size(),
              " participant ids and ", sessions_.size(), " session ids", kRegenerateHint);
  }
  for (int64_t i = 0; i < n; ++i) {
    const auto problem = session_ids_problem(participants_[i], sessions_[i]);
    if (!problem.empty()) {
      CDL_THROW(DataError, "HDF5 file '", path_, "' row ", i, ": ", problem, kRegenerateHint);
    }
    const bool inserted = index_.emplace(std::make_pair(participants_[i], sessions_[i]), i).second;
    if (!inserted) {
      CDL_THROW(DataError, "HDF5 file '", path_, "' holds session (", participants_[i], ", ",
                sessions_[i], ") twice (rows ", index_[{participants_[i], sessions_[i]}], " and ",
                i, ")", kRegenerateHint);
    }
  }
}

int64_t ImageStore::stored_image_bytes() const {
  int64_t n = dtype_ == StoredType::kFloat16 ? 2 : 4;
  for (int64_t d : sample_shape_) n *= d;
  return n;
}

int64_t ImageStore::find(const std::string& participant_id, const std::string& session_id) const {
  const auto it = index_.find({participant_id, session_id});
  return it == index_.end() ? -1 : it->second;
}

int64_t ImageStore::row(const std::string& participant_id, const std::string& session_id) const {
  const int64_t r = find(participant_id, session_id);
  if (r < 0) {
    CDL_THROW(DataError, "HDF5 file '", path_, "' holds no image for participant_id '",
              participant_id, "', session_id '", session_id, "' (", num_images(),
              " images in the file)\nhint: convert this session with `caps2h5 convert` or remove "
              "it from the TSV");
  }
  return r;
}

torch::Tensor ImageStore::read_stored(int64_t row) const {
  CDL_CHECK(row >= 0 && row < num_images(), "row ", row, " outside [0, ", num_images(), ")");
  const bool half = dtype_ == StoredType::kFloat16;
  torch::Tensor out = torch::empty(sample_shape_, half ? torch::kHalf : torch::kFloat);
  Lock lock;
  h5::Dataspace file_space(H5Dget_space(images_.get()));
  std::vector<hsize_t> start{static_cast<hsize_t>(row), 0, 0, 0, 0};
  std::vector<hsize_t> count{1};
  for (int64_t d : sample_shape_) count.push_back(static_cast<hsize_t>(d));
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                      nullptr);
  h5::Dataspace mem_space(H5Screate_simple(5, count.data(), nullptr));
  const hid_t mem_type = half ? half_type_.get() : H5T_NATIVE_FLOAT;
  if (H5Dread(images_.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT,
              out.data_ptr()) < 0) {
    const std::string cause = h5::error_text();
    CDL_THROW(DataError, "HDF5 file '", path_, "': reading image row ", row, " (",
              participants_[row], ", ", sessions_[row],
              ") failed: ", cause.empty() ? std::string("unknown HDF5 error") : cause,
              "; the file is damaged (corrupt or truncated)", kRegenerateHint);
  }
  return out;
}

torch::Tensor ImageStore::read_image(int64_t row) const {
  torch::Tensor stored = read_stored(row);
  return dtype_ == StoredType::kFloat32 ? stored : stored.to(torch::kFloat);
}

std::vector<std::string> ImageStore::mask_names() const {
  Lock lock;
  std::vector<std::string> names = h5::group_members(file_.get(), h5::format::kMasksGroup);
  std::sort(names.begin(), names.end());
  return names;
}

torch::Tensor ImageStore::read_mask(const std::string& roi) const {
  Lock lock;
  const std::string path = std::string(h5::format::kMasksGroup) + "/" + roi;
  if (!h5::link_exists(file_.get(), path.c_str())) {
    std::string present;
    for (const auto& name : mask_names()) present += (present.empty() ? "" : ", ") + name;
    CDL_THROW(DataError, "HDF5 file '", path_, "' has no ROI mask '", roi,
              "' (masks present: ", present.empty() ? "none" : present, ")",
              "\nhint: convert with the masks of this ROI (caps2h5 convert --roi_list ...)");
  }
  h5::Dataset dset(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT));
  const std::vector<int64_t> dims = h5::dataset_dims(dset.get());
  torch::Tensor mask = torch::empty(dims, torch::kUInt8);
  if (H5Dread(dset.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, mask.data_ptr()) < 0) {
    CDL_THROW(DataError, "HDF5 file '", path_, "': cannot read ROI mask ", path);
  }
  return mask;
}

}  // namespace cdl::data
