// Implementation of NaN removal and MinMax normalisation.
#include "cdl/data/transforms.hpp"

#include <cmath>
#include <tuple>

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

}  // namespace cdl::data
