// Read-only access to one HDF5 image container written by `caps2h5 convert`
// (h5/container_format.hpp): format check, (participant, session) -> row index, image reads by
// hyperslab, ROI masks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cdl/h5/handle.hpp"

namespace cdl::data {

/// Element type of /images on disk.
enum class StoredType { kFloat32, kFloat16 };

/// One opened .h5 container. Thread-safe: every HDF5 call holds h5::global_mutex().
/// Not copyable (owns HDF5 handles); share it through std::shared_ptr.
class ImageStore {
 public:
  /// Opens `path` read-only and checks the `format` / `format_version` root attributes.
  /// Throws DataError naming the file, the value found, the value expected and the hint to
  /// regenerate with `caps2h5 convert`; also when /images is not float32/float16 [N,C,D,H,W].
  explicit ImageStore(const std::string& path);
  ~ImageStore();
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  /// The path given at construction.
  const std::string& path() const { return path_; }
  /// Root attribute `cohort` (empty when absent).
  const std::string& cohort() const { return cohort_; }
  /// Root attribute `preprocessing`: ClinicaDL's preprocessing dict as a JSON string ("" if
  /// absent).
  const std::string& preprocessing_json() const { return preprocessing_; }
  /// Number of images N.
  int64_t num_images() const { return static_cast<int64_t>(participants_.size()); }
  /// Shape of one image without the N axis: {C, D, H, W}.
  const std::vector<int64_t>& sample_shape() const { return sample_shape_; }
  /// Element type of /images on disk.
  StoredType dtype() const { return dtype_; }
  /// Bytes of one image once read (in the stored type).
  int64_t stored_image_bytes() const;

  /// participant_id of row `row`.
  const std::string& participant_id(int64_t row) const { return participants_.at(row); }
  /// session_id of row `row`.
  const std::string& session_id(int64_t row) const { return sessions_.at(row); }
  /// Row of (participant, session), or -1 when the store does not hold that session.
  int64_t find(const std::string& participant_id, const std::string& session_id) const;
  /// Row of (participant, session); throws DataError naming the file and the session when absent.
  int64_t row(const std::string& participant_id, const std::string& session_id) const;

  /// Reads image `row` as float32 [C, D, H, W] (float16 stores are converted on read).
  torch::Tensor read_image(int64_t row) const;
  /// Reads image `row` in its stored type (kFloat or kHalf) [C, D, H, W]; half the memory for
  /// float16 stores, which is what the image cache keeps.
  torch::Tensor read_stored(int64_t row) const;

  /// Names of the ROI masks under /masks, sorted.
  std::vector<std::string> mask_names() const;
  /// Reads /masks/<roi> as uint8 [D, H, W]; throws DataError listing the masks present if absent.
  torch::Tensor read_mask(const std::string& roi) const;

 private:
  void check_format() const;
  void open_images();
  void read_ids();

  std::string path_;
  std::string cohort_;
  std::string preprocessing_;
  std::vector<int64_t> sample_shape_;
  StoredType dtype_ = StoredType::kFloat32;
  std::vector<std::string> participants_;
  std::vector<std::string> sessions_;
  std::map<std::pair<std::string, std::string>, int64_t> index_;
  h5::File file_;
  h5::Dataset images_;
  h5::Datatype half_type_;  // in-memory IEEE half type (little endian) for float16 stores
};

}  // namespace cdl::data
