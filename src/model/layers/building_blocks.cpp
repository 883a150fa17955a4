// Implementation of the 2D/3D layer factories.
#include "cdl/model/layers/building_blocks.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"
#include "cdl/model/layers/pad_max_pool.hpp"

namespace cdl::model {
namespace nn = torch::nn;

nn::AnyModule conv(int dimension, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                   int64_t padding, bool bias) {
  CDL_CHECK(dimension == 2 || dimension == 3, "conv dimension must be 2 or 3");
  if (dimension == 3) {
    return nn::AnyModule(
        nn::Conv3d(nn::Conv3dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias)));
  }
  return nn::AnyModule(
      nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias)));
}

nn::AnyModule conv_transpose(int dimension, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                             int64_t padding, int64_t output_padding, bool bias) {
  CDL_CHECK(dimension == 2 || dimension == 3, "conv_transpose dimension must be 2 or 3");
  if (dimension == 3) {
    return nn::AnyModule(nn::ConvTranspose3d(nn::ConvTranspose3dOptions(in, out, kernel)
                                                 .stride(stride)
                                                 .padding(padding)
                                                 .output_padding(output_padding)
                                                 .bias(bias)));
  }
  return nn::AnyModule(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, kernel)
                                               .stride(stride)
                                               .padding(padding)
                                               .output_padding(output_padding)
                                               .bias(bias)));
}

nn::AnyModule batch_norm(int dimension, int64_t channels) {
  CDL_CHECK(dimension == 2 || dimension == 3, "batch_norm dimension must be 2 or 3");
  if (dimension == 3) return nn::AnyModule(nn::BatchNorm3d(channels));
  return nn::AnyModule(nn::BatchNorm2d(channels));
}

nn::AnyModule instance_norm(int dimension, int64_t channels) {
  CDL_CHECK(dimension == 2 || dimension == 3, "instance_norm dimension must be 2 or 3");
  if (dimension == 3) return nn::AnyModule(nn::InstanceNorm3d(channels));
  return nn::AnyModule(nn::InstanceNorm2d(channels));
}

nn::AnyModule pad_max_pool(int dimension, int64_t kernel, int64_t stride) {
  return nn::AnyModule(PadMaxPool(dimension, kernel, stride));
}

nn::Sequential fc_head(int64_t flattened, const std::vector<int64_t>& hidden_widths,
                       int64_t output_size, double dropout) {
  nn::Sequential head;
  head->push_back(nn::Flatten());
  head->push_back(nn::Dropout(dropout));
  int64_t in = flattened;
  for (int64_t width : hidden_widths) {
    head->push_back(nn::Linear(in, width));
    head->push_back(nn::ReLU());
    in = width;
  }
  head->push_back(nn::Linear(in, output_size));
  return head;
}

int64_t ceil_halvings(int64_t length, int times) {
  for (int i = 0; i < times; ++i) length = (length + 1) / 2;
  return length;
}

int64_t product(const std::vector<int64_t>& values) {
  int64_t result = 1;
  for (int64_t v : values) result *= v;
  return result;
}

}  // namespace cdl::model
