// Implementation of the Conv*_FC3 family.
#include "cdl/model/architectures/conv_fc3.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "cdl/core/error.hpp"
#include "cdl/model/layers/building_blocks.hpp"

namespace cdl::model {
namespace {

constexpr int64_t kTrunkWidths[] = {8, 16, 32, 64, 128};

torch::nn::Sequential make_strided_conv_trunk(const InputSize& input_size) {
  const int dim = input_size.dimension();
  torch::nn::Sequential trunk;
  int64_t in = input_size.channels;
  for (int64_t out : kTrunkWidths) {
    trunk->push_back(conv(dim, in, out, 3, 2, 1));
    trunk->push_back(batch_norm(dim, out));
    trunk->push_back(torch::nn::ReLU());
    in = out;
  }
  return trunk;
}

}  // namespace

void require_dimension(const std::string& architecture, const InputSize& input_size,
                       const std::vector<int>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), input_size.dimension()) != allowed.end()) return;
  CDL_THROW(ConfigError, architecture, " cannot take input size ", input_size.to_string(),
            ": it has ", input_size.dimension(), " spatial axes, the network accepts ",
            allowed.size() == 2 ? "2 or 3" : std::to_string(allowed.front()));
}

torch::nn::Sequential make_pooled_conv_trunk(const InputSize& input_size) {
  const int dim = input_size.dimension();
  torch::nn::Sequential trunk;
  int64_t in = input_size.channels;
  for (int64_t out : kTrunkWidths) {
    trunk->push_back(conv(dim, in, out, 3, 1, 1));
    trunk->push_back(batch_norm(dim, out));
    trunk->push_back(torch::nn::ReLU());
    trunk->push_back(pad_max_pool(dim, 2, 2));
    in = out;
  }
  return trunk;
}

int64_t conv_trunk_features(const InputSize& input_size) {
  int64_t features = 128;
  for (int64_t length : input_size.spatial) features *= ceil_halvings(length, 5);
  return features;
}

NetworkPtr make_conv5_fc3(const NetworkOptions& options) {
  require_dimension("Conv5_FC3", options.input_size, {2, 3});
  return std::make_shared<Cnn>("Conv5_FC3", make_pooled_conv_trunk(options.input_size),
                               fc_head(conv_trunk_features(options.input_size), {1300, 50},
                                       options.output_size, options.dropout));
}

NetworkPtr make_conv4_fc3(const NetworkOptions& options) {
  require_dimension("Conv4_FC3", options.input_size, {2, 3});
  return std::make_shared<Cnn>("Conv4_FC3", make_pooled_conv_trunk(options.input_size),
                               fc_head(conv_trunk_features(options.input_size), {50, 40},
                                       options.output_size, options.dropout));
}

NetworkPtr make_stride_conv5_fc3(const NetworkOptions& options) {
  require_dimension("Stride_Conv5_FC3", options.input_size, {2, 3});
  return std::make_shared<Cnn>("Stride_Conv5_FC3", make_strided_conv_trunk(options.input_size),
                               fc_head(conv_trunk_features(options.input_size), {1300, 50},
                                       options.output_size, options.dropout));
}

}  // namespace cdl::model
