// The architecture registry and input-size parsing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cdl/core/error.hpp"
#include "cdl/core/input_size.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::model {
namespace {

TEST(ModelRegistryTest, ListsBuiltinsInAsciiOrder) {
  EXPECT_EQ(builtin_registry().names(),
            (std::vector<std::string>{"AE_Conv4_FC3", "AE_Conv5_FC3", "CAE_half", "Conv4_FC3",
                                      "Conv5_FC3", "RandomArchitecture", "ResNet3D",
                                      "SqueezeExcitationCNN", "Stride_Conv5_FC3", "resnet18"}));
}

TEST(ModelRegistryTest, UnknownNameListsKnownOnes) {
  try {
    builtin_registry().get("conv5_fc3");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'conv5_fc3'"), std::string::npos) << message;
    EXPECT_NE(message.find("Conv5_FC3, RandomArchitecture, ResNet3D"), std::string::npos)
        << message;
  }
}

TEST(ModelRegistryTest, DefaultArchitecturePerTask) {
  EXPECT_EQ(default_architecture("classification"), "Conv5_FC3");
  EXPECT_EQ(default_architecture("regression"), "Conv5_FC3");
  EXPECT_EQ(default_architecture("reconstruction"), "AE_Conv5_FC3");
}

TEST(ModelRegistryTest, DuplicateRegistrationIsABug) {
  ModelRegistry registry;
  register_builtin_models(registry);
  EXPECT_THROW(registry.add({"Conv5_FC3", "", {}, "", "", nullptr}), InternalError);
}

TEST(InputSizeTest, ParsesTwoAndThreeDimensions) {
  auto size3 = parse_input_size("1@169x208x179");
  EXPECT_EQ(size3.channels, 1);
  EXPECT_EQ(size3.spatial, (std::vector<int64_t>{169, 208, 179}));
  EXPECT_EQ(size3.to_string(), "1@169x208x179");
  auto size2 = parse_input_size("3@128x128");
  EXPECT_EQ(size2.dimension(), 2);
  EXPECT_EQ(size2.batch_shape(4), (std::vector<int64_t>{4, 3, 128, 128}));
}

TEST(InputSizeTest, MalformedStringsNameTheProblem) {
  for (const char* bad : {"169x208x179", "1@", "0@10x10", "1@10x0x10", "1@10", "1@2x3x4x5",
                          "a@10x10", "1@10x-3", "1@@10x10", "1@10x10x"}) {
    EXPECT_THROW(parse_input_size(bad), ConfigError) << bad;
  }
  try {
    parse_input_size("1@10xfoo", "--input_size");
    FAIL() << "'1@10xfoo' was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("--input_size '1@10xfoo'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("'foo'"), std::string::npos);
  }
}

}  // namespace
}  // namespace cdl::model
