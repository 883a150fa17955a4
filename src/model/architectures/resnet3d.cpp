// Implementation of ResNet3D and SqueezeExcitationCNN.
#include "cdl/model/architectures/resnet3d.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"
#include "cdl/model/architectures/conv_fc3.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/stack.hpp"

namespace cdl::model {
namespace nn = torch::nn;
namespace {

constexpr int kBlocks = 5;

/// Length after MaxPool3d(3, stride 2) without padding, applied five times (floor mode).
int64_t pooled_length(int64_t length) {
  for (int i = 0; i < kBlocks; ++i) length = length < 3 ? 0 : (length - 3) / 2 + 1;
  return length;
}

int64_t residual_features(const std::string& architecture, const InputSize& input_size) {
  int64_t features = 128;
  for (int64_t length : input_size.spatial) {
    const int64_t pooled = pooled_length(length);
    if (pooled < 1) {
      CDL_THROW(ConfigError, architecture, " cannot take input size ", input_size.to_string(),
                ": spatial length ", length,
                " is too small for five MaxPool3d(3, stride 2)"
                " (each spatial length must be at least 63)");
    }
    features *= pooled;
  }
  return features;
}

nn::Sequential residual_trunk(const InputSize& input_size, bool squeeze_excitation) {
  nn::Sequential trunk;
  int64_t in = input_size.channels;
  for (int b = 1; b <= kBlocks; ++b) {
    const int64_t out = int64_t{1} << (b + 2);
    Stack layer;
    layer->push_back(ResBlock3d(in, out, squeeze_excitation));
    layer->push_back(nn::MaxPool3d(nn::MaxPool3dOptions(3).stride(2)));
    trunk->push_back(layer);
    in = out;
  }
  return trunk;
}

}  // namespace

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t ratio) {
  avg_pooling_3D_ = register_module("avg_pooling_3D", nn::AdaptiveAvgPool3d(1));
  fc1_ = register_module("fc1", nn::Linear(channels, channels / ratio));
  fc2_ = register_module("fc2", nn::Linear(channels / ratio, channels));
  register_module("act1", nn::ReLU());
  register_module("act2", nn::Sigmoid());
}

torch::Tensor SqueezeExcitationImpl::forward(torch::Tensor input) {
  const int64_t batch = input.size(0), channels = input.size(1);
  auto squeezed = avg_pooling_3D_(input).view({batch, channels});
  auto weights = torch::sigmoid(fc2_(torch::relu(fc1_(squeezed))));
  return input * weights.view({batch, channels, 1, 1, 1});
}

ResBlock3dImpl::ResBlock3dImpl(int64_t in_channels, int64_t out_channels, bool squeeze_excitation)
    : in_channels_(in_channels), out_channels_(out_channels) {
  const auto activation = [&] {
    return squeeze_excitation ? nn::AnyModule(nn::ReLU()) : nn::AnyModule(nn::ELU());
  };
  auto conv3 = [](int64_t in, int64_t out, int64_t k, int64_t p) {
    return nn::Conv3d(nn::Conv3dOptions(in, out, k).padding(p).bias(false));
  };
  conv1_ = register_module("conv1", conv3(in_channels, out_channels, 3, 1));
  bn1_ = register_module("bn1", nn::BatchNorm3d(out_channels));
  act1_ = activation();
  register_module("act1", act1_.ptr());
  conv2_ = register_module("conv2", conv3(out_channels, out_channels, 3, 1));
  bn2_ = register_module("bn2", nn::BatchNorm3d(out_channels));
  if (squeeze_excitation)
    se_block_ = register_module("se_block", SqueezeExcitation(out_channels, 8));
  shortcut_ = register_module("shortcut", nn::Sequential(conv3(in_channels, out_channels, 1, 0)));
  act2_ = activation();
  register_module("act2", act2_.ptr());
}

torch::Tensor ResBlock3dImpl::forward(torch::Tensor input) {
  auto out = act1_.forward(bn1_(conv1_(input)));
  out = bn2_(conv2_(out));
  if (!se_block_.is_empty()) out = se_block_(out);
  return act2_.forward(out + shortcut_->forward(input));
}

void ResBlock3dImpl::pretty_print(std::ostream& stream) const {
  stream << (se_block_.is_empty() ? "ResBlock(" : "ResBlock_SE(") << in_channels_ << ", "
         << out_channels_ << ")";
}

NetworkPtr make_resnet3d(const NetworkOptions& options) {
  require_dimension("ResNet3D", options.input_size, {3});
  nn::Sequential fc;
  fc->push_back(nn::Flatten());
  fc->push_back(nn::Linear(residual_features("ResNet3D", options.input_size), 256));
  fc->push_back(nn::ELU());
  fc->push_back(nn::Dropout(0.8));
  fc->push_back(nn::Linear(256, options.output_size));
  return std::make_shared<Cnn>("ResNet3D", residual_trunk(options.input_size, false), fc);
}

NetworkPtr make_squeeze_excitation_cnn(const NetworkOptions& options) {
  require_dimension("SqueezeExcitationCNN", options.input_size, {3});
  nn::Sequential fc;
  fc->push_back(nn::Flatten());
  fc->push_back(nn::Dropout(0.5));
  fc->push_back(nn::Linear(residual_features("SqueezeExcitationCNN", options.input_size), 256));
  fc->push_back(nn::ReLU());
  fc->push_back(nn::Linear(256, options.output_size));
  return std::make_shared<Cnn>("SqueezeExcitationCNN", residual_trunk(options.input_size, true),
                               fc);
}

}  // namespace cdl::model
