// Implementation of the device-independent parts of ComputeOptions; the CUDA pieces live in
// cuda_compute.cpp, compiled only into builds whose LibTorch has CUDA.
#include "cdl/device/compute.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>

#include "cdl/config.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/model/mixed_precision.hpp"

namespace cdl::device {

#if CDL_WITH_CUDA_TORCH
// Defined in cuda_compute.cpp.
std::shared_ptr<data::BatchStager> make_cuda_batch_stager(torch::Device device);
bool cuda_device_supports_bf16(int index);
#endif

namespace {

c10::DeviceType device_type(bool cuda) {
  return cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
}

}  // namespace

bool cuda_supports_bf16(int index) {
#if CDL_WITH_CUDA_TORCH
  return cuda_device_supports_bf16(index);
#else
  return false;
#endif
}

ComputeOptions resolve_compute(torch::Device device, bool amp, config::Toggle channels_last,
                               bool normalize) {
  ComputeOptions options;
  options.device = device;
  options.normalize = normalize;
  const bool cuda = device.is_cuda();
  const bool cpu_bf16 = !cuda && model::cpu_supports_bf16();
  options.amp = amp && (cuda || cpu_bf16);
  options.amp_declined_on_cpu = amp && !cuda && !cpu_bf16;
  if (amp && cuda && !cuda_supports_bf16(device.index())) options.amp_dtype = torch::kHalf;
  if (channels_last == config::Toggle::kAuto) {
    options.channels_last = cuda && amp;
  } else {
    options.channels_last = channels_last == config::Toggle::kOn;
  }
  options.transform_on_device = cuda;
  return options;
}

bool needs_loss_scaling(const ComputeOptions& options) {
  return options.amp && options.amp_dtype == torch::kHalf;
}

void apply_memory_format(torch::nn::Module& module, const ComputeOptions& options) {
  if (!options.channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) {
    if (parameter.dim() == 5) {
      parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast3d));
    }
  }
}

torch::Tensor transform_batch(const torch::Tensor& inputs, bool normalize) {
  const int64_t batch = inputs.size(0);
  // nan_to_num always (one cheap pass on a GPU) rather than a check that would stall the stream
  // on the host; for finite inputs it is the identity, as the host path's check is.
  auto flat = torch::nan_to_num(inputs.reshape({batch, -1}), 0.0);
  if (!normalize) return flat.view(inputs.sizes());
  auto [lo, hi] = torch::aminmax(flat, /*dim=*/1, /*keepdim=*/true);
  const auto range = hi - lo;
  // As on the host: (x - min) / (max - min), and zeros where the sample is constant.
  auto out = (flat - lo).div_(range.clamp_min(std::numeric_limits<float>::min()));
  out.masked_fill_((range > 0).logical_not().expand_as(out), 0.0);
  return out.view(inputs.sizes());
}

torch::Tensor prepare_inputs(const torch::Tensor& inputs, const ComputeOptions& options) {
  auto x = inputs.to(options.device);
  if (options.transform_on_device) x = transform_batch(x, options.normalize);
  if (options.channels_last && x.dim() == 5) x = x.contiguous(torch::MemoryFormat::ChannelsLast3d);
  return x;
}

AutocastScope::AutocastScope(const ComputeOptions& options) {
  if (!options.amp) return;
  active_ = true;
  cuda_ = options.device.is_cuda();
  was_enabled_ = model::autocast_enabled(device_type(cuda_));
  previous_dtype_ = model::autocast_dtype(device_type(cuda_));
  model::set_autocast(device_type(cuda_), true, options.amp_dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  model::set_autocast(device_type(cuda_), was_enabled_, previous_dtype_);
}

torch::Tensor forward_in_float(model::Network& network, const torch::Tensor& inputs,
                               const ComputeOptions& options) {
  torch::Tensor outputs;
  {
    AutocastScope autocast(options);
    outputs = network.forward(inputs);
  }
  return outputs.scalar_type() == torch::kFloat ? outputs : outputs.to(torch::kFloat);
}

std::shared_ptr<data::BatchStager> make_batch_stager(const ComputeOptions& options) {
#if CDL_WITH_CUDA_TORCH
  if (options.device.is_cuda()) return make_cuda_batch_stager(options.device);
#endif
  return nullptr;
}

void configure_device_libraries(torch::Device device, bool deterministic) {
  if (!device.is_cuda()) return;
  if (deterministic && std::getenv("CUBLAS_WORKSPACE_CONFIG") == nullptr) {
    // cuBLAS is deterministic only with a fixed workspace; LibTorch refuses to run without it.
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  }
  at::globalContext().setDeterministicCuDNN(deterministic);
  at::globalContext().setBenchmarkCuDNN(!deterministic);
}

}  // namespace cdl::device
