// resnet18 (2D): torchvision's ResNet-18 trunk (BasicBlock x [2, 2, 2, 2]) with a global average
// pool, its 1000-wide head kept, then Dropout ("drop_out") and Linear ("fc_out").
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "cdl/model/network.hpp"

namespace cdl::model {

/// torchvision's BasicBlock: conv3x3(stride) BN ReLU conv3x3 BN + identity or downsample, ReLU.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor input);
  void pretty_print(std::ostream& stream) const override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
  int64_t in_planes_, planes_, stride_;
};
TORCH_MODULE(BasicBlock);

/// resnet18 for 2D inputs (ClinicaDL uses it on rgb slices). No ImageNet weights are downloaded:
/// the network starts from torchvision's initialisation (conv ~ N(0, sqrt(2 / (k*k*out))), BN 1/0);
/// load pretrained weights through transfer learning. The input channel count is honoured.
NetworkPtr make_resnet18(const NetworkOptions& options);

}  // namespace cdl::model
