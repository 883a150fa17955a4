// FusedConvBlock: one block of a pooled convolution trunk (Conv, BatchNorm, ReLU, PadMaxPool, as
// in Conv4_FC3 and Conv5_FC3) computed as one autograd operation, a few samples at a time, keeping
// only the pooled maps between forward and backward.
//
// BatchNorm followed by ReLU is, per channel, a monotone map of the convolution output y:
// relu(s * y + t) with s = gamma / sqrt(var + eps). Max pooling commutes with a non-decreasing
// map, so the block's output is relu(|s| * maxpool(sign(s) * y) + t): pooling runs on y itself and
// the full-resolution normalised and rectified maps are never formed. Backward needs y again (the
// BatchNorm gradient has a dense part a + b * y per channel plus the pooled gradient scattered to
// the window maxima); it recomputes the convolution one chunk at a time. Results equal the
// separate layers' up to float rounding; the extra cost is one convolution forward. The batch
// statistics come from centred sums along contiguous rows and the pooling from window_max_pool.hpp:
// LibTorch's var_mean and max_pool3d_with_indices each took about as long as the convolution.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include <cstdint>

#include "cdl/model/layers/pad_max_pool.hpp"

namespace cdl::model {

/// The layers of one block, as found in the trunk (they keep their parameters and buffers).
struct ConvBlockLayers {
  torch::nn::Module* conv = nullptr;        ///< Conv2dImpl or Conv3dImpl
  torch::nn::Module* batch_norm = nullptr;  ///< BatchNorm2dImpl or BatchNorm3dImpl
  PadMaxPoolImpl* pool = nullptr;           ///< kernel == stride
};

/// Whether layers i..i+3 of `trunk` are Conv, BatchNorm (with a momentum), ReLU and a PadMaxPool
/// whose kernel equals its stride; fills `block` when they are.
bool match_conv_block(const torch::nn::Sequential& trunk, size_t i, ConvBlockLayers& block);

/// The block's output for `input` [N, C, spatial...], computed `chunk_samples` samples at a time,
/// and, when `max_piece_bytes` > 0, in slabs along the last spatial axis whose convolution output
/// takes at most that many bytes (at least one pooled row; only for a convolution of stride and
/// dilation 1 along that axis): a slab reads its input rows with a halo of kernel - 1 rows and
/// starts on a pooling window, so its results are the whole block's.
/// In training mode it uses and updates the BatchNorm batch statistics exactly as the layer does
/// (running mean and unbiased variance with the layer's momentum, batch counter + 1) and is
/// differentiable with respect to the input and every parameter; in evaluation mode it uses the
/// running statistics. `chunk_samples` <= 0 means the whole batch at once; 1 is taken as 2 for
/// inputs of at most 20480 values per sample in (C, D, H), which LibTorch would not hand to oneDNN
/// one sample at a time (fused_conv_block.cpp). Under CPU autocast the block's convolutions
/// (forward, the recomputation and the gradients) compute in bfloat16 when `input` may
/// (mixed_precision.hpp), in float32 otherwise; statistics, output and gradient sums are float32.
torch::Tensor fused_conv_block(const torch::Tensor& input, const ConvBlockLayers& block,
                               int64_t chunk_samples, int64_t max_piece_bytes = 0);

}  // namespace cdl::model
