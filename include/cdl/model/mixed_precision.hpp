// Mixed precision on CPUs: which layers compute in bfloat16 under CPU autocast, and the autocast
// switches under the names both LibTorch generations use.
//
// On a CPU, `--amp` computes in bfloat16 only the layers whose input is a feature map of at least
// kMinBfloat16Extent voxels along every spatial axis: the large convolutions, where the time goes.
// Smaller layers and the fully connected head compute in float32. oneDNN 3.x (LibTorch 2.x)
// returns wrong bfloat16 weight gradients for 3-D convolutions whose input has a depth of 2 (seen
// with 8 to 128 channels on AVX512-BF16 CPUs; tests/unit/model/mixed_precision_test.cpp probes
// it), and such layers cost little time anyway. Convolutions reading fewer than
// kMinBfloat16WeightGradientChannels channels (the first layer of an image network) compute in
// float32 too, except the forward of a fused block (model/layers/fused_conv_block.hpp), whose
// weight gradient alone is float32.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace cdl::model {

/// Whether autocast is on for `device` (kCPU or kCUDA).
bool autocast_enabled(c10::DeviceType device);
/// The dtype autocast casts to on `device`.
torch::ScalarType autocast_dtype(c10::DeviceType device);
/// Turns autocast on or off for `device`, casting to `dtype`.
void set_autocast(c10::DeviceType device, bool enabled, torch::ScalarType dtype);

/// True when this CPU has native bfloat16 instructions (AVX512-BF16 or AMX-BF16); without them
/// oneDNN emulates bfloat16 and runs slower than float32.
bool cpu_supports_bf16();

/// The smallest extent, along each spatial axis, of a layer input that computes in bfloat16 under
/// CPU autocast.
inline constexpr int64_t kMinBfloat16Extent = 16;

/// Whether a CPU layer reading `input` [N, C, spatial...] computes in the autocast dtype: CPU
/// autocast is on, `input` is on the CPU, has at least one spatial axis and every spatial extent
/// is at least kMinBfloat16Extent. False outside CPU autocast.
bool computes_in_bf16_on_cpu(const torch::Tensor& input);

/// The fewest input channels per group of a CPU convolution whose weight gradient is worth
/// computing in bfloat16. Below it oneDNN's bfloat16 weight-gradient kernels run about 2.5 times
/// slower than float32 ones (1->8 and 2->8 channels on 2 x 169x208x42 voxels, 2 threads: 98 and
/// 103 against 40 and 43 ms), more than the bfloat16 forward saves (18 against 29 ms); at 4
/// channels the two break even, from 8 bfloat16 is several times faster.
inline constexpr int64_t kMinBfloat16WeightGradientChannels = 4;

/// Whether a convolution with `weight` [out, in / groups, kernel...] gains from bfloat16 on a CPU
/// in training: at least kMinBfloat16WeightGradientChannels input channels per group.
inline bool bf16_weight_gradient_pays(const torch::Tensor& weight) {
  return weight.dim() > 1 && weight.size(1) >= kMinBfloat16WeightGradientChannels;
}

/// Whether the CPU layer `layer` reading `input` computes in the autocast dtype: the rule of
/// computes_in_bf16_on_cpu, and for a convolution (Conv2d, Conv3d) bf16_weight_gradient_pays.
bool layer_computes_in_bf16_on_cpu(const torch::nn::Module& layer, const torch::Tensor& input);

/// RAII: CPU autocast has no effect inside the scope (its dispatch key is excluded), as
/// torch.autocast("cpu", enabled=False) does; the previous state comes back when it ends.
class CpuAutocastOff {
 public:
  CpuAutocastOff() = default;
  CpuAutocastOff(const CpuAutocastOff&) = delete;
  CpuAutocastOff& operator=(const CpuAutocastOff&) = delete;

 private:
  c10::impl::ExcludeDispatchKeyGuard guard_{c10::DispatchKey::AutocastCPU};
};

}  // namespace cdl::model
