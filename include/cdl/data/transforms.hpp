// The "all" transforms of ClinicaDL applied to every sample (reference 4.13): NaN removal and
// MinMax normalisation. Augmentations belong to the trainer.
#pragma once

#include <torch/torch.h>

namespace cdl::data {

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
