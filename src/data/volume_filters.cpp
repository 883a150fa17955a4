// Implementation of the volume filters of the augmentations: SciPy's Gaussian filter and ITK's
// trilinear resampling, as plain loops over contiguous memory.
#include "cdl/data/volume_filters.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

/// SciPy's Gaussian kernel of `sigma` truncated at 4 sigmas (radius round(4 sigma)), normalised.
std::vector<float> gaussian_weights(double sigma, int64_t radius) {
  std::vector<double> weights;
  double sum = 0;
  for (int64_t k = -radius; k <= radius; ++k) {
    weights.push_back(std::exp(-0.5 * static_cast<double>(k * k) / (sigma * sigma)));
    sum += weights.back();
  }
  std::vector<float> normalised;
  for (const double w : weights) normalised.push_back(static_cast<float>(w / sum));
  return normalised;
}

/// The index read at each padded position p - radius, p in [0, length + 2 radius), under
/// SciPy's "reflect" boundary (mirrored with the edge repeated, for any radius).
std::vector<int64_t> reflected_indices(int64_t length, int64_t radius) {
  std::vector<int64_t> source;
  for (int64_t p = -radius; p < length + radius; ++p) {
    int64_t m = p % (2 * length);
    if (m < 0) m += 2 * length;
    source.push_back(m < length ? m : 2 * length - m - 1);
  }
  return source;
}

/// SciPy's 1D Gaussian along an axis of `length` (truncate 4): its weights and, for each padded
/// position p - radius, the index read there. Empty when the axis is left as it is: sigma 0, a
/// radius of 0, an axis of length 1 (every tap reads the same voxel) or 0 (nothing to mirror).
struct AxisKernel {
  std::vector<float> weights;
  std::vector<int64_t> source;
  bool empty() const { return weights.empty(); }
};

AxisKernel axis_kernel(double sigma, int64_t length) {
  const auto radius = static_cast<int64_t>(4.0 * sigma + 0.5);
  if (sigma <= 0 || radius == 0 || length <= 1) return {};
  return {gaussian_weights(sigma, radius), reflected_indices(length, radius)};
}

/// Output line i of a contiguous [length, inner] block (inner > 1): the weighted sum of the
/// 2 radius + 1 input lines around it. Plain loops over contiguous rows, which the compiler
/// vectorises: several times faster than the same sum as tensor operations.
void convolve_line(const float* block, float* row, int64_t i, int64_t inner,
                   const AxisKernel& kernel) {
  const float* first = block + kernel.source[i] * inner;
  for (int64_t j = 0; j < inner; ++j) row[j] = kernel.weights[0] * first[j];
  for (size_t k = 1; k < kernel.weights.size(); ++k) {
    const float w = kernel.weights[k];
    const float* read = block + kernel.source[i + k] * inner;
    for (int64_t j = 0; j < inner; ++j) row[j] += w * read[j];
  }
}

/// One axis of the separable Gaussian on a contiguous float tensor seen as [outer, length,
/// inner]: every output line is a weighted sum of input lines (inner > 1), or of a mirrored
/// copy of its own line (inner = 1).
void convolve_axis(const float* in, float* out, int64_t outer, int64_t length, int64_t inner,
                   const AxisKernel& kernel) {
  std::vector<float> line(inner == 1 ? kernel.source.size() : 0);
  for (int64_t o = 0; o < outer; ++o) {
    const float* block = in + o * length * inner;
    float* target = out + o * length * inner;
    if (inner > 1) {
      for (int64_t i = 0; i < length; ++i)
        convolve_line(block, target + i * inner, i, inner, kernel);
      continue;
    }
    for (size_t p = 0; p < kernel.source.size(); ++p) line[p] = block[kernel.source[p]];
    for (int64_t i = 0; i < length; ++i) target[i] = kernel.weights[0] * line[i];
    for (size_t k = 1; k < kernel.weights.size(); ++k) {
      const float w = kernel.weights[k];
      for (int64_t i = 0; i < length; ++i) target[i] += w * line[i + k];
    }
  }
}

/// SciPy's 1D Gaussian along `axis` (truncate 4, "reflect" boundary) of a contiguous float
/// tensor (x itself when the axis is left as it is).
torch::Tensor gaussian_along(const torch::Tensor& x, int64_t axis, double sigma) {
  const AxisKernel kernel = axis_kernel(sigma, x.size(axis));
  if (kernel.empty()) return x;
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= x.size(a);
  for (int64_t a = axis + 1; a < x.dim(); ++a) inner *= x.size(a);
  torch::Tensor out = torch::empty_like(x);
  convolve_axis(x.data_ptr<float>(), out.data_ptr<float>(), outer, x.size(axis), inner, kernel);
  return out;
}

/// The separable Gaussian of one contiguous [depth, height, width] volume, one output plane at
/// a time: its depth taps summed into a plane buffer, then the height and width taps while that
/// plane is in cache. One pass over the volume's memory instead of one per axis.
void gaussian_volume(const float* in, float* out, const std::array<int64_t, 3>& sizes,
                     const std::array<AxisKernel, 3>& kernels) {
  const int64_t height = sizes[1], width = sizes[2], plane = height * width;
  std::vector<float> along_depth(plane), along_height(plane);
  for (int64_t d = 0; d < sizes[0]; ++d) {
    const float* current = in + d * plane;
    if (!kernels[0].empty()) {
      convolve_line(in, along_depth.data(), d, plane, kernels[0]);
      current = along_depth.data();
    }
    if (!kernels[1].empty()) {
      convolve_axis(current, along_height.data(), 1, height, width, kernels[1]);
      current = along_height.data();
    }
    float* target = out + d * plane;
    if (kernels[2].empty()) {
      std::copy(current, current + plane, target);
    } else {
      convolve_axis(current, target, height, width, 1, kernels[2]);
    }
  }
}

/// The run [first, end) of w in [0, width) where start[a] + w step[a] lies in [0, last[a]) for
/// every axis a, narrowed by one voxel at each end against rounding (empty: first >= end).
std::pair<int64_t, int64_t> interior_run(const std::array<double, 3>& start,
                                         const std::array<double, 3>& step,
                                         const std::array<double, 3>& last, int64_t width) {
  double low = 0, high = static_cast<double>(width);
  for (int a = 0; a < 3; ++a) {
    if (step[a] == 0) {
      if (!(start[a] >= 0 && start[a] < last[a])) return {0, 0};
      continue;
    }
    const double at_zero = -start[a] / step[a], at_last = (last[a] - start[a]) / step[a];
    low = std::max(low, std::min(at_zero, at_last));
    high = std::min(high, std::max(at_zero, at_last));
  }
  if (!(low < high)) return {0, 0};
  const auto first = std::min<int64_t>(width, static_cast<int64_t>(std::ceil(low)) + 1);
  const auto end = std::min<int64_t>(width, static_cast<int64_t>(std::floor(high)) - 1);
  return {first, end};
}

}  // namespace

torch::Tensor gaussian_filter(const torch::Tensor& x, const std::vector<double>& sigmas) {
  CDL_CHECK(static_cast<int64_t>(sigmas.size()) == x.dim(), "one sigma per axis");
  torch::Tensor out = x.to(torch::kFloat).contiguous();
  const int64_t leading = std::max<int64_t>(0, x.dim() - 3);
  for (int64_t a = 0; a < (x.dim() < 3 ? x.dim() : leading); ++a)
    out = gaussian_along(out, a, sigmas[a]);
  if (x.dim() < 3) return out;
  // The last three axes volume by volume, in one pass each.
  const std::array<int64_t, 3> sizes{x.size(leading), x.size(leading + 1), x.size(leading + 2)};
  std::array<AxisKernel, 3> kernels;
  for (int a = 0; a < 3; ++a) kernels[a] = axis_kernel(sigmas[leading + a], sizes[a]);
  const int64_t volume = sizes[0] * sizes[1] * sizes[2];
  if (volume == 0 || (kernels[0].empty() && kernels[1].empty() && kernels[2].empty())) return out;
  torch::Tensor filtered = torch::empty_like(out);
  for (int64_t v = 0; v * volume < out.numel(); ++v) {
    gaussian_volume(out.data_ptr<float>() + v * volume, filtered.data_ptr<float>() + v * volume,
                    sizes, kernels);
  }
  return filtered;
}

torch::Tensor resample_linear(const torch::Tensor& channel, const std::array<double, 9>& a,
                              const std::array<double, 3>& b, float outside) {
  CDL_CHECK(channel.dim() == 3 && channel.scalar_type() == torch::kFloat && channel.is_contiguous(),
            "resample_linear needs a contiguous float32 [D, H, W] channel, got ", channel.sizes());
  const int64_t depth = channel.size(0), height = channel.size(1), width = channel.size(2);
  const std::array<double, 3> last{static_cast<double>(depth - 1), static_cast<double>(height - 1),
                                   static_cast<double>(width - 1)};
  const int64_t plane = height * width;
  torch::Tensor out = torch::empty_like(channel);
  const float* in = channel.data_ptr<float>();
  float* target = out.data_ptr<float>();
  // The lower grid index along an axis, the step to the upper one (0 on the last index) and
  // the weight of the upper one, for a source coordinate known to be inside.
  struct Axis {
    int64_t low, step;
    float t;
  };
  const auto along = [](double s, double end, int64_t stride) {
    const double clamped = std::clamp(s, 0.0, end);
    const auto low = static_cast<int64_t>(clamped);
    return Axis{low * stride, static_cast<double>(low) < end ? stride : 0,
                static_cast<float>(clamped - static_cast<double>(low))};
  };
  const auto lerp = [](float u, float v, float f) { return u + f * (v - u); };
  constexpr int64_t kChunk = 64;
  std::array<int64_t, kChunk> corner{};  // the interior voxels' lower corners, as offsets
  std::array<float, kChunk> tz{}, ty{}, tx{};
  for (int64_t d = 0; d < depth; ++d) {
    for (int64_t h = 0; h < height; ++h) {
      // Along a row only w changes: s = row_start + w x (A's last column).
      std::array<double, 3> row_start{};
      for (int axis = 0; axis < 3; ++axis) {
        row_start[axis] = a[3 * axis] * static_cast<double>(d) +
                          a[3 * axis + 1] * static_cast<double>(h) + b[axis];
      }
      float* row = target + d * plane + h * width;
      const auto voxel = [&](int64_t w) {  // any voxel: outside, clamped or inside
        const auto q = static_cast<double>(w);
        const double sd = row_start[0] + a[2] * q, sh = row_start[1] + a[5] * q,
                     sw = row_start[2] + a[8] * q;
        if (!(sd >= -0.5 && sd < last[0] + 0.5 && sh >= -0.5 && sh < last[1] + 0.5 && sw >= -0.5 &&
              sw < last[2] + 0.5)) {
          return outside;
        }
        const Axis z = along(sd, last[0], plane), y = along(sh, last[1], width),
                   x = along(sw, last[2], 1);
        const float* corner = in + z.low + y.low + x.low;
        const auto pair = [&](int64_t offset) {
          return lerp(corner[offset], corner[offset + x.step], x.t);
        };
        return lerp(lerp(pair(0), pair(y.step), y.t),
                    lerp(pair(z.step), pair(z.step + y.step), y.t), z.t);
      };
      // Where every source coordinate lies in [0, last) (all but a few voxels of a row under
      // small motions), the eight neighbours exist: no test, no clamp.
      const auto [first, end] = interior_run(row_start, {a[2], a[5], a[8]}, last, width);
      for (int64_t w = 0; w < first; ++w) row[w] = voxel(w);
      // In chunks: the corners and weights first (a loop the compiler vectorises), then the
      // loads and blends.
      for (int64_t chunk = first; chunk < end; chunk += kChunk) {
        const int64_t count = std::min(kChunk, end - chunk);
        for (int64_t j = 0; j < count; ++j) {
          const auto q = static_cast<double>(chunk + j);
          const double sd = row_start[0] + a[2] * q, sh = row_start[1] + a[5] * q,
                       sw = row_start[2] + a[8] * q;
          const auto id = static_cast<int32_t>(sd), ih = static_cast<int32_t>(sh),
                     iw = static_cast<int32_t>(sw);
          tz[j] = static_cast<float>(sd - static_cast<double>(id));
          ty[j] = static_cast<float>(sh - static_cast<double>(ih));
          tx[j] = static_cast<float>(sw - static_cast<double>(iw));
          corner[j] = static_cast<int64_t>(id) * plane + static_cast<int64_t>(ih) * width + iw;
        }
        for (int64_t j = 0; j < count; ++j) {
          const float* c = in + corner[j];
          const float* n = c + plane;
          row[chunk + j] = lerp(
              lerp(lerp(c[0], c[1], tx[j]), lerp(c[width], c[width + 1], tx[j]), ty[j]),
              lerp(lerp(n[0], n[1], tx[j]), lerp(n[width], n[width + 1], tx[j]), ty[j]), tz[j]);
        }
      }
      for (int64_t w = std::max(first, end); w < width; ++w) row[w] = voxel(w);
    }
  }
  return out;
}

}  // namespace cdl::data
