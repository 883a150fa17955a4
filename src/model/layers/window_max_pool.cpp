// Implementation of the 2-voxel window max pooling.
#include "cdl/model/layers/window_max_pool.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace cdl::model {
namespace {

/// Sizes of a pooling of windows of 2 with stride 2; a 2-D pooling has a depth of 1.
struct Geometry {
  int64_t planes = 0;              // N * C
  int64_t in[3] = {1, 1, 1};       // input D, H, W
  int64_t out[3] = {1, 1, 1};      // output D, H, W
  int64_t padding[3] = {0, 0, 0};  // skipped positions before each axis
};

/// The input positions [first, last) of window j along an axis of `length` with `padding`.
inline void window(int64_t j, int64_t padding, int64_t length, int64_t& first, int64_t& last) {
  const int64_t start = 2 * j - padding;
  first = std::max<int64_t>(start, 0);
  last = std::min<int64_t>(start + 2, length);
}

/// Takes `value` at input position `index` as the running maximum when LibTorch's kernel would:
/// when it is larger, or NaN.
template <typename T>
inline void consider(T value, int32_t index, T& best, int32_t& best_index) {
  const bool take = value > best || value != value;
  best = take ? value : best;
  best_index = take ? index : best_index;
}

/// consider() for both input columns of windows [begin, end) of one input line (`values`, at
/// flat position `line` in its plane). Written so that the compiler vectorizes it: no aliasing,
/// no branch (selects), one pass.
template <typename T>
void sweep_full_windows(const T* __restrict values, T* __restrict best, int32_t* __restrict where,
                        int64_t begin, int64_t end, int64_t pad, int32_t line) {
  for (int64_t jw = begin; jw < end; ++jw) {
    const int64_t w = 2 * jw - pad;
    T maximum = best[jw];  // locals, not the restrict pointers, keep it vectorizable
    int32_t index = where[jw];
    consider(values[w], line + static_cast<int32_t>(w), maximum, index);
    consider(values[w + 1], line + static_cast<int32_t>(w) + 1, maximum, index);
    best[jw] = maximum;
    where[jw] = index;
  }
}

/// One output row (plane, d) at a time, in parallel. Each output line (d, h) is swept line by line
/// of its windows' input in scan order (d, then h, then w), every window updated along the line:
/// the running maxima of a line of windows stay in the output, in cache, and the inner loop has
/// no branch. The update is LibTorch's, so ties and NaN resolve the same way.
template <typename T>
void pool_planes(const T* input, T* output, int32_t* indices, const Geometry& g) {
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_w = g.out[2], pad_w = g.padding[2], in_w = g.in[2];
  // Windows jw in [full_begin, full_end) have both their input columns inside the line.
  const int64_t full_begin = pad_w, full_end = std::min<int64_t>(out_w, (in_w + pad_w) / 2);
  at::parallel_for(0, g.planes * g.out[0], 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> scratch(indices == nullptr ? out_w : 0);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t plane = row / g.out[0], jd = row % g.out[0];
      const T* source = input + plane * in_plane;
      int64_t d0 = 0, d1 = 0;
      window(jd, g.padding[0], g.in[0], d0, d1);
      for (int64_t jh = 0; jh < g.out[1]; ++jh) {
        T* best = output + (row * g.out[1] + jh) * out_w;
        int32_t* where =
            indices == nullptr ? scratch.data() : indices + (row * g.out[1] + jh) * out_w;
        int64_t h0 = 0, h1 = 0;
        window(jh, g.padding[1], g.in[1], h0, h1);
        const auto first_line = static_cast<int32_t>((d0 * g.in[1] + h0) * in_w);
        for (int64_t jw = 0; jw < out_w; ++jw) {
          best[jw] = -std::numeric_limits<T>::infinity();
          where[jw] = first_line + static_cast<int32_t>(std::max<int64_t>(2 * jw - pad_w, 0));
        }
        for (int64_t d = d0; d < d1; ++d) {
          for (int64_t h = h0; h < h1; ++h) {
            const auto line = static_cast<int32_t>((d * g.in[1] + h) * in_w);
            const T* values = source + line;
            for (int64_t jw = 0; jw < full_begin; ++jw) {  // the padded first window: column 0
              consider(values[0], line, best[jw], where[jw]);
            }
            sweep_full_windows(values, best, where, full_begin, full_end, pad_w, line);
            for (int64_t jw = std::max(full_end, full_begin); jw < out_w; ++jw) {  // cut last
              const int64_t w = 2 * jw - pad_w;
              consider(values[w], line + static_cast<int32_t>(w), best[jw], where[jw]);
            }
          }
        }
      }
    }
  });
}

/// LibTorch's operation, indices as int32.
std::tuple<torch::Tensor, torch::Tensor> library_pool(const torch::Tensor& input,
                                                      const std::vector<int64_t>& padding,
                                                      bool with_indices) {
  const int dimension = static_cast<int>(input.dim()) - 2;
  const std::vector<int64_t> two(dimension, 2), one(dimension, 1);
  auto [values, indices] = dimension == 3
                               ? at::max_pool3d_with_indices(input, two, two, padding, one)
                               : at::max_pool2d_with_indices(input, two, two, padding, one);
  return {values, with_indices ? indices.to(torch::kInt32) : torch::Tensor()};
}

}  // namespace

std::tuple<torch::Tensor, torch::Tensor> window_max_pool(const torch::Tensor& input,
                                                         const std::vector<int64_t>& padding,
                                                         bool with_indices) {
  const int dimension = static_cast<int>(input.dim()) - 2;
  const bool supported_type =
      input.scalar_type() == torch::kFloat || input.scalar_type() == torch::kDouble;
  if ((dimension != 2 && dimension != 3) || static_cast<int>(padding.size()) != dimension ||
      !input.device().is_cpu() || !input.is_contiguous() || !supported_type ||
      input.requires_grad()) {
    return library_pool(input, padding, with_indices);
  }
  Geometry g;
  g.planes = input.size(0) * input.size(1);
  const int first = 3 - dimension;  // a 2-D pooling keeps depth 1
  std::vector<int64_t> output_shape{input.size(0), input.size(1)};
  for (int axis = 0; axis < dimension; ++axis) {
    const int64_t length = input.size(axis + 2), pad = padding[axis];
    if (pad < 0 || pad > 1 || length + 2 * pad < 2)
      return library_pool(input, padding, with_indices);
    g.in[first + axis] = length;
    g.padding[first + axis] = pad;
    g.out[first + axis] = (length + 2 * pad - 2) / 2 + 1;
    output_shape.push_back(g.out[first + axis]);
  }
  if (g.in[0] * g.in[1] * g.in[2] > std::numeric_limits<int32_t>::max() || g.planes == 0) {
    return library_pool(input, padding, with_indices);
  }
  auto values = torch::empty(output_shape, input.options());
  auto indices = with_indices ? torch::empty(output_shape, input.options().dtype(torch::kInt32))
                              : torch::Tensor();
  int32_t* where = with_indices ? indices.data_ptr<int32_t>() : nullptr;
  if (input.scalar_type() == torch::kFloat) {
    pool_planes(input.data_ptr<float>(), values.data_ptr<float>(), where, g);
  } else {
    pool_planes(input.data_ptr<double>(), values.data_ptr<double>(), where, g);
  }
  return {values, indices};
}

}  // namespace cdl::model
