// Implementation of the Network base classes and the layer tracer.
#include "cdl/model/network.hpp"

#include <algorithm>

#include <torch/torch.h>

#include <sstream>

#include "cdl/core/error.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/crop_max_unpool.hpp"
#include "cdl/model/layers/fused_conv_block.hpp"
#include "cdl/model/layers/pad_max_pool.hpp"
#include "cdl/model/mixed_precision.hpp"

namespace cdl::model {
namespace {

/// (indices, pad) pushed by encoder pools and popped by decoder unpools.
using PoolStack = std::vector<std::pair<torch::Tensor, std::vector<int64_t>>>;

/// Applies one element of a Sequential, routing pools and unpools through `stack`.
torch::Tensor apply_layer_as_is(torch::nn::AnyModule& layer, torch::Tensor x, PoolStack& stack) {
  const auto module = layer.ptr();
  if (auto pool = std::dynamic_pointer_cast<PadMaxPoolImpl>(module)) {
    if (!pool->returns_indices()) return pool->forward(x);
    auto result = pool->forward_with_indices(x);
    stack.emplace_back(result.indices, result.pad);
    return result.output;
  }
  if (auto unpool = std::dynamic_pointer_cast<CropMaxUnpoolImpl>(module)) {
    CDL_CHECK(!stack.empty(), "CropMaxUnpool without a matching PadMaxPool");
    auto [indices, pad] = stack.back();
    stack.pop_back();
    return unpool->forward(x, indices, pad);
  }
  return layer.forward(x);
}

/// apply_layer_as_is, in float32 without autocast when CPU autocast is on but the layer's input
/// is too small to compute in bfloat16, or the layer is a convolution of too few input channels
/// (mixed_precision.hpp).
torch::Tensor apply_layer(torch::nn::AnyModule& layer, torch::Tensor x, PoolStack& stack) {
  if (x.device().is_cpu() && autocast_enabled(c10::DeviceType::CPU) &&
      !layer_computes_in_bf16_on_cpu(*layer.ptr(), x)) {
    const CpuAutocastOff float32;
    return apply_layer_as_is(layer, x.to(torch::kFloat), stack);
  }
  return apply_layer_as_is(layer, x, stack);
}

torch::Tensor run_sequential(torch::nn::Sequential sequential, torch::Tensor x, PoolStack& stack) {
  for (auto& layer : *sequential) x = apply_layer(layer, x, stack);
  return x;
}

std::string describe(const torch::nn::Module& module) {
  std::ostringstream out;
  module.pretty_print(out);
  std::string text = out.str();
  const std::string prefix = "torch::nn::";
  for (auto pos = text.find(prefix); pos != std::string::npos; pos = text.find(prefix)) {
    text.erase(pos, prefix.size());
  }
  const auto children = module.named_children();
  if (children.is_empty() || text.find('(') != std::string::npos) return text;
  text += "(";
  bool first = true;
  for (const auto& child : children) {
    text += (first ? "" : ", ") + child.key() + "=" + describe(*child.value());
    first = false;
  }
  return text + ")";
}

}  // namespace

Cnn::Cnn(std::string architecture, torch::nn::Sequential convolutions, torch::nn::Sequential fc)
    : Network(std::move(architecture)) {
  convolutions_ = register_module("convolutions", std::move(convolutions));
  fc_ = register_module("fc", std::move(fc));
}

Cnn::Fusion Cnn::fusion_for(int64_t sample_values) const {
  if (fused_blocks_ == 0 || sample_values < fused_min_sample_values_) return {};
  return {fused_blocks_, fused_chunk_samples_, fused_max_piece_bytes_};
}

torch::Tensor Cnn::forward(torch::Tensor input) {
  PoolStack unused;
  // Fused blocks are a CPU implementation (on GPUs cuDNN and autocast run the layers).
  const int64_t sample_values = input.size(0) > 0 ? input.numel() / input.size(0) : 0;
  const Fusion fusion = input.device().is_cpu() ? fusion_for(sample_values) : Fusion{};
  if (fusion.blocks == 0) {
    return run_sequential(fc_, run_sequential(convolutions_, input, unused), unused);
  }
  auto x = std::move(input);
  ConvBlockLayers block;
  for (int b = 0; b < fusion.blocks; ++b) {
    CDL_CHECK(match_conv_block(convolutions_, 4 * b, block), "fused block ", b, " changed");
    x = fused_conv_block(x, block, fusion.chunk_samples, fusion.max_piece_bytes);
  }
  for (auto layer = convolutions_->begin() + 4 * fusion.blocks; layer != convolutions_->end();
       ++layer) {
    x = apply_layer(*layer, x, unused);
  }
  return run_sequential(fc_, x, unused);
}

int Cnn::fusable_blocks() const {
  ConvBlockLayers block;
  int blocks = 0;
  while (match_conv_block(convolutions_, 4 * blocks, block)) {
    ++blocks;
  }
  return blocks;
}

void Cnn::set_fused_blocks(int blocks, int64_t chunk_samples, int64_t max_piece_bytes) {
  const int available = fusable_blocks();
  if (blocks < 0 || blocks > available) {
    CDL_THROW(ConfigError, "cannot fuse ", blocks, " convolution blocks of ", architecture(),
              ": its trunk starts with ", available,
              " Conv-BatchNorm-ReLU-PadMaxPool blocks (expected 0..", available, ")");
  }
  fused_blocks_ = blocks;
  fused_chunk_samples_ = chunk_samples;
  fused_max_piece_bytes_ = max_piece_bytes;
  fused_min_sample_values_ = 0;
}

void Cnn::use_training_fusion(bool memory_saving) {
  constexpr int64_t kMegabyte = int64_t{1} << 20;
  // Two blocks one sample at a time is both faster and leaner than the first block two samples
  // at a time (bench/conv_block_bench), so it is the one fusion.
  set_fused_blocks(std::min(fusable_blocks(), 2), 1, 48 * kMegabyte);
  // Below about 2 million values per sample (96x112x96 images, patches) the separate layers are
  // faster with LibTorch 2.x and their memory is small; --memory_saving fuses them all the same.
  fused_min_sample_values_ = memory_saving ? 0 : int64_t{1} << 21;
}

std::vector<Stage> Cnn::stages() const {
  return {{"convolutions", convolutions_}, {"fc", fc_}};
}

AutoEncoder::AutoEncoder(std::string architecture, torch::nn::Sequential encoder,
                         torch::nn::Sequential decoder)
    : Network(std::move(architecture)) {
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", std::move(decoder));
}

torch::Tensor AutoEncoder::forward(torch::Tensor input) {
  PoolStack stack;
  return run_sequential(decoder_, run_sequential(encoder_, input, stack), stack);
}

std::vector<Stage> AutoEncoder::stages() const {
  return {{"encoder", encoder_}, {"decoder", decoder_}};
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters()) total += parameter.numel();
  return total;
}

std::vector<LayerRecord> trace_layers(Network& network, const InputSize& input_size) {
  torch::NoGradGuard no_grad;
  network.eval();
  // A batch of no sample: every layer computes its output shape and allocates nothing, so huge
  // inputs are traced (and refused by the memory bound) without the memory they would need.
  auto x = torch::zeros(input_size.batch_shape(0));
  PoolStack stack;
  std::vector<LayerRecord> records;
  for (auto& [stage_name, sequential] : network.stages()) {
    int64_t index = 0;
    for (auto& layer : *sequential) {
      const auto name = stage_name + "." + sequential->named_children()[index].key();
      try {
        x = apply_layer(layer, x, stack);
      } catch (const c10::Error& error) {
        CDL_THROW(ConfigError, "input size ", input_size.to_string(), " does not fit ",
                  network.architecture(), " at layer ", name, ": ", error.what_without_backtrace());
      }
      auto shape = x.sizes().vec();
      shape.erase(shape.begin());
      records.push_back({name, describe(*layer.ptr()), shape, count_parameters(*layer.ptr())});
      ++index;
    }
  }
  return records;
}

int64_t kept_values_per_sample(const Network& network, const std::vector<LayerRecord>& records,
                               const InputSize& input_size, bool on_cpu) {
  int64_t values = product(input_size.sample_shape());
  const auto* cnn = dynamic_cast<const Cnn*>(&network);
  const size_t fused_layers = on_cpu && cnn != nullptr ? 4 * cnn->fusion_for(values).blocks : 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const bool inside_fused_block = i < fused_layers && i % 4 != 3;  // a block ends with its pool
    if (!inside_fused_block) values += product(records[i].output_shape);
  }
  return values;
}

}  // namespace cdl::model
