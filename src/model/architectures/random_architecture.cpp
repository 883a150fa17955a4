// Implementation of ClinicaDL's RandomArchitecture.
#include "cdl/model/architectures/random_architecture.hpp"

#include <torch/torch.h>

#include <cfenv>
#include <cmath>
#include <limits>

#include "cdl/core/error.hpp"
#include "cdl/core/node_memory.hpp"
#include "cdl/model/architectures/conv_fc3.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/stack.hpp"

namespace cdl::model {
namespace nn = torch::nn;
namespace {

int64_t positive_integer(const nlohmann::ordered_json& block, const std::string& key,
                         const std::string& where) {
  const auto found = block.find(key);
  constexpr int64_t kMost = int64_t{1} << 20;  // keeps the parameter count below overflow
  if (found == block.end() || !found->is_number_integer() || found->get<int64_t>() < 1 ||
      found->get<int64_t>() > kMost) {
    CDL_THROW(ConfigError, where, ".", key, " is ",
              found == block.end() ? std::string("missing") : found->dump(),
              "; expected a positive integer up to ", kMost);
  }
  return found->get<int64_t>();
}

ConvolutionBlock read_block(const nlohmann::ordered_json& block, const std::string& where) {
  if (!block.is_object())
    CDL_THROW(ConfigError, where, " is ", block.dump(), "; expected an object");
  ConvolutionBlock result;
  const auto in = block.find("in_channels");
  if (in != block.end() && !in->is_null())
    result.in_channels = positive_integer(block, "in_channels", where);
  result.out_channels = positive_integer(block, "out_channels", where);
  result.n_conv = positive_integer(block, "n_conv", where);
  const auto reduction = block.find("d_reduction");
  if (reduction == block.end() || !reduction->is_string() ||
      (*reduction != "MaxPooling" && *reduction != "stride")) {
    CDL_THROW(ConfigError, where, ".d_reduction is ",
              reduction == block.end() ? std::string("missing") : reduction->dump(),
              "; expected \"MaxPooling\" or \"stride\"");
  }
  result.d_reduction = reduction->get<std::string>();
  return result;
}

nn::AnyModule normalization_layer(const std::string& kind, int dimension, int64_t channels) {
  if (kind == "BatchNorm") return batch_norm(dimension, channels);
  return instance_norm(dimension, channels);
}

/// conv<i>: the block of `spec` as a Stack of ClinicaDL's layers, in ClinicaDL's order.
Stack make_block(const ConvolutionBlock& block, int64_t in, int dimension,
                 const std::string& normalization) {
  Stack layers;
  const auto add_conv = [&](int64_t from, int64_t to, int64_t stride) {
    layers->push_back(conv(dimension, from, to, 3, stride, 1));
    if (normalization != "None")
      layers->push_back(normalization_layer(normalization, dimension, to));
    layers->push_back(nn::LeakyReLU());
  };
  for (int64_t i = 0; i + 1 < block.n_conv; ++i) add_conv(in, in, 1);
  if (block.d_reduction == "MaxPooling") {
    add_conv(in, block.out_channels, 1);
    layers->push_back(pad_max_pool(dimension, 2, 2));
  } else {
    add_conv(in, block.out_channels, 2);
  }
  return layers;
}

}  // namespace

RandomArchitectureSpec random_architecture_from_json(const nlohmann::ordered_json& convolutions,
                                                     int64_t n_fcblocks,
                                                     const nlohmann::json& normalization,
                                                     const std::string& source) {
  const std::string where = source + ": convolutions_dict";
  if (!convolutions.is_object() || convolutions.empty()) {
    CDL_THROW(ConfigError, where, " is ", convolutions.dump(),
              "; expected an object of blocks {\"conv0\": {...}, ...}");
  }
  RandomArchitectureSpec spec;
  for (size_t i = 0; i < convolutions.size(); ++i) {
    const std::string name = "conv" + std::to_string(i);
    const auto block = convolutions.find(name);
    if (block == convolutions.end()) {
      CDL_THROW(ConfigError, where, " has ", convolutions.size(), " blocks but no '", name,
                "'; expected blocks named conv0 to conv", convolutions.size() - 1);
    }
    spec.convolutions.push_back(read_block(*block, where + "." + name));
    const auto& added = spec.convolutions.back();
    const int64_t expected = i == 0 ? -1 : spec.convolutions[i - 1].out_channels;
    if (added.in_channels != expected) {
      CDL_THROW(ConfigError, where, ".", name, ".in_channels is ",
                added.in_channels < 0 ? std::string("null") : std::to_string(added.in_channels),
                "; expected ",
                i == 0 ? std::string("null (the input's channels)")
                       : std::to_string(expected) + " (the out_channels of conv" +
                             std::to_string(i - 1) + ")");
    }
  }
  if (n_fcblocks < 1) {
    CDL_THROW(ConfigError, source, ": n_fcblocks is ", n_fcblocks, "; expected at least 1");
  }
  spec.n_fcblocks = n_fcblocks;
  if (normalization.is_null()) {
    spec.normalization = "None";
  } else if (normalization.is_string() &&
             (normalization == "BatchNorm" || normalization == "InstanceNorm")) {
    spec.normalization = normalization.get<std::string>();
  } else {
    CDL_THROW(ConfigError, source, ": network_normalization is ", normalization.dump(),
              "; expected \"BatchNorm\", \"InstanceNorm\" or null");
  }
  return spec;
}

nlohmann::ordered_json convolutions_to_json(const RandomArchitectureSpec& spec) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (size_t i = 0; i < spec.convolutions.size(); ++i) {
    const auto& block = spec.convolutions[i];
    nlohmann::ordered_json entry;
    entry["in_channels"] = block.in_channels < 0 ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(block.in_channels);
    entry["out_channels"] = block.out_channels;
    entry["n_conv"] = block.n_conv;
    entry["d_reduction"] = block.d_reduction;
    json["conv" + std::to_string(i)] = entry;
  }
  return json;
}

std::vector<int64_t> random_fc_widths(const RandomArchitectureSpec& spec,
                                      const InputSize& input_size, int64_t output_size) {
  const int blocks = static_cast<int>(spec.convolutions.size());
  double features = static_cast<double>(spec.convolutions.back().out_channels);
  for (const int64_t length : input_size.spatial) {
    features *= static_cast<double>(ceil_halvings(length, blocks));
  }
  const double ratio = std::pow(features / static_cast<double>(output_size),
                                1.0 / static_cast<double>(spec.n_fcblocks));
  // NumPy's round() rounds half to even: nearbyint in the default rounding mode.
  CDL_CHECK(std::fegetround() == FE_TONEAREST, "the rounding mode is not round-to-nearest");
  std::vector<int64_t> widths{static_cast<int64_t>(std::nearbyint(features))};
  for (int64_t i = 0; i < spec.n_fcblocks; ++i) {
    features /= ratio;
    widths.push_back(static_cast<int64_t>(std::nearbyint(features)));
  }
  return widths;
}

int64_t random_architecture_parameters(const RandomArchitectureSpec& spec,
                                       const InputSize& input_size, int64_t output_size) {
  const int64_t kernel = input_size.dimension() == 3 ? 27 : 9;
  double count = 0;  // in double: a crafted description must not overflow the count
  int64_t in = input_size.channels;
  for (const auto& block : spec.convolutions) {
    count += static_cast<double>(block.n_conv - 1) * static_cast<double>(in) *
             static_cast<double>(in * kernel + 3);
    count += static_cast<double>(block.out_channels) * static_cast<double>(in * kernel + 3);
    in = block.out_channels;
  }
  const auto widths = random_fc_widths(spec, input_size, output_size);
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    count += static_cast<double>(widths[i] + 1) * static_cast<double>(widths[i + 1]);
  }
  return count > 9e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(count);
}

NetworkPtr make_random_architecture(const NetworkOptions& options) {
  if (!options.random_architecture) {
    CDL_THROW(ConfigError,
              "RandomArchitecture is built from a description (convolutions_dict, n_fcblocks, "
              "network_normalization) that random-search writes into maps.json; none was given");
  }
  require_dimension("RandomArchitecture", options.input_size, {2, 3});
  const auto& spec = *options.random_architecture;
  const int dimension = options.input_size.dimension();
  // Checked before anything is allocated: a description sampled from wide ranges, or read from
  // a crafted maps.json, may ask for more weights than the node holds.
  const int64_t parameters =
      random_architecture_parameters(spec, options.input_size, options.output_size);
  const double bytes = 4.0 * static_cast<double>(parameters);
  if (bytes > static_cast<double>(available_memory_bytes())) {
    CDL_THROW(ConfigError, "RandomArchitecture of ", spec.convolutions.size(),
              " convolution blocks (last width ", spec.convolutions.back().out_channels, ") and ",
              spec.n_fcblocks, " fully connected blocks on inputs of ",
              options.input_size.to_string(), " has about ", parameters, " parameters (",
              format_memory_size(bytes), "), more than the ",
              format_memory_size(static_cast<double>(available_memory_bytes())),
              " available; expected narrower or more convolution blocks, or more fully connected "
              "blocks");
  }
  nn::Sequential convolutions;
  int64_t in = options.input_size.channels;
  for (size_t i = 0; i < spec.convolutions.size(); ++i) {
    const auto& block = spec.convolutions[i];
    convolutions->push_back("conv" + std::to_string(i),
                            make_block(block, in, dimension, spec.normalization));
    in = block.out_channels;
  }
  nn::Sequential fc;
  fc->push_back(nn::Flatten());
  fc->push_back(nn::Dropout(options.dropout));
  const auto widths = random_fc_widths(spec, options.input_size, options.output_size);
  for (int64_t i = 0; i < spec.n_fcblocks; ++i) {
    Stack block;
    block->push_back(nn::Linear(widths[i], widths[i + 1]));
    if (i + 1 < spec.n_fcblocks) block->push_back(nn::LeakyReLU());
    fc->push_back("FC" + std::to_string(i), block);
  }
  return std::make_shared<Cnn>("RandomArchitecture", convolutions, fc);
}

}  // namespace cdl::model
