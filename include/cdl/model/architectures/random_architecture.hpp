// ClinicaDL's RandomArchitecture: the CNN that random search builds from a description
// (convolutions_dict, n_fcblocks, network_normalization), 2D or 3D. Module names and shapes are
// ClinicaDL's, so its state dict and a MAPS written here are interchangeable with ClinicaDL's.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cdl/model/network.hpp"

namespace cdl::model {

/// One convolutional block `conv<i>`: (n_conv - 1) x [Conv(in -> in, k3, s1, p1), Norm,
/// LeakyReLU], then Conv(in -> out, k3, s1, p1), Norm, LeakyReLU, PadMaxPool(2, 2) for
/// "MaxPooling", or Conv(in -> out, k3, s2, p1), Norm, LeakyReLU for "stride".
struct ConvolutionBlock {
  int64_t in_channels = -1;  ///< -1 (ClinicaDL's None): the input's channels (first block only)
  int64_t out_channels = 0;
  int64_t n_conv = 1;
  std::string d_reduction = "MaxPooling";  ///< MaxPooling or stride
};

/// The description of a random architecture.
struct RandomArchitectureSpec {
  std::vector<ConvolutionBlock> convolutions;  ///< conv0, conv1, ... in order
  int64_t n_fcblocks = 1;
  std::string normalization = "BatchNorm";  ///< BatchNorm, InstanceNorm or None
};

/// Reads ClinicaDL's description: `convolutions` is the convolutions_dict object {"conv0": {...},
/// ...}, `normalization` null or a name. Throws ConfigError naming `source` and the key for a
/// missing or malformed entry (blocks not named conv0..conv<n-1>, a block whose in_channels is
/// not the previous block's out_channels, n_conv or out_channels < 1, an unknown d_reduction or
/// normalisation, n_fcblocks < 1).
RandomArchitectureSpec random_architecture_from_json(const nlohmann::ordered_json& convolutions,
                                                     int64_t n_fcblocks,
                                                     const nlohmann::json& normalization,
                                                     const std::string& source);

/// ClinicaDL's convolutions_dict of `spec` (in_channels null for the first block).
nlohmann::ordered_json convolutions_to_json(const RandomArchitectureSpec& spec);

/// The widths of the fully connected blocks, ClinicaDL's fc_dict_design: F = out_channels of the
/// last block x prod(ceil(n / 2^blocks)), ratio r = (F / outputs)^(1 / n_fcblocks); block i maps
/// round(F / r^i) -> round(F / r^(i+1)) (rounding half to even, as NumPy). n_fcblocks + 1 values.
std::vector<int64_t> random_fc_widths(const RandomArchitectureSpec& spec,
                                      const InputSize& input_size, int64_t output_size);

/// The trainable parameters of the network `spec` describes (weights, biases; BatchNorm's two
/// per channel counted for every normalisation), computed without building it.
int64_t random_architecture_parameters(const RandomArchitectureSpec& spec,
                                       const InputSize& input_size, int64_t output_size);

/// Builds the network of options.random_architecture. Throws ConfigError when it is missing, or
/// when its weights alone would take more than the memory available on this node.
NetworkPtr make_random_architecture(const NetworkOptions& options);

}  // namespace cdl::model
