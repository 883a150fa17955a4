// Implementation of the CPU mixed-precision rule and the autocast switches.
#include "cdl/model/mixed_precision.hpp"

#include <ATen/autocast_mode.h>
#include <torch/nn/modules/conv.h>
#include <torch/version.h>

namespace cdl::model {

// The autocast switches changed names between LibTorch 1.13 and 2.x.
bool autocast_enabled(c10::DeviceType device) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled()
                                         : at::autocast::is_cpu_enabled();
#endif
}

torch::ScalarType autocast_dtype(c10::DeviceType device) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(c10::DeviceType device, bool enabled, torch::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

bool cpu_supports_bf16() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#elif defined(__x86_64__) && defined(__clang__) && __clang_major__ >= 16
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#else
  return false;
#endif
}

bool computes_in_bf16_on_cpu(const torch::Tensor& input) {
  if (!input.defined() || !input.device().is_cpu() || input.dim() < 3 ||
      !input.is_floating_point() || !autocast_enabled(c10::DeviceType::CPU) ||
      c10::impl::tls_is_dispatch_key_excluded(c10::DispatchKey::AutocastCPU)) {
    return false;
  }
  for (int64_t axis = 2; axis < input.dim(); ++axis) {
    if (input.size(axis) < kMinBfloat16Extent) return false;
  }
  return true;
}

bool layer_computes_in_bf16_on_cpu(const torch::nn::Module& layer, const torch::Tensor& input) {
  if (!computes_in_bf16_on_cpu(input)) return false;
  if (const auto* conv = dynamic_cast<const torch::nn::Conv3dImpl*>(&layer)) {
    return bf16_weight_gradient_pays(conv->weight);
  }
  if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&layer)) {
    return bf16_weight_gradient_pays(conv->weight);
  }
  return true;
}

}  // namespace cdl::model
