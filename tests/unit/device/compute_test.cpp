// Unit tests of the compute options (device transforms, autocast, memory layout) and of the loss
// scaler, on the CPU with known answers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "cdl/core/error.hpp"
#include "cdl/data/transforms.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/model/grad_scaler.hpp"
#include "cdl/model/mixed_precision.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::device {
namespace {

torch::Tensor host_transform(const torch::Tensor& batch, bool normalize) {
  auto out = torch::empty_like(batch);
  for (int64_t i = 0; i < batch.size(0); ++i) {
    auto slot = out[i];
    data::transform_into(batch[i], normalize, slot);
  }
  return out;
}

TEST(TransformBatch, EqualsTheHostTransformSampleBySample) {
  torch::manual_seed(0);
  auto batch = torch::randn({4, 1, 6, 5, 4}) * 300 + 40;
  batch[1].fill_(7.0f);                                            // constant sample -> zeros
  batch[2][0][1][2][3] = std::numeric_limits<float>::quiet_NaN();  // NaN -> 0, then MinMax
  batch[3][0][0][0][0] = std::numeric_limits<float>::infinity();
  for (bool normalize : {true, false}) {
    const auto expected = host_transform(batch, normalize);
    const auto actual = transform_batch(batch, normalize);
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-6, 1e-6)) << "normalize " << normalize;
    EXPECT_TRUE(torch::isfinite(actual).all().item<bool>());
  }
  const auto normalized = transform_batch(batch, true);
  EXPECT_EQ(normalized[1].abs().max().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(normalized[0].min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(normalized[0].max().item<float>(), 1.0f);
}

TEST(ResolveCompute, CpuDefaultsAndChoices) {
  const auto plain = resolve_compute(torch::kCPU, false, config::Toggle::kAuto, true);
  EXPECT_FALSE(plain.amp);
  EXPECT_FALSE(plain.channels_last);
  EXPECT_FALSE(plain.transform_on_device);
  const auto amp = resolve_compute(torch::kCPU, true, config::Toggle::kAuto, true);
  // bfloat16 autocast where the CPU has bfloat16 instructions, else declined (float32 training).
  EXPECT_EQ(amp.amp, model::cpu_supports_bf16());
  EXPECT_EQ(amp.amp_declined_on_cpu, !model::cpu_supports_bf16());
  EXPECT_EQ(amp.amp_dtype, torch::kBFloat16);
  EXPECT_FALSE(plain.amp_declined_on_cpu);
  EXPECT_FALSE(needs_loss_scaling(amp));
  EXPECT_FALSE(amp.channels_last);  // auto: only CUDA with amp
  EXPECT_TRUE(resolve_compute(torch::kCPU, false, config::Toggle::kOn, true).channels_last);
  EXPECT_FALSE(make_batch_stager(plain));  // batches stay on the host
}

TEST(CpuSupportsBf16, AgreesWithTheKernelsCpuFlags) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  if (!cpuinfo) GTEST_SKIP() << "no /proc/cpuinfo";
  const std::string text((std::istreambuf_iterator<char>(cpuinfo)),
                         std::istreambuf_iterator<char>());
  const bool flagged =
      text.find(" avx512_bf16") != std::string::npos || text.find(" amx_bf16") != std::string::npos;
#if defined(__x86_64__)
  EXPECT_EQ(model::cpu_supports_bf16(), flagged);
#else
  EXPECT_FALSE(model::cpu_supports_bf16());
#endif
}

TEST(AutocastScope, ConvolutionsRunInBfloat16OnlyInsideTheScope) {
  auto conv = torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 2, 3));
  const auto x = torch::randn({1, 1, 5, 5, 5});
  ComputeOptions options;
  options.amp = true;
  {
    AutocastScope scope(options);
    EXPECT_EQ(conv->forward(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(conv->forward(x).scalar_type(), torch::kFloat);
  options.amp = false;
  AutocastScope off(options);
  EXPECT_EQ(conv->forward(x).scalar_type(), torch::kFloat);
}

/// Conv4_FC3 for 1@16x16x16 inputs, in eval mode.
model::NetworkPtr small_network() {
  model::NetworkOptions options;
  options.input_size = parse_input_size("1@16x16x16");
  auto network = model::builtin_registry().create("Conv4_FC3", options);
  network->eval();
  return network;
}

TEST(ForwardInFloat, AmpOutputsAreFloat32AndCloseToFullPrecision) {
  auto network = small_network();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 1, 16, 16, 16});
  ComputeOptions fp32, amp;
  amp.amp = true;
  const auto reference = forward_in_float(*network, x, fp32);
  const auto mixed = forward_in_float(*network, x, amp);
  EXPECT_EQ(mixed.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(mixed, reference, 0.05, 0.05));
}

TEST(MemoryFormat, ChannelsLastWeightsGiveTheSameOutputsAndContiguousCheckpoints) {
  auto network = small_network();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 1, 16, 16, 16});
  const auto before = network->forward(x);
  ComputeOptions options;
  options.channels_last = true;
  apply_memory_format(*network, options);
  int converted = 0;
  for (const auto& p : network->parameters()) {
    if (p.dim() != 5) continue;
    EXPECT_TRUE(p.is_contiguous(torch::MemoryFormat::ChannelsLast3d));
    ++converted;
  }
  EXPECT_GT(converted, 0);
  const auto after = network->forward(prepare_inputs(x, options));
  EXPECT_TRUE(torch::allclose(after, before, 1e-5, 1e-5));
  for (const auto& entry : formats::state_dict(*network))
    EXPECT_TRUE(entry.value().is_contiguous()) << entry.key();
}

TEST(GradScaler, ScalesUnscalesBacksOffAndGrows) {
  model::GradScaler scaler(true, /*initial_scale=*/8.0, /*growth=*/2.0, /*backoff=*/0.5,
                           /*interval=*/2);
  EXPECT_DOUBLE_EQ(scaler.scale(torch::tensor(3.0)).item<double>(), 24.0);
  auto w = torch::zeros({2}, torch::requires_grad());
  scaler.scale((w * torch::tensor({1.0, 2.0})).sum()).backward();
  EXPECT_TRUE(scaler.unscale_and_check({w}));
  EXPECT_TRUE(torch::equal(w.grad(), torch::tensor({1.0f, 2.0f})));
  scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 8.0);
  scaler.update(true);  // 2 finite steps in a row: grow
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 16.0);
  w.mutable_grad().fill_(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(scaler.unscale_and_check({w}));
  scaler.update(false);
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
  model::GradScaler off(false);
  EXPECT_DOUBLE_EQ(off.scale(torch::tensor(3.0)).item<double>(), 3.0);
  EXPECT_THROW(model::GradScaler(true, -1.0), Error);
}

TEST(GradScaler, StateTravelsWithTheOptimizerCheckpoint) {
  auto w = torch::ones({3}, torch::requires_grad());
  torch::optim::Adam optimizer({w}, torch::optim::AdamOptions(0.1));
  model::GradScaler scaler(true, 1024.0);
  scaler.update(false);
  scaler.update(true);
  const auto path = (std::filesystem::temp_directory_path() / "cdl_scaler_state.pt").string();
  formats::save_optimizer_state(path, optimizer, 5, &scaler);
  model::GradScaler restored(true);
  EXPECT_EQ(formats::load_optimizer_state(path, optimizer, &restored), 5);
  EXPECT_DOUBLE_EQ(restored.scale_value(), 512.0);
  EXPECT_EQ(restored.growth_tracker(), 1);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cdl::device
