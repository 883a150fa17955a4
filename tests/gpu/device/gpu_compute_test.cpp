// GPU unit tests: every architecture gives the same outputs on the GPU as on the CPU (1e-4, with
// TF32 off), device transforms equal the host ones, and autocast picks the GPU's precision.
// Every test skips where no CUDA device is visible.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "cdl/data/transforms.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::device {
namespace {

#define CDL_SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible";

const torch::Device kGpu(torch::kCUDA, 0);

/// An input size each architecture accepts, small enough for a quick test.
std::string input_size_for(const std::string& name) {
  if (name == "resnet18") return "3@64x64";
  if (name == "ResNet3D" || name == "SqueezeExcitationCNN") return "1@64x64x64";  // 5 pools of 3
  return "1@32x40x32";
}

TEST(GpuForward, EveryArchitectureMatchesTheCpu) {
  CDL_SKIP_WITHOUT_CUDA();
  at::globalContext().setAllowTF32CuDNN(false);  // compare IEEE float32 with IEEE float32
  at::globalContext().setAllowTF32CuBLAS(false);
  for (const auto& name : model::builtin_registry().names()) {
    SCOPED_TRACE(name);
    torch::manual_seed(0);
    model::NetworkOptions options;
    options.input_size = parse_input_size(input_size_for(name));
    auto network = model::builtin_registry().create(name, options);
    network->eval();
    torch::NoGradGuard no_grad;
    auto shape = options.input_size.sample_shape();
    shape.insert(shape.begin(), 2);
    const auto x = torch::rand(shape);
    const auto on_cpu = network->forward(x);
    network->to(kGpu);
    const auto on_gpu = network->forward(x.to(kGpu)).cpu();
    EXPECT_TRUE(torch::allclose(on_gpu, on_cpu, 1e-4, 1e-4))
        << "max difference " << (on_gpu - on_cpu).abs().max().item<float>();
  }
}

TEST(GpuCompute, DeviceTransformsEqualTheHostOnes) {
  CDL_SKIP_WITHOUT_CUDA();
  torch::manual_seed(1);
  auto batch = torch::randn({3, 1, 8, 9, 7}) * 100;
  batch[1].fill_(3.0f);
  batch[2][0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  const auto host = transform_batch(batch, true);
  const auto options = resolve_compute(kGpu, false, config::Toggle::kAuto, true);
  ASSERT_TRUE(options.transform_on_device);
  const auto device = prepare_inputs(batch, options);
  EXPECT_TRUE(device.is_cuda());
  EXPECT_TRUE(torch::allclose(device.cpu(), host, 1e-6, 1e-6));
}

TEST(GpuCompute, AmpPicksBfloat16OnAmpereAndNewerAndChannelsLast) {
  CDL_SKIP_WITHOUT_CUDA();
  const auto options = resolve_compute(kGpu, true, config::Toggle::kAuto, true);
  EXPECT_EQ(options.amp_dtype, cuda_supports_bf16(0) ? torch::kBFloat16 : torch::kHalf);
  EXPECT_TRUE(options.channels_last);
  auto conv = torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 4, 3));
  conv->to(kGpu);
  AutocastScope scope(options);
  EXPECT_EQ(conv->forward(torch::rand({1, 1, 6, 6, 6}, kGpu)).scalar_type(), options.amp_dtype);
}

TEST(GpuCompute, StagerDeliversDeviceBatchesReadyForTheComputeStream) {
  CDL_SKIP_WITHOUT_CUDA();
  const auto options = resolve_compute(kGpu, false, config::Toggle::kAuto, true);
  auto stager = make_batch_stager(options);
  ASSERT_TRUE(stager);
  EXPECT_TRUE(stager->wants_pinned_memory());
  data::Batch batch;
  batch.inputs = torch::arange(24, torch::kFloat).reshape({2, 12}).pin_memory();
  batch.labels = torch::tensor({0, 1}, torch::kLong);
  const auto expected = batch.inputs.clone();
  stager->stage(batch);
  stager->ready(batch);
  EXPECT_TRUE(batch.inputs.is_cuda());
  EXPECT_TRUE(batch.labels.is_cuda());
  EXPECT_TRUE(torch::equal(batch.inputs.cpu(), expected));
  EXPECT_EQ(batch.labels.cpu()[1].item<int64_t>(), 1);
}

}  // namespace
}  // namespace cdl::device
