// The Conv*_FC3 family (2D or 3D): five conv blocks 8-16-32-64-128 reduced by PadMaxPool(2, 2)
// (or by stride 2) and a three-layer fully connected head.
#pragma once

#include "cdl/model/network.hpp"

namespace cdl::model {

/// ClinicaDL's default classifier/regressor: conv blocks + FC 1300-50-out.
NetworkPtr make_conv5_fc3(const NetworkOptions& options);

/// Same convolutional part as Conv5_FC3 (five blocks despite the name) + FC 50-40-out.
NetworkPtr make_conv4_fc3(const NetworkOptions& options);

/// Five conv(k3, stride 2) blocks without pooling + FC 1300-50-out.
NetworkPtr make_stride_conv5_fc3(const NetworkOptions& options);

/// The shared 20-module convolutional part of Conv5_FC3/Conv4_FC3 (Conv, BN, ReLU, PadMaxPool)x5.
torch::nn::Sequential make_pooled_conv_trunk(const InputSize& input_size);

/// Flattened feature count after the five halving blocks: 128 * prod(ceil(n / 32)).
int64_t conv_trunk_features(const InputSize& input_size);

/// Throws ConfigError unless the input has 2 or 3 spatial axes (`allowed` lists which).
void require_dimension(const std::string& architecture, const InputSize& input_size,
                       const std::vector<int>& allowed);

}  // namespace cdl::model
