// How a network computes on its device: placement, precision (autocast), memory layout and the
// device-side input transforms. One ComputeOptions is shared by training and evaluation, so both
// see the same inputs and the same numerics.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>

#include "cdl/config/choices.hpp"
#include "cdl/data/batch_loader.hpp"
#include "cdl/model/network.hpp"

namespace cdl::device {

/// Where and how the network computes.
struct ComputeOptions {
  torch::Device device = torch::kCPU;
  /// Autocast of the forward pass in `amp_dtype` (losses are computed in float32).
  bool amp = false;
  torch::ScalarType amp_dtype = torch::kBFloat16;
  /// channels_last_3d layout for 5-D convolution weights and inputs (cuDNN's fast NDHWC kernels).
  bool channels_last = false;
  /// NaN removal and MinMax normalisation run on the device after the copy, not on the I/O thread.
  bool transform_on_device = false;
  bool normalize = true;  ///< MinMax per sample (only used when transform_on_device)
  /// --amp was asked for a CPU without bfloat16 instructions, which trains in float32 instead.
  bool amp_declined_on_cpu = false;
  /// Threads building training batches (reading, transforms, augmentations) beside the training.
  int io_threads = 1;
};

/// Resolves the compute options of a run. With `amp`: on a CUDA device, autocast in bfloat16
/// where the device supports it (compute capability 8.0 and newer), else float16 with a gradient
/// scaler; on a CPU with bfloat16 instructions (model::cpu_supports_bf16), autocast in bfloat16
/// for the layers that model/mixed_precision.hpp allows (large feature maps), float32 for the
/// rest; on other CPUs `amp` is declined (`amp_declined_on_cpu`, float32 training).
/// channels_last auto = on for CUDA with amp; transforms on the device for CUDA.
ComputeOptions resolve_compute(torch::Device device, bool amp, config::Toggle channels_last,
                               bool normalize);

/// True when `options` needs loss scaling (float16 autocast).
bool needs_loss_scaling(const ComputeOptions& options);

/// Puts every 5-D parameter of `module` (3-D convolution weights) in channels_last_3d layout when
/// `options.channels_last`. Call after the module is on its device, before the optimizer sees it.
void apply_memory_format(torch::nn::Module& module, const ComputeOptions& options);

/// Turns a batch's inputs (already on the device, or on the host) into what the network reads:
/// moved to the device, transformed there when `transform_on_device` (non-finite values -> 0,
/// then MinMax per sample as data::transform_into does on the host), in channels_last_3d layout
/// when asked. Returns the prepared tensor (float32).
torch::Tensor prepare_inputs(const torch::Tensor& inputs, const ComputeOptions& options);

/// Per-sample MinMax on a batch [B, ...] (NaN/inf -> 0 first): identical to data::transform_into
/// applied to each sample. Runs on the tensor's own device.
torch::Tensor transform_batch(const torch::Tensor& inputs, bool normalize);

/// RAII: autocast on for the options' device type and dtype inside the scope (no-op without amp).
/// Restores the previous autocast state and clears the cast cache when it leaves.
class AutocastScope {
 public:
  explicit AutocastScope(const ComputeOptions& options);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

/// The network's outputs for `inputs`, computed under autocast when `options.amp`, returned in
/// float32 (so losses and metrics are always computed in float32).
torch::Tensor forward_in_float(model::Network& network, const torch::Tensor& inputs,
                               const ComputeOptions& options);

/// The batch stager that copies batches to `options.device` ahead of use (a side CUDA stream fed
/// from pinned memory), or null where batches stay on the host (CPU training).
std::shared_ptr<data::BatchStager> make_batch_stager(const ComputeOptions& options);

/// Configures the process-wide device libraries: cuDNN autotuning unless `deterministic`,
/// deterministic cuDNN/cuBLAS algorithms when it is. Call once before the first CUDA work.
void configure_device_libraries(torch::Device device, bool deterministic);

/// True when CUDA device `index` computes in bfloat16 natively (compute capability >= 8.0).
/// False in builds without CUDA.
bool cuda_supports_bf16(int index);

}  // namespace cdl::device
