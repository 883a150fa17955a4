// Factories of the 2D/3D layers the architectures are made of, so an architecture is written
// once for both dimensions (ClinicaDL picks Conv2d/Conv3d, BatchNorm2d/3d... from the input size).
#pragma once

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <vector>

namespace cdl::model {

/// Conv2d/Conv3d(in -> out, kernel, stride, padding, bias) for `dimension` spatial axes.
torch::nn::AnyModule conv(int dimension, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                          int64_t padding, bool bias = true);

/// ConvTranspose2d/3d(in -> out, kernel, stride, padding, output_padding, bias).
torch::nn::AnyModule conv_transpose(int dimension, int64_t in, int64_t out, int64_t kernel,
                                    int64_t stride, int64_t padding, int64_t output_padding = 0,
                                    bool bias = true);

/// BatchNorm2d/3d(channels) with PyTorch's defaults (eps 1e-5, momentum 0.1).
torch::nn::AnyModule batch_norm(int dimension, int64_t channels);

/// InstanceNorm2d/3d(channels) with PyTorch's defaults (no affine parameters, no running
/// statistics).
torch::nn::AnyModule instance_norm(int dimension, int64_t channels);

/// PadMaxPool (see layers/pad_max_pool.hpp).
torch::nn::AnyModule pad_max_pool(int dimension, int64_t kernel, int64_t stride);

/// ClinicaDL's CNN head: Flatten, Dropout(p), then Linear layers of the given widths separated by
/// ReLU, ending with Linear(-> output_size) and no activation.
torch::nn::Sequential fc_head(int64_t flattened, const std::vector<int64_t>& hidden_widths,
                              int64_t output_size, double dropout);

/// Length after `times` halvings rounding up (PadMaxPool(2, 2) or conv(k3, s2, p1)).
int64_t ceil_halvings(int64_t length, int times);

/// Product of the elements of `values`.
int64_t product(const std::vector<int64_t>& values);

}  // namespace cdl::model
