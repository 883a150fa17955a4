// ClinicaDL's four modes (image, patch, slice, roi): part counts and how part p of an image is
// cut, exactly as in clinicadl_reference.md section 6.3.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cdl/data/mode.hpp"

namespace cdl::data {

/// The mode options of the preprocessing dict (ClinicaDL names and defaults).
struct ModeConfig {
  Mode mode = Mode::kImage;
  int64_t patch_size = 50;   ///< patch: edge P of the cubic patch
  int64_t stride_size = 50;  ///< patch: stride S
  int slice_direction = 0;   ///< slice: spatial axis 0 sagittal, 1 coronal, 2 axial
  bool slice_rgb = true;     ///< slice: slice_mode rgb (channel x3) or single
  std::vector<int64_t> discarded_slices{0, 0};  ///< slice: (begin, end); one value = both
  int64_t num_slices = 0;             ///< slice: if > 0, the part count (ClinicaDL num_slices)
  std::vector<std::string> roi_list;  ///< roi: mask names, part p = roi_list[p]
  bool uncropped_roi = false;         ///< roi: keep the full image extent
  float roi_background_value = 0.0f;  ///< roi: value outside the mask
};

/// Cuts the parts of images of one fixed shape {C, D, H, W}. Immutable, thread-safe.
class PartExtractor {
 public:
  /// `sample_shape` = {C, D, H, W}; `masks` (roi mode) maps each name of roi_list to a
  /// [D, H, W] tensor (non-zero = inside). Throws ConfigError when the mode does not fit the
  /// shape (patch larger than the image, all slices discarded, missing or empty mask ...).
  PartExtractor(ModeConfig config, std::vector<int64_t> sample_shape,
                const std::map<std::string, torch::Tensor>& masks = {});

  /// Parts per image (ClinicaDL's elem_per_image).
  int64_t parts_per_image() const { return parts_; }
  /// Part `p` of `image` [C, D, H, W] (float32). May be a view sharing storage with `image`
  /// (image, patch and single-channel slice modes): copy before modifying it in place.
  torch::Tensor extract(const torch::Tensor& image, int64_t part) const;
  /// The id written in TSVs for part p (the absolute slice index in slice mode, else p).
  int64_t part_id(int64_t part) const;
  /// Shape of the parts, e.g. {1, 50, 50, 50} or {3, 208, 179}; in roi mode that of part 0.
  const std::vector<int64_t>& part_shape() const { return part_shape_; }
  /// Shape of part `part` (differs from part_shape() only for cropped ROIs of other sizes).
  std::vector<int64_t> part_shape_of(int64_t part) const;
  /// The configuration.
  const ModeConfig& config() const { return config_; }
  /// Patches per spatial axis {n_D, n_H, n_W} (patch mode).
  const std::vector<int64_t>& patch_grid() const { return grid_; }

 private:
  void setup_patch();
  void setup_slice();
  void setup_roi(const std::map<std::string, torch::Tensor>& masks);
  torch::Tensor extract_patch(const torch::Tensor& image, int64_t part) const;
  torch::Tensor extract_slice(const torch::Tensor& image, int64_t part) const;
  torch::Tensor extract_roi(const torch::Tensor& image, int64_t part) const;

  ModeConfig config_;
  std::vector<int64_t> shape_;
  int64_t parts_ = 1;
  std::vector<int64_t> part_shape_;
  std::vector<int64_t> grid_;
  int64_t slice_begin_ = 0;
  std::vector<torch::Tensor> masks_;         // float [1, D, H, W], 0/1
  std::vector<std::vector<int64_t>> boxes_;  // per ROI: {d0, d1, h0, h1, w0, w1} (end exclusive)
};

/// Number of patches of edge `patch` at `stride` along an axis of `length`: floor((L-P)/S)+1, or 0.
int64_t patches_along(int64_t length, int64_t patch, int64_t stride);

}  // namespace cdl::data
