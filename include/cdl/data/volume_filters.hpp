// The volume filters of the augmentations, as plain loops over contiguous float32 memory:
// SciPy's Gaussian filter (Smoothing, RandomBlur) and ITK's trilinear resampling (Motion).
#pragma once

#include <torch/torch.h>

#include <array>
#include <vector>

namespace cdl::data {

/// SciPy's gaussian_filter: a separable Gaussian of standard deviation `sigmas[a]` along each
/// axis a of x (0: that axis untouched), truncated at 4 sigmas, with SciPy's "reflect"
/// boundary (the edge voxel repeated: d c b a | a b c d | d c b a).
torch::Tensor gaussian_filter(const torch::Tensor& x, const std::vector<double>& sigmas);

/// One channel [D, H, W] (contiguous float32) resampled at source index s = A q + b of each
/// output index q (A row-major 3x3): trilinear, the index clamped to the grid within half a
/// voxel of it, `outside` beyond (ITK's linear resampling of an image with its border voxels
/// repeated, which Motion applies).
torch::Tensor resample_linear(const torch::Tensor& channel, const std::array<double, 9>& a,
                              const std::array<double, 3>& b, float outside);

}  // namespace cdl::data
