// The "all" transforms of ClinicaDL applied to every sample (reference 4.13): NaN removal,
// MinMax normalisation and SizeReduction. Augmentations belong to the trainer.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

namespace cdl::data {

/// One axis of ClinicaDL's SizeReduction: the indices start, start + step, ... below stop (Python
/// slicing: stop is clamped to the axis length).
struct AxisWindow {
  int64_t start = 0, stop = 0, step = 1;
  /// Number of indices kept of an axis of `length` voxels.
  int64_t kept(int64_t length) const;
};

/// ClinicaDL's SizeReduction windows of the D, H and W axes for `factor` 2..5 (a 169x208x179
/// t1-linear image becomes 80x96x80, 56x64x56, 40x48x40 or 32x40x32). Throws ConfigError naming
/// --size_reduction_factor for any other factor.
std::array<AxisWindow, 3> size_reduction_windows(int64_t factor);

/// The sample shape {C, D, H, W} after SizeReduction by `factor`. Throws ConfigError naming the
/// shape when an axis would keep no voxel (images smaller than ClinicaDL's windows).
std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape, int64_t factor);

/// The strided view of `x` [C, D, H, W] that SizeReduction by `factor` keeps (no copy).
torch::Tensor reduce_size(const torch::Tensor& x, int64_t factor);

/// NaN -> 0, +inf -> largest finite float, -inf -> lowest finite float (ClinicaDL's NanRemoval).
/// Returns the input itself when it holds only finite values; `changed` (if given) says which.
torch::Tensor remove_nan(const torch::Tensor& x, bool* changed = nullptr);

/// ClinicaDL's MinMaxNormalization over the whole tensor (all channels): (x - min) / (max - min).
/// Deliberate difference: a constant tensor gives zeros instead of ClinicaDL's NaN.
torch::Tensor minmax_normalize(const torch::Tensor& x);

/// Both transforms in one pass over memory, written into `out` (same shape as `x`, float32, may
/// be a slot of a batch tensor): NaN removal, then MinMax if `normalize`, else a plain copy.
/// Returns true when `x` held NaN or infinite values.
bool transform_into(const torch::Tensor& x, bool normalize, torch::Tensor& out);

}  // namespace cdl::data
