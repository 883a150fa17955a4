// RandomArchitecture: the network ClinicaDL's random search builds from a description, checked
// against shapes, widths and parameter counts derived by hand from ClinicaDL's construction.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "cdl/core/error.hpp"
#include "cdl/model/architectures/random_architecture.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::model {
namespace {

/// conv0: 2 convolutions, MaxPooling, 8 channels; conv1: 1 convolution, stride, 16 channels.
nlohmann::ordered_json two_blocks() {
  return nlohmann::ordered_json::parse(R"({
    "conv0": {"in_channels": null, "out_channels": 8, "n_conv": 2, "d_reduction": "MaxPooling"},
    "conv1": {"in_channels": 8, "out_channels": 16, "n_conv": 1, "d_reduction": "stride"}})");
}

NetworkPtr build(const RandomArchitectureSpec& spec, const std::string& size, int64_t outputs) {
  NetworkOptions options;
  options.input_size = parse_input_size(size);
  options.output_size = outputs;
  options.random_architecture = std::make_shared<RandomArchitectureSpec>(spec);
  return builtin_registry().create("RandomArchitecture", options);
}

// 32x40x32 halved twice (pooling, then stride 2): 8x10x8 x 16 channels = 10240 features;
// ratio sqrt(10240 / 2) = 71.554...: 10240 -> round(143.108) = 143 -> 2.
TEST(RandomArchitecture, FullyConnectedWidthsNarrowGeometrically) {
  const auto spec = random_architecture_from_json(two_blocks(), 2, "BatchNorm", "test");
  EXPECT_EQ(random_fc_widths(spec, parse_input_size("1@32x40x32"), 2),
            (std::vector<int64_t>{10240, 143, 2}));
  // One block: straight to the output; regression has one output.
  auto one = spec;
  one.n_fcblocks = 1;
  EXPECT_EQ(random_fc_widths(one, parse_input_size("1@32x40x32"), 1),
            (std::vector<int64_t>{10240, 1}));
  // 2D: 3@25x31 -> 7x8 after two halvings (rounding up) x 16 = 896; ratio 896^(1/3) = 9.64...
  one.n_fcblocks = 3;
  EXPECT_EQ(random_fc_widths(one, parse_input_size("3@25x31"), 1),
            (std::vector<int64_t>{896, 93, 10, 1}));
}

// Parameters by hand: conv0.0 Conv(1->1) 27+1, BN(1) 2, conv0.3 Conv(1->8) 216+8, BN(8) 16,
// conv1.0 Conv(8->16) 3456+16, BN(16) 32, FC0 10240*143+143, FC1 143*2+2.
TEST(RandomArchitecture, ModulesParametersAndOutputAreClinicaDLs) {
  const auto spec = random_architecture_from_json(two_blocks(), 2, "BatchNorm", "test");
  auto network = build(spec, "1@32x40x32", 2);
  EXPECT_EQ(count_parameters(*network), 28 + 2 + 224 + 16 + 3472 + 32 + 1464463 + 288);
  std::set<std::string> keys;
  for (const auto& p : network->named_parameters()) keys.insert(p.key());
  for (const char* key :
       {"convolutions.conv0.0.weight", "convolutions.conv0.1.weight", "convolutions.conv0.3.bias",
        "convolutions.conv0.4.bias", "convolutions.conv1.0.weight", "convolutions.conv1.1.weight",
        "fc.FC0.0.weight", "fc.FC1.0.bias"}) {
    EXPECT_EQ(keys.count(key), 1u) << key;
  }
  network->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(network->forward(torch::rand({3, 1, 32, 40, 32})).sizes().vec(),
            (std::vector<int64_t>{3, 2}));
  const auto records = trace_layers(*network, parse_input_size("1@32x40x32"));
  EXPECT_EQ(records.front().output_shape, (std::vector<int64_t>{8, 16, 20, 16}));  // conv0
}

TEST(RandomArchitecture, ParametersAreCountedBeforeBuildingAndHugeOnesRefused) {
  const auto spec = random_architecture_from_json(two_blocks(), 2, "BatchNorm", "test");
  EXPECT_EQ(random_architecture_parameters(spec, parse_input_size("1@32x40x32"), 2), 1468525);
  auto huge = two_blocks();
  huge["conv0"]["out_channels"] = 1 << 20;
  huge["conv1"]["in_channels"] = 1 << 20;
  huge["conv1"]["out_channels"] = 1 << 20;  // 2^40 x 27 weights in conv1
  try {
    build(random_architecture_from_json(huge, 2, "BatchNorm", "test"), "1@32x40x32", 2);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("parameters"), std::string::npos) << error.what();
  }
  huge["conv1"]["out_channels"] = (1 << 20) + 1;
  EXPECT_THROW(random_architecture_from_json(huge, 2, "BatchNorm", "test"), ConfigError);
}

TEST(RandomArchitecture, NormalisationLayersFollowTheDescription) {
  auto spec = random_architecture_from_json(two_blocks(), 2, nullptr, "test");
  EXPECT_EQ(spec.normalization, "None");
  // Without normalisation: the BatchNorm parameters (2 + 16 + 32) are gone.
  EXPECT_EQ(count_parameters(*build(spec, "1@32x40x32", 2)), 1468525 - 50);
  spec.normalization = "InstanceNorm";  // PyTorch's default: no affine parameters
  auto network = build(spec, "1@32x40x32", 2);
  EXPECT_EQ(count_parameters(*network), 1468525 - 50);
  const auto conv0 = trace_layers(*network, parse_input_size("1@32x40x32")).front();
  EXPECT_NE(conv0.description.find("InstanceNorm3d"), std::string::npos) << conv0.description;
}

TEST(RandomArchitecture, DescriptionRoundTripsThroughJson) {
  const auto spec = random_architecture_from_json(two_blocks(), 2, "BatchNorm", "test");
  EXPECT_EQ(convolutions_to_json(spec), two_blocks());
}

void expect_refused(const nlohmann::ordered_json& convolutions, int64_t blocks,
                    const nlohmann::json& normalization, const std::string& expected) {
  try {
    random_architecture_from_json(convolutions, blocks, normalization, "maps.json");
    ADD_FAILURE() << "expected a ConfigError mentioning " << expected;
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
}

TEST(RandomArchitecture, MalformedDescriptionsAreNamed) {
  auto broken = two_blocks();
  broken["conv1"]["in_channels"] = 4;
  expect_refused(broken, 2, "BatchNorm", "conv1.in_channels is 4; expected 8");
  broken = two_blocks();
  broken.erase("conv0");
  broken["conv2"] = two_blocks()["conv0"];
  expect_refused(broken, 2, "BatchNorm", "no 'conv0'");
  broken = two_blocks();
  broken["conv0"]["d_reduction"] = "AvgPooling";
  expect_refused(broken, 2, "BatchNorm", "conv0.d_reduction is \"AvgPooling\"");
  broken = two_blocks();
  broken["conv0"]["out_channels"] = 0;
  expect_refused(broken, 2, "BatchNorm", "conv0.out_channels is 0; expected a positive integer");
  expect_refused(two_blocks(), 0, "BatchNorm", "n_fcblocks is 0");
  expect_refused(two_blocks(), 2, "GroupNorm", "network_normalization is \"GroupNorm\"");
  expect_refused(nlohmann::ordered_json::object(), 2, "BatchNorm", "convolutions_dict is {}");
}

TEST(RandomArchitecture, NeedsItsDescription) {
  NetworkOptions options;
  options.input_size = parse_input_size("1@32x40x32");
  EXPECT_THROW(builtin_registry().create("RandomArchitecture", options), ConfigError);
}

}  // namespace
}  // namespace cdl::model
