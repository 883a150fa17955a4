// Every architecture: parameter counts (known values, hand-derived where ClinicaDL's reference
// gives none), output shapes, state-dict key names and the layer trace.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "cdl/core/error.hpp"
#include "cdl/model/architectures/random_architecture.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::model {
namespace {

NetworkPtr build(const std::string& name, const std::string& size, int64_t outputs = 2) {
  NetworkOptions options;
  options.input_size = parse_input_size(size);
  options.output_size = outputs;
  // RandomArchitecture is built from a description; the other architectures ignore it.
  auto spec = std::make_shared<RandomArchitectureSpec>();
  spec->convolutions = {{-1, 8, 2, "MaxPooling"}, {8, 16, 1, "stride"}};
  spec->n_fcblocks = 2;
  options.random_architecture = spec;
  return builtin_registry().create(name, options);
}

int64_t params(const std::string& name, const std::string& size) {
  return count_parameters(*build(name, size));
}

std::set<std::string> state_keys(const Network& network) {
  std::set<std::string> keys;
  for (const auto& p : network.named_parameters()) keys.insert(p.key());
  for (const auto& b : network.named_buffers()) keys.insert(b.key());
  return keys;
}

std::vector<int64_t> output_shape(const std::string& name, const std::string& size,
                                  int64_t batch = 2) {
  auto network = build(name, size);
  network->eval();
  torch::NoGradGuard no_grad;
  auto input = torch::rand(parse_input_size(size).batch_shape(batch));
  return network->forward(input).sizes().vec();
}

TEST(ParameterCountTest, ReferenceValuesFromClinicaDL) {
  EXPECT_EQ(params("Conv5_FC3", "1@169x208x179"), 42293972);
  EXPECT_EQ(params("Conv5_FC3", "1@50x50x50"), 1692372);
  EXPECT_EQ(params("Conv5_FC3", "3@208x179"), 7154132);
  EXPECT_EQ(params("AE_Conv5_FC3", "1@169x208x179"), 589059);
}

TEST(ParameterCountTest, HandDerivedValues) {
  // Conv4_FC3: trunk 294,720 + FC 32256*50+50 + 50*40+40 + 40*2+2 = 1,614,972.
  EXPECT_EQ(params("Conv4_FC3", "1@169x208x179"), 1909692);
  // Stride_Conv5_FC3: same trunk parameters and flattened size as Conv5_FC3.
  EXPECT_EQ(params("Stride_Conv5_FC3", "1@169x208x179"), 42293972);
  // AE_Conv4_FC3 is identical to AE_Conv5_FC3.
  EXPECT_EQ(params("AE_Conv4_FC3", "1@32x40x32"), 589059);
  // ResNet3D: blocks 1,984 + 10,560 + 42,112 + 168,192 + 672,256 = 895,104;
  // head 10240*256+256 + 256*2+2 = 2,622,210.
  EXPECT_EQ(params("ResNet3D", "1@169x208x179"), 3517314);
  // SE blocks add 25 + 82 + 292 + 1,096 + 4,240 = 5,735.
  EXPECT_EQ(params("SqueezeExcitationCNN", "1@169x208x179"), 3523049);
  // torchvision resnet18 (11,689,512) + fc_out 1000*2+2.
  EXPECT_EQ(params("resnet18", "3@208x179"), 11691514);
  // CAE_half at 1@80x96x80, latent 128: encoder 277,792 + 153600*128+128; decoder
  // 128*307200+307200 + 884,736+256 + 221,184+128 + 1,728+2.
  EXPECT_EQ(params("CAE_half", "1@80x96x80"), 60675554);
}

TEST(OutputShapeTest, CnnsGiveOneRowPerSample) {
  EXPECT_EQ(output_shape("Conv5_FC3", "1@32x40x32"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("Conv5_FC3", "1@64x64"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("Conv4_FC3", "2@33x17x9"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("Stride_Conv5_FC3", "1@31x40x33"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("ResNet3D", "1@63x70x64"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("SqueezeExcitationCNN", "1@63x64x65"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(output_shape("resnet18", "3@64x50"), (std::vector<int64_t>{2, 2}));
  auto regression = build("Conv5_FC3", "1@32x40x32", 1);
  EXPECT_EQ(regression->forward(torch::rand({3, 1, 32, 40, 32})).sizes().vec(),
            (std::vector<int64_t>{3, 1}));
}

TEST(OutputShapeTest, AutoencodersReconstructTheInputShape) {
  for (const auto& size : {"1@33x41x31", "1@32x40x32", "2@17x9x12"}) {
    const auto input = parse_input_size(size).batch_shape(2);
    EXPECT_EQ(output_shape("AE_Conv5_FC3", size), input) << size;
    EXPECT_EQ(output_shape("AE_Conv4_FC3", size), input) << size;
  }
  EXPECT_EQ(output_shape("AE_Conv5_FC3", "1@37x29"), parse_input_size("1@37x29").batch_shape(2));
  EXPECT_EQ(output_shape("CAE_half", "1@16x24x16"), parse_input_size("1@16x24x16").batch_shape(2));
}

TEST(OutputShapeTest, TooSmallOrWrongDimensionInputsAreConfigErrors) {
  EXPECT_THROW(build("ResNet3D", "1@62x100x100"), ConfigError);
  EXPECT_THROW(build("ResNet3D", "1@100x100"), ConfigError);
  EXPECT_THROW(build("resnet18", "3@64x64x64"), ConfigError);
  EXPECT_THROW(build("CAE_half", "1@81x96x80"), ConfigError);
}

TEST(StateDictTest, Conv5Fc3KeysMatchClinicaDL) {
  const auto keys = state_keys(*build("Conv5_FC3", "1@32x40x32"));
  std::set<std::string> expected;
  for (int conv : {0, 4, 8, 12, 16}) {
    for (const char* p : {"weight", "bias"})
      expected.insert("convolutions." + std::to_string(conv) + "." + p);
    for (const char* p : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}) {
      expected.insert("convolutions." + std::to_string(conv + 1) + "." + p);
    }
  }
  for (int fc : {2, 4, 6}) {
    for (const char* p : {"weight", "bias"}) expected.insert("fc." + std::to_string(fc) + "." + p);
  }
  EXPECT_EQ(keys, expected);
}

TEST(StateDictTest, ResidualAndAutoencoderKeys) {
  const auto resnet = state_keys(*build("ResNet3D", "1@63x63x63"));
  for (const char* key : {"convolutions.0.0.conv1.weight", "convolutions.0.0.bn1.running_var",
                          "convolutions.4.0.shortcut.0.weight", "fc.1.weight", "fc.4.bias"}) {
    EXPECT_TRUE(resnet.count(key)) << key;
  }
  EXPECT_TRUE(state_keys(*build("SqueezeExcitationCNN", "1@63x63x63"))
                  .count("convolutions.2.0.se_block.fc1.weight"));
  const auto resnet18 = state_keys(*build("resnet18", "3@64x64"));
  for (const char* key :
       {"convolutions.0.weight", "convolutions.4.0.conv1.weight",
        "convolutions.5.0.downsample.0.weight", "convolutions.5.0.downsample.1.running_mean",
        "fc.1.weight", "fc.fc_out.weight"}) {
    EXPECT_TRUE(resnet18.count(key)) << key;
  }
  const auto cae = state_keys(*build("CAE_half", "1@16x16x16"));
  for (const char* key : {"encoder.0.layer.0.weight", "encoder.2.layer.1.running_mean",
                          "encoder.4.weight", "decoder.0.weight", "decoder.4.layer.0.weight"}) {
    EXPECT_TRUE(cae.count(key)) << key;
  }
}

TEST(AutoEncoderTest, Decoder3dMatchesClinicaDLLayerList) {
  auto network = std::static_pointer_cast<AutoEncoder>(build("AE_Conv5_FC3", "1@32x40x32"));
  auto params = network->named_parameters();
  // decoder: 0 Unpool, 1 ConvT(128->64), 2 BN(64), 3 ReLU, ..., 17 ConvT(8->1), 18 BN(1), 19 ReLU.
  EXPECT_EQ(params["decoder.1.weight"].sizes().vec(), (std::vector<int64_t>{128, 64, 3, 3, 3}));
  EXPECT_EQ(params["decoder.2.weight"].size(0), 64);
  EXPECT_EQ(params["decoder.17.weight"].sizes().vec(), (std::vector<int64_t>{8, 1, 3, 3, 3}));
  EXPECT_EQ(params["decoder.18.weight"].size(0), 1);
  EXPECT_EQ(network->decoder()->size(), 20u);
  // The 3D output ends with BatchNorm + ReLU: never negative.
  EXPECT_GE(network->forward(torch::randn({2, 1, 32, 40, 32})).min().item<float>(), 0.0f);
}

TEST(AutoEncoderTest, Decoder2dKeepsClinicaDLOrder) {
  auto network = std::static_pointer_cast<AutoEncoder>(build("AE_Conv5_FC3", "1@64x64"));
  auto params = network->named_parameters();
  // 2D decoder blocks: Unpool, ReLU, BN(out), ConvT(out->in); ends with a bare ConvT(8->1).
  EXPECT_EQ(params["decoder.2.weight"].size(0), 128);
  EXPECT_EQ(params["decoder.3.weight"].sizes().vec(), (std::vector<int64_t>{128, 64, 3, 3}));
  EXPECT_EQ(params["decoder.19.weight"].sizes().vec(), (std::vector<int64_t>{8, 1, 3, 3}));
}

TEST(TraceLayersTest, Conv5Fc3ShapesAtFullResolution) {
  auto network = build("Conv5_FC3", "1@169x208x179");
  const auto records = trace_layers(*network, parse_input_size("1@169x208x179"));
  ASSERT_EQ(records.size(), 27u);
  EXPECT_EQ(records[3].name, "convolutions.3");
  EXPECT_EQ(records[3].output_shape, (std::vector<int64_t>{8, 85, 104, 90}));
  EXPECT_EQ(records[7].output_shape, (std::vector<int64_t>{16, 43, 52, 45}));
  EXPECT_EQ(records[11].output_shape, (std::vector<int64_t>{32, 22, 26, 23}));
  EXPECT_EQ(records[15].output_shape, (std::vector<int64_t>{64, 11, 13, 12}));
  EXPECT_EQ(records[19].output_shape, (std::vector<int64_t>{128, 6, 7, 6}));
  EXPECT_EQ(records[20].output_shape, (std::vector<int64_t>{32256}));
  EXPECT_EQ(records[26].name, "fc.6");
  int64_t total = 0;
  for (const auto& r : records) total += r.parameters;
  EXPECT_EQ(total, 42293972);
}

// The trace runs a batch of no sample: its shapes must be those of a real forward pass, for every
// architecture (3D ones at a quarter of a t1-linear image, to keep the test short).
TEST(TraceLayersTest, EmptyBatchTraceEndsWithTheForwardPassShape) {
  for (const auto& name : builtin_registry().names()) {
    const auto& info = builtin_registry().get(name);
    const auto size =
        parse_input_size(info.example_input).dimension() == 3 ? "1@80x96x80" : info.example_input;
    auto network = build(name, size);
    const auto records = trace_layers(*network, parse_input_size(size));
    ASSERT_FALSE(records.empty()) << name;
    auto expected = output_shape(name, size, 1);
    expected.erase(expected.begin());
    EXPECT_EQ(records.back().output_shape, expected) << name;
    for (const auto& record : records) {
      for (const int64_t length : record.output_shape)
        EXPECT_GT(length, 0) << name << " " << record.name;
    }
  }
}

// Kept values of Conv5_FC3 at full resolution: the input plus every layer output, less the
// convolution, normalisation and ReLU maps of the two blocks computed fused on the CPU.
TEST(TraceLayersTest, KeptValuesLeaveOutTheMapsInsideFusedBlocks) {
  auto network = build("Conv5_FC3", "1@169x208x179");
  const auto input = parse_input_size("1@169x208x179");
  const auto records = trace_layers(*network, input);
  int64_t all = 169 * 208 * 179;
  for (const auto& record : records) all += product(record.output_shape);
  EXPECT_EQ(kept_values_per_sample(*network, records, input, true), all);  // nothing fused yet
  std::static_pointer_cast<Cnn>(network)->use_training_fusion(false);
  EXPECT_EQ(kept_values_per_sample(*network, records, input, false), all);  // GPUs never fuse
  const int64_t block1_map = int64_t{8} * 169 * 208 * 179;
  const int64_t block2_map = int64_t{16} * 85 * 104 * 90;
  EXPECT_EQ(kept_values_per_sample(*network, records, input, true),
            all - 3 * (block1_map + block2_map));
}

/// A field of /proc/self/status in bytes (VmRSS, VmHWM), -1 when unreadable.
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

// Tracing an input of 400^3 voxels allocates nothing of its size: one sample would take 244 MiB
// and the first convolution's output of it 1.9 GiB.
TEST(TraceLayersTest, TracingAHugeInputAllocatesNoActivation) {
  if (!std::ofstream("/proc/self/clear_refs") || status_bytes("VmHWM") < 0) {
    GTEST_SKIP() << "the peak resident memory cannot be reset and read here";
  }
  auto network = build("AE_Conv5_FC3", "1@400x400x400");
  const int64_t resident = status_bytes("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current resident size
  const auto records = trace_layers(*network, parse_input_size("1@400x400x400"));
  EXPECT_EQ(records.front().output_shape, (std::vector<int64_t>{8, 400, 400, 400}));
  EXPECT_LT(status_bytes("VmHWM") - resident, int64_t{64} << 20);
}

}  // namespace
}  // namespace cdl::model
