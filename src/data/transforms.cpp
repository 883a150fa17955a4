// Implementation of NaN removal, MinMax normalisation and SizeReduction.
#include "cdl/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "cdl/core/error.hpp"
#include "cdl/core/input_size.hpp"

namespace cdl::data {
namespace {

/// min and max of `x` (NaN propagates into both).
std::pair<float, float> min_max(const torch::Tensor& x) {
  const auto [lo, hi] = torch::aminmax(x);
  return {lo.item<float>(), hi.item<float>()};
}

}  // namespace

torch::Tensor remove_nan(const torch::Tensor& x, bool* changed) {
  // A NaN makes min/max NaN and an infinity makes one of them infinite: one cheap reduction
  // replaces an isfinite() pass over the whole volume.
  const auto [lo, hi] = min_max(x);
  const bool finite = std::isfinite(lo) && std::isfinite(hi);
  if (changed) *changed = !finite;
  return finite ? x : torch::nan_to_num(x, 0.0);
}

torch::Tensor minmax_normalize(const torch::Tensor& x) {
  torch::Tensor out = torch::empty_like(x);
  transform_into(x, true, out);
  return out;
}

bool transform_into(const torch::Tensor& x, bool normalize, torch::Tensor& out) {
  auto [lo, hi] = min_max(x);
  const bool changed = !(std::isfinite(lo) && std::isfinite(hi));
  const torch::Tensor clean = changed ? torch::nan_to_num(x, 0.0) : x;
  if (!normalize) {
    out.copy_(clean);
    return changed;
  }
  if (changed) std::tie(lo, hi) = min_max(clean);
  if (!(hi > lo)) {
    out.zero_();
  } else {
    torch::sub_out(out, clean, lo);
    out.div_(hi - lo);
  }
  return changed;
}

int64_t AxisWindow::kept(int64_t length) const {
  const int64_t end = std::min(stop, length);
  return end > start ? (end - start + step - 1) / step : 0;
}

std::array<AxisWindow, 3> size_reduction_windows(int64_t factor) {
  // ClinicaDL's SizeReduction table (reference 4.13): D, H and W windows per factor.
  switch (factor) {
    case 2:
      return {{{4, 164, 2}, {8, 200, 2}, {8, 168, 2}}};
    case 3:
      return {{{0, 168, 3}, {8, 200, 3}, {4, 172, 3}}};
    case 4:
      return {{{4, 164, 4}, {8, 200, 4}, {8, 168, 4}}};
    case 5:
      return {{{4, 164, 5}, {0, 200, 5}, {8, 168, 5}}};
    default:
      CDL_THROW(ConfigError, "--size_reduction_factor ", factor,
                " is invalid; expected 2, 3, 4 or 5");
  }
}

std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape, int64_t factor) {
  const auto windows = size_reduction_windows(factor);
  if (shape.size() != 4) {
    CDL_THROW(ConfigError, "--size_reduction applies to 3D images [C, D, H, W]; the samples are ",
              format_shape(shape));
  }
  std::vector<int64_t> reduced{shape[0]};
  for (size_t axis = 0; axis < 3; ++axis) {
    reduced.push_back(windows[axis].kept(shape[axis + 1]));
    if (reduced.back() == 0) {
      CDL_THROW(ConfigError, "--size_reduction_factor ", factor, " keeps voxels ",
                windows[axis].start, " to ", windows[axis].stop - 1, " of axis ", axis + 1,
                ", but the images are ", format_shape(shape),
                "; expected t1-linear images (1x169x208x179) or larger");
    }
  }
  return reduced;
}

torch::Tensor reduce_size(const torch::Tensor& x, int64_t factor) {
  const auto windows = size_reduction_windows(factor);
  torch::Tensor view = x;
  for (int64_t axis = 0; axis < 3; ++axis) {
    const auto& w = windows[axis];
    view = view.slice(axis + 1, w.start, std::min(w.stop, x.size(axis + 1)), w.step);
  }
  return view;
}

}  // namespace cdl::data
