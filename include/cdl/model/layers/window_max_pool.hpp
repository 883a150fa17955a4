// Max pooling over windows of 2 voxels per axis (kernel = stride = 2), the pooling of
// Conv-BatchNorm-ReLU-PadMaxPool blocks, with the argmax indices as int32.
//
// LibTorch's max_pool3d_with_indices on the CPU takes about as long as the first block's
// convolution on its output; this pass over contiguous memory, one vectorized sweep per input
// line, gives the same values and indices (ties and NaN included) in half the time (2 threads,
// 2 x 8 x 169x208x42 float: 33-37 against 72-75 ms with indices, 25-30 against 69 ms without).
#pragma once

#include <torch/types.h>

#include <tuple>
#include <vector>

namespace cdl::model {

/// Max pooling of `input` [N, C, spatial...] (2 or 3 spatial axes) over windows of 2 along each
/// axis with stride 2, `padding[a]` (0 or 1) skipped positions before axis a; what
/// at::max_pool{2,3}d_with_indices(input, 2, 2, padding) computes: the same values, and the same
/// flat index within each (n, c) plane of the window's first maximum in scan order (a NaN counts
/// as a maximum, the last NaN wins), as int32. Without `with_indices` the second tensor is
/// undefined. Contiguous float and double CPU tensors take the fast path; anything else goes to
/// LibTorch's operation.
std::tuple<torch::Tensor, torch::Tensor> window_max_pool(const torch::Tensor& input,
                                                         const std::vector<int64_t>& padding,
                                                         bool with_indices = true);

}  // namespace cdl::model
