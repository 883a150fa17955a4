// Implementation of resnet18.
#include "cdl/model/architectures/resnet18.hpp"

#include <torch/torch.h>

#include <cmath>

#include "cdl/model/architectures/conv_fc3.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/stack.hpp"

namespace cdl::model {
namespace nn = torch::nn;
namespace {

nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

Stack residual_layer(int64_t& in_planes, int64_t planes, int64_t stride) {
  Stack layer;
  layer->push_back(BasicBlock(in_planes, planes, stride));
  layer->push_back(BasicBlock(planes, planes, 1));
  in_planes = planes;
  return layer;
}

/// torchvision's initialisation: conv ~ N(0, sqrt(2 / n)) with n = k*k*out_channels, BN 1/0.
void initialise(nn::Module& network) {
  torch::NoGradGuard no_grad;
  for (auto& module : network.modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      const auto& k = c->options.kernel_size();
      const double n = static_cast<double>((*k)[0] * (*k)[1] * c->options.out_channels());
      c->weight.normal_(0.0, std::sqrt(2.0 / n));
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride)
    : in_planes_(in_planes), planes_(planes), stride_(stride) {
  conv1_ = register_module("conv1", conv2d(in_planes, planes, 3, stride, 1));
  bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
  register_module("relu", nn::ReLU());
  conv2_ = register_module("conv2", conv2d(planes, planes, 3, 1, 1));
  bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
  if (stride != 1 || in_planes != planes) {
    downsample_ = register_module(
        "downsample",
        nn::Sequential(conv2d(in_planes, planes, 1, stride, 0), nn::BatchNorm2d(planes)));
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor input) {
  auto out = torch::relu(bn1_(conv1_(input)));
  out = bn2_(conv2_(out));
  auto identity = downsample_.is_empty() ? input : downsample_->forward(input);
  return torch::relu(out + identity);
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "BasicBlock(" << in_planes_ << ", " << planes_ << ", stride=" << stride_ << ")";
}

NetworkPtr make_resnet18(const NetworkOptions& options) {
  require_dimension("resnet18", options.input_size, {2});
  nn::Sequential convolutions;
  convolutions->push_back(conv2d(options.input_size.channels, 64, 7, 2, 3));
  convolutions->push_back(nn::BatchNorm2d(64));
  convolutions->push_back(nn::ReLU());
  convolutions->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  int64_t in_planes = 64;
  convolutions->push_back(residual_layer(in_planes, 64, 1));
  convolutions->push_back(residual_layer(in_planes, 128, 2));
  convolutions->push_back(residual_layer(in_planes, 256, 2));
  convolutions->push_back(residual_layer(in_planes, 512, 2));
  // Five stride-2 stages (conv1, maxpool, layer2..4) each map n to ceil(n / 2).
  const auto& spatial = options.input_size.spatial;
  convolutions->push_back(nn::AvgPool2d(
      nn::AvgPool2dOptions({ceil_halvings(spatial[0], 5), ceil_halvings(spatial[1], 5)})
          .stride(1)));
  nn::Sequential fc;
  fc->push_back(nn::Flatten());
  fc->push_back(nn::Linear(512, 1000));
  fc->push_back("drop_out", nn::Dropout(options.dropout));
  fc->push_back("fc_out", nn::Linear(1000, options.output_size));
  auto network = std::make_shared<Cnn>("resnet18", convolutions, fc);
  initialise(*network);
  return network;
}

}  // namespace cdl::model
