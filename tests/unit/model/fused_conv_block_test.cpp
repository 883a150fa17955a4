// The fused, chunked Conv-BatchNorm-ReLU-PadMaxPool block against the separate layers: outputs,
// running statistics, batch counter and every gradient (input, conv weight and bias, BatchNorm
// weight and bias), in training and evaluation mode, 2-d and 3-d, odd sizes (PadMaxPool pads),
// negative BatchNorm weights (pooling of -y), whole-batch and one-sample chunks, slabs along the
// last axis (halos, a first slab that starts in the pooling pad, an uneven last slab); then the
// whole of Conv5_FC3 with its five blocks fused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "cdl/core/error.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/fused_conv_block.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/model/network.hpp"

namespace cdl::model {
namespace {

/// Conv(in -> out, k3 p1) + BatchNorm + ReLU + PadMaxPool(2, 2), parameters randomised, with
/// BatchNorm weights of both signs (one small) so that both pooling branches are exercised. (A
/// weight of exactly 0 makes every window a tie: the separate layers then send its gradient to the
/// window's first voxel, the fused block to its largest y, the limit from gamma > 0; both are
/// subgradients, only that weight's gradient differs.)
torch::nn::Sequential make_block(int dimension, int64_t in, int64_t out, uint64_t seed) {
  torch::manual_seed(seed);
  torch::nn::Sequential block;
  block->push_back(conv(dimension, in, out, 3, 1, 1));
  block->push_back(batch_norm(dimension, out));
  block->push_back(torch::nn::ReLU());
  block->push_back(pad_max_pool(dimension, 2, 2));
  torch::NoGradGuard no_grad;
  auto parameters = block->named_parameters();
  parameters["1.weight"].copy_(torch::randn({out}));
  parameters["1.weight"][0] = -0.01;
  parameters["1.bias"].copy_(torch::randn({out}) * 0.5);
  return block;
}

torch::nn::Sequential copy_of(const torch::nn::Sequential& block) {
  auto copy = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(block->clone());
  return torch::nn::Sequential(copy);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  EXPECT_LE((actual - expected).abs().max().item<double>(), tolerance * scale) << what;
}

struct BlockRun {
  torch::Tensor output, input_grad;
  std::map<std::string, torch::Tensor> grads, buffers;
};

/// Forward in training mode, then backward of sum(output * probe).
BlockRun run(torch::nn::Sequential block, const torch::Tensor& input, const torch::Tensor& probe,
             int64_t chunk /* < 0: the separate layers */, int64_t max_piece_bytes) {
  BlockRun result;
  auto x = input.clone().requires_grad_(true);
  block->train();
  if (chunk < 0) {
    result.output = block->forward(x);
  } else {
    ConvBlockLayers layers;
    EXPECT_TRUE(match_conv_block(block, 0, layers));
    result.output = fused_conv_block(x, layers, chunk, max_piece_bytes);
  }
  (result.output * probe).sum().backward();
  result.input_grad = x.grad();
  for (const auto& p : block->named_parameters()) result.grads[p.key()] = p.value().grad();
  for (const auto& b : block->named_buffers()) result.buffers[b.key()] = b.value().clone();
  return result;
}

void expect_same_block(int dimension, std::vector<int64_t> input_shape, int64_t chunk,
                       int64_t max_piece_bytes = 0) {
  auto reference = make_block(dimension, input_shape[1], 6, 11);
  auto fused = copy_of(reference);
  torch::manual_seed(5);
  auto input = torch::randn(input_shape);
  torch::Tensor probe;
  {
    torch::NoGradGuard no_grad;
    reference->eval();  // leaves the running statistics alone
    probe = torch::randn(reference->forward(input).sizes());
  }
  auto expected = run(reference, input, probe, -1, 0);
  auto actual = run(fused, input, probe, chunk, max_piece_bytes);
  const std::string where = std::to_string(dimension) + "-d, chunk " + std::to_string(chunk) +
                            ", pieces of at most " + std::to_string(max_piece_bytes) + " bytes";
  expect_close(actual.output, expected.output, 1e-5, "output " + where);
  expect_close(actual.input_grad, expected.input_grad, 1e-4, "input gradient " + where);
  for (const auto& [name, grad] : expected.grads) {
    if (name == "0.bias") continue;
    expect_close(actual.grads.at(name), grad, 1e-4, name + " gradient " + where);
  }
  // BatchNorm removes any constant the convolution adds: the conv bias gradient is exactly 0, and
  // both results are rounding noise of sums over every voxel (small next to the weight gradient).
  const double weight_scale = expected.grads.at("0.weight").abs().max().item<double>();
  EXPECT_LE(actual.grads.at("0.bias").abs().max().item<double>(), 1e-4 * weight_scale) << where;
  EXPECT_LE(expected.grads.at("0.bias").abs().max().item<double>(), 1e-4 * weight_scale) << where;
  for (const auto& [name, buffer] : expected.buffers) {
    expect_close(actual.buffers.at(name).to(torch::kFloat64), buffer.to(torch::kFloat64), 1e-5,
                 name + " " + where);
  }

  // Evaluation mode with the running statistics both runs left, without and with gradients.
  reference->eval();
  fused->eval();
  ConvBlockLayers layers;
  ASSERT_TRUE(match_conv_block(fused, 0, layers));
  auto with_grad = input.clone().requires_grad_(true);
  auto evaluated = fused_conv_block(with_grad, layers, chunk, max_piece_bytes);
  EXPECT_TRUE(evaluated.requires_grad()) << where;
  torch::NoGradGuard no_grad;
  expect_close(evaluated, reference->forward(input), 1e-5, "evaluation with gradients " + where);
  expect_close(fused_conv_block(input, layers, chunk, max_piece_bytes), reference->forward(input),
               1e-5, "evaluation " + where);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dOddSizesWholeBatch) {
  expect_same_block(3, {3, 2, 7, 6, 5}, 0);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dTwoSampleChunks) {
  expect_same_block(3, {3, 2, 7, 6, 5}, 2);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dOneSampleChunks) {
  // 161 x 129 > 20480 values per sample in (C, D, H): one-sample chunks are kept as asked.
  expect_same_block(3, {3, 1, 161, 129, 3}, 1);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dUnevenChunks) {
  expect_same_block(3, {5, 1, 6, 9, 4}, 2);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers2d) {
  expect_same_block(2, {4, 3, 9, 8}, 1);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dSlabsOfOnePooledRow) {
  // Last axis 9 (odd): pooling pads one row before it, 5 pooled rows, one slab each.
  expect_same_block(3, {3, 2, 7, 6, 9}, 2, /*max_piece_bytes=*/1);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers3dSlabsOfTwoPooledRowsUnevenLast) {
  // One pooled row of 2 samples: 2 samples x 2 rows x 6 channels x 5 x 6 x 4 bytes = 2880; a
  // budget of 6000 gives slabs of 2 pooled rows: 2 + 2 + 1 over the last axis of 10.
  expect_same_block(3, {2, 2, 5, 6, 10}, 0, /*max_piece_bytes=*/6000);
}

TEST(FusedConvBlockTest, EqualsSeparateLayers2dOneSampleSlabs) {
  expect_same_block(2, {4, 3, 9, 7}, 1, /*max_piece_bytes=*/1);
}

TEST(FusedConvBlockTest, BatchStatisticsStayAccurateWhenTheMeanDwarfsTheSpread) {
  // A convolution bias of 1000: each channel's convolution output has a mean nearly two thousand
  // times its standard deviation (~0.6), where the variance as E[y^2] - E[y]^2 in float would be
  // off by more than itself. Against the separate layers in float64, in slabs.
  auto reference = make_block(3, 1, 4, 3);
  {
    torch::NoGradGuard no_grad;
    reference->named_parameters()["0.bias"].fill_(1000.0);
  }
  auto fused = copy_of(reference);
  reference->to(torch::kFloat64);
  torch::manual_seed(8);
  const auto input = torch::randn({2, 1, 9, 10, 11});
  const auto probe = torch::randn({2, 4, 5, 5, 6});
  const auto expected = run(reference, input.to(torch::kFloat64), probe.to(torch::kFloat64), -1, 0);
  const auto actual = run(fused, input, probe, 0, /*max_piece_bytes=*/2000);
  const auto& running_var = expected.buffers.at("1.running_var");
  const auto variance_error =
      ((actual.buffers.at("1.running_var").to(torch::kFloat64) - running_var) / running_var)
          .abs()
          .max()
          .item<double>();
  EXPECT_LE(variance_error, 1e-4);
  const auto& running_mean = expected.buffers.at("1.running_mean");
  EXPECT_LE(
      ((actual.buffers.at("1.running_mean").to(torch::kFloat64) - running_mean) / running_mean)
          .abs()
          .max()
          .item<double>(),
      1e-6);
  // The output is y normalised by a standard deviation of about 0.6: float's rounding of
  // y ~ 1000 alone moves it by ~1e-4.
  expect_close(actual.output.to(torch::kFloat64), expected.output, 1e-3, "output");
}

TEST(FusedConvBlockTest, RecognisesOnlyConvBatchNormReluPool) {
  auto block = make_block(3, 1, 4, 1);
  ConvBlockLayers layers;
  EXPECT_TRUE(match_conv_block(block, 0, layers));
  EXPECT_FALSE(match_conv_block(block, 1, layers));  // starts at the BatchNorm
  torch::nn::Sequential strided;
  strided->push_back(conv(3, 1, 4, 3, 2, 1));
  strided->push_back(batch_norm(3, 4));
  strided->push_back(torch::nn::ReLU());
  EXPECT_FALSE(match_conv_block(strided, 0, layers));  // no pooling layer
  torch::nn::Sequential leaky;
  leaky->push_back(conv(3, 1, 4, 3, 1, 1));
  leaky->push_back(batch_norm(3, 4));
  leaky->push_back(torch::nn::LeakyReLU());
  leaky->push_back(pad_max_pool(3, 2, 2));
  EXPECT_FALSE(match_conv_block(leaky, 0, layers));  // not monotone-then-zero: not fused
}

TEST(FusedConvBlockTest, CnnFusesOnlyItsLeadingBlocks) {
  NetworkOptions options;
  options.input_size = parse_input_size("1@32x40x32");
  auto conv5 = std::dynamic_pointer_cast<Cnn>(builtin_registry().create("Conv5_FC3", options));
  ASSERT_TRUE(conv5);
  EXPECT_EQ(conv5->fusable_blocks(), 5);
  EXPECT_THROW(conv5->set_fused_blocks(6, 1), ConfigError);
  auto strided =
      std::dynamic_pointer_cast<Cnn>(builtin_registry().create("Stride_Conv5_FC3", options));
  ASSERT_TRUE(strided);
  EXPECT_EQ(strided->fusable_blocks(), 0);
  EXPECT_THROW(strided->set_fused_blocks(1, 1), ConfigError);
}

TEST(FusedConvBlockTest, TrainingFusionPicksTwoBlocksForImagesAndNoneForSmallInputs) {
  NetworkOptions options;
  options.input_size = parse_input_size("1@32x40x32");
  auto conv5 = std::dynamic_pointer_cast<Cnn>(builtin_registry().create("Conv5_FC3", options));
  ASSERT_TRUE(conv5);
  EXPECT_EQ(conv5->fusion_for(169 * 208 * 179).blocks, 0) << "nothing fused before it is asked";
  conv5->use_training_fusion(/*memory_saving=*/false);
  const auto image = conv5->fusion_for(169 * 208 * 179);  // a t1-linear image
  EXPECT_EQ(image.blocks, 2);
  EXPECT_EQ(image.chunk_samples, 1);
  EXPECT_EQ(image.max_piece_bytes, 48 << 20);
  EXPECT_EQ(conv5->fusion_for(int64_t{1} << 21).blocks, 2);
  EXPECT_EQ(conv5->fusion_for((int64_t{1} << 21) - 1).blocks, 0);  // patches: separate layers
  EXPECT_EQ(conv5->fusion_for(50 * 50 * 50).blocks, 0);
  conv5->use_training_fusion(/*memory_saving=*/true);
  EXPECT_EQ(conv5->fusion_for(50 * 50 * 50).blocks, 2);  // fused whatever the size
}

/// Conv5_FC3 on 1@32x40x32 (odd halvings: 16x20x16 -> ... -> 1x2x1), batch 3: one training step's
/// loss gradient and the running statistics with all five blocks fused equal the plain network's.
/// One training step and an evaluation of Conv5_FC3 with `configure` applied against the separate
/// layers: every gradient, every buffer, the evaluation logits.
template <typename Configure>
void expect_conv5_step_unchanged(Configure configure) {
  NetworkOptions options;
  options.input_size = parse_input_size("1@32x40x32");
  torch::manual_seed(2);
  auto plain = std::dynamic_pointer_cast<Cnn>(builtin_registry().create("Conv5_FC3", options));
  auto fused = std::dynamic_pointer_cast<Cnn>(builtin_registry().create("Conv5_FC3", options));
  {
    torch::NoGradGuard no_grad;
    auto from = plain->named_parameters();
    for (auto& p : fused->named_parameters()) p.value().copy_(from[p.key()]);
  }
  configure(*fused);
  auto input = torch::randn({3, 1, 32, 40, 32});
  auto target = torch::tensor({0, 1, 1}, torch::kInt64);
  for (auto& network : {plain, fused}) {
    network->train();
    torch::nn::functional::cross_entropy(network->forward(input), target).backward();
  }
  auto expected = plain->named_parameters();
  for (const auto& p : fused->named_parameters()) {
    expect_close(p.value().grad(), expected[p.key()].grad(), 1e-4, p.key() + " gradient");
  }
  auto expected_buffers = plain->named_buffers();
  for (const auto& b : fused->named_buffers()) {
    expect_close(b.value().to(torch::kFloat64), expected_buffers[b.key()].to(torch::kFloat64), 1e-5,
                 b.key());
  }
  plain->eval();
  fused->eval();
  torch::NoGradGuard no_grad;
  expect_close(fused->forward(input), plain->forward(input), 1e-5, "evaluation logits");
}

TEST(FusedConvBlockTest, Conv5Fc3TrainingStepEqualsUnfused) {
  expect_conv5_step_unchanged([](Cnn& network) { network.set_fused_blocks(5, 1); });
}

TEST(FusedConvBlockTest, Conv5Fc3TrainingStepEqualsUnfusedInSlabs) {
  // 20 KB of convolution output per slab of 2 samples: blocks 1 to 4 (8 x 32 x 40 ... 64 x 4 x 5
  // values per output row) in slabs of one pooled row, block 5 (one pooled row) whole.
  expect_conv5_step_unchanged([](Cnn& network) { network.set_fused_blocks(5, 2, 20 * 1024); });
}

TEST(FusedConvBlockTest, TrainingFusionsEqualUnfused) {
  expect_conv5_step_unchanged([](Cnn& network) { network.use_training_fusion(false); });
  expect_conv5_step_unchanged([](Cnn& network) { network.use_training_fusion(true); });
}

}  // namespace
}  // namespace cdl::model
