// Implementation of PartExtractor: image, patch, slice and roi parts (reference 6.3).
#include "cdl/data/part_extractor.hpp"

#include <array>

#include "cdl/core/error.hpp"
#include "cdl/core/input_size.hpp"

namespace cdl::data {

int64_t patches_along(int64_t length, int64_t patch, int64_t stride) {
  if (patch <= 0 || stride <= 0 || length < patch) return 0;
  return (length - patch) / stride + 1;
}

PartExtractor::PartExtractor(ModeConfig config, std::vector<int64_t> sample_shape,
                             const std::map<std::string, torch::Tensor>& masks)
    : config_(std::move(config)), shape_(std::move(sample_shape)) {
  if (shape_.size() != 4) {
    CDL_THROW(ConfigError, "images have shape ", format_shape(shape_),
              "; expected {C, D, H, W} (3D images)");
  }
  part_shape_ = shape_;
  switch (config_.mode) {
    case Mode::kImage:
      break;
    case Mode::kPatch:
      setup_patch();
      break;
    case Mode::kSlice:
      setup_slice();
      break;
    case Mode::kRoi:
      setup_roi(masks);
      break;
  }
}

void PartExtractor::setup_patch() {
  const int64_t p = config_.patch_size, s = config_.stride_size;
  grid_.clear();
  for (int a = 1; a <= 3; ++a) grid_.push_back(patches_along(shape_[a], p, s));
  parts_ = grid_[0] * grid_[1] * grid_[2];
  if (parts_ == 0) {
    CDL_THROW(ConfigError, "patch_size ", p, " / stride_size ", s, " give no patch in images of ",
              "shape ", format_shape(shape_), "; expected 0 < patch_size <= every spatial length ",
              "and stride_size > 0");
  }
  part_shape_ = {shape_[0], p, p, p};
}

void PartExtractor::setup_slice() {
  const int d = config_.slice_direction;
  if (d < 0 || d > 2) {
    CDL_THROW(ConfigError, "slice_direction ", d,
              "; expected 0 (sagittal), 1 (coronal) or 2 (axial)");
  }
  const auto& discard = config_.discarded_slices;
  const int64_t begin = discard.empty() ? 0 : discard[0];
  const int64_t end = discard.size() < 2 ? begin : discard[1];
  slice_begin_ = begin;
  const int64_t length = shape_[d + 1];
  parts_ = config_.num_slices > 0 ? config_.num_slices : length - begin - end;
  if (begin < 0 || end < 0 || parts_ <= 0 || begin + parts_ > length) {
    CDL_THROW(ConfigError, "discarded_slices (", begin, ", ", end, ") leave ", parts_,
              " slices of the ", length, " along slice_direction ", d,
              "; expected at least one slice inside the image");
  }
  part_shape_ = {config_.slice_rgb ? 3 * shape_[0] : shape_[0]};
  for (int a = 1; a <= 3; ++a) {
    if (a != d + 1) part_shape_.push_back(shape_[a]);
  }
}

void PartExtractor::setup_roi(const std::map<std::string, torch::Tensor>& masks) {
  if (config_.roi_list.empty()) {
    CDL_THROW(ConfigError, "roi mode needs a non-empty roi_list (mask names)");
  }
  for (const auto& name : config_.roi_list) {
    const auto it = masks.find(name);
    if (it == masks.end()) CDL_THROW(ConfigError, "no mask given for ROI '", name, "'");
    torch::Tensor mask = it->second.reshape({-1, shape_[1], shape_[2], shape_[3]}).ne(0);
    if (mask.size(0) != 1) {
      CDL_THROW(ConfigError, "ROI mask '", name, "' has shape ",
                format_shape(it->second.sizes().vec()), "; expected the image's spatial shape ",
                format_shape({shape_[1], shape_[2], shape_[3]}));
    }
    const torch::Tensor nz = mask[0].nonzero();
    if (nz.size(0) == 0) CDL_THROW(ConfigError, "ROI mask '", name, "' is empty (all zeros)");
    const torch::Tensor lo = std::get<0>(nz.min(0)), hi = std::get<0>(nz.max(0));
    boxes_.push_back({lo[0].item<int64_t>(), hi[0].item<int64_t>() + 1, lo[1].item<int64_t>(),
                      hi[1].item<int64_t>() + 1, lo[2].item<int64_t>(), hi[2].item<int64_t>() + 1});
    masks_.push_back(mask.to(torch::kFloat));
  }
  parts_ = static_cast<int64_t>(config_.roi_list.size());
  const auto& b = boxes_.front();
  part_shape_ = config_.uncropped_roi
                    ? shape_
                    : std::vector<int64_t>{shape_[0], b[1] - b[0], b[3] - b[2], b[5] - b[4]};
}

torch::Tensor PartExtractor::extract(const torch::Tensor& image, int64_t part) const {
  CDL_CHECK(part >= 0 && part < parts_, "part ", part, " outside [0, ", parts_, ")");
  CDL_CHECK(image.sizes().vec() == shape_, "image of shape ", format_shape(image.sizes().vec()),
            " given to an extractor for ", format_shape(shape_));
  switch (config_.mode) {
    case Mode::kImage:
      return image.to(torch::kFloat);
    case Mode::kPatch:
      return extract_patch(image, part);
    case Mode::kSlice:
      return extract_slice(image, part);
    case Mode::kRoi:
      return extract_roi(image, part);
  }
  return image;
}

int64_t PartExtractor::part_id(int64_t part) const {
  return config_.mode == Mode::kSlice ? part + slice_begin_ : part;
}

std::vector<int64_t> PartExtractor::part_shape_of(int64_t part) const {
  if (config_.mode != Mode::kRoi || config_.uncropped_roi) return part_shape_;
  const auto& b = boxes_.at(part);
  return {shape_[0], b[1] - b[0], b[3] - b[2], b[5] - b[4]};
}

namespace {

/// The view [:, d0:d1, h0:h1, w0:w1] of a [C, D, H, W] tensor. narrow() rather than index() with
/// Slice: LibTorch 1.13's TensorIndex copies an uninitialised bool (undefined behaviour that
/// UBSan reports), and narrow() builds the view directly.
torch::Tensor crop(const torch::Tensor& x, const std::array<int64_t, 6>& box) {
  return x.narrow(1, box[0], box[1] - box[0])
      .narrow(2, box[2], box[3] - box[2])
      .narrow(3, box[4], box[5] - box[4]);
}

}  // namespace

torch::Tensor PartExtractor::extract_patch(const torch::Tensor& image, int64_t part) const {
  const int64_t p = config_.patch_size, s = config_.stride_size;
  const int64_t iw = part % grid_[2];
  const int64_t ih = (part / grid_[2]) % grid_[1];
  const int64_t id = part / (grid_[2] * grid_[1]);
  return crop(image, {id * s, id * s + p, ih * s, ih * s + p, iw * s, iw * s + p})
      .to(torch::kFloat);
}

torch::Tensor PartExtractor::extract_slice(const torch::Tensor& image, int64_t part) const {
  const torch::Tensor slice = image.select(config_.slice_direction + 1, part + slice_begin_);
  if (!config_.slice_rgb) return slice.to(torch::kFloat);
  return torch::cat({slice, slice, slice}, 0).to(torch::kFloat);
}

torch::Tensor PartExtractor::extract_roi(const torch::Tensor& image, int64_t part) const {
  torch::Tensor x = image.to(torch::kFloat);
  torch::Tensor mask = masks_[part];
  if (!config_.uncropped_roi) {  // crop first: only the bounding box is multiplied
    const auto& b = boxes_[part];
    x = crop(x, {b[0], b[1], b[2], b[3], b[4], b[5]});
    mask = crop(mask, {b[0], b[1], b[2], b[3], b[4], b[5]});
  }
  torch::Tensor roi = x * mask;
  if (config_.roi_background_value != 0.0f) {
    roi.add_((1.0f - mask) * config_.roi_background_value);
  }
  return roi;
}

}  // namespace cdl::data
