// ResNet3D and SqueezeExcitationCNN: five 3D residual blocks (8-16-32-64-128 channels), each
// followed by MaxPool3d(3, stride 2), and a 256-wide head with two outputs by default.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>

#include "cdl/model/network.hpp"

namespace cdl::model {

/// Squeeze-and-excitation: channel weights from a global average through
/// Linear(C -> C/ratio), ReLU, Linear(-> C), Sigmoid. Keys avg_pooling_3D, fc1, fc2.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t ratio);
  torch::Tensor forward(torch::Tensor input);

 private:
  torch::nn::AdaptiveAvgPool3d avg_pooling_3D_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

/// Residual block b (1..5): conv1, bn1, act1, conv2, bn2, [se_block], + 1x1x1 conv shortcut, act2.
/// ELU activations for ResNet3D, ReLU and an SE block for SqueezeExcitationCNN.
class ResBlock3dImpl : public torch::nn::Module {
 public:
  ResBlock3dImpl(int64_t in_channels, int64_t out_channels, bool squeeze_excitation);
  torch::Tensor forward(torch::Tensor input);
  void pretty_print(std::ostream& stream) const override;

 private:
  torch::nn::Conv3d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm3d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::AnyModule act1_, act2_;
  SqueezeExcitation se_block_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
  int64_t in_channels_, out_channels_;
};
TORCH_MODULE(ResBlock3d);

/// ResNet3D (3D only). Unlike ClinicaDL, honours input_size and output_size (ClinicaDL always
/// builds for 1@169x208x179 with 2 outputs); dropout stays fixed at 0.8 as in ClinicaDL.
NetworkPtr make_resnet3d(const NetworkOptions& options);

/// SqueezeExcitationCNN (3D only), same conventions as make_resnet3d; dropout fixed at 0.5.
NetworkPtr make_squeeze_excitation_cnn(const NetworkOptions& options);

}  // namespace cdl::model
