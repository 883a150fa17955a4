// Implementation of the autoencoders and of the CNN-to-autoencoder transformation.
#include "cdl/model/architectures/autoencoders.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>

#include "cdl/core/error.hpp"
#include "cdl/model/architectures/conv_fc3.hpp"
#include "cdl/model/layers/building_blocks.hpp"
#include "cdl/model/layers/crop_max_unpool.hpp"
#include "cdl/model/layers/pad_max_pool.hpp"
#include "cdl/model/layers/reshape.hpp"

namespace cdl::model {
namespace nn = torch::nn;
namespace {

/// One entry of the inverse list, with what the 3D swap pass needs to know about it.
struct InverseLayer {
  enum class Kind { kConvTranspose, kActivation, kBatchNorm, kOther } kind;
  nn::AnyModule module;
  int64_t out_channels = 0;  ///< for kConvTranspose
};

template <typename ConvImpl, size_t D>
InverseLayer invert_conv(const ConvImpl& c, int dimension) {
  const auto& o = c.options;
  // LibTorch 1.13 has its own variant (c10::get); 2.x uses std::variant (std::get).
#if TORCH_VERSION_MAJOR >= 2
  const auto padding = std::get<torch::ExpandingArray<D>>(o.padding());
#else
  const auto padding = c10::get<torch::ExpandingArray<D>>(o.padding());
#endif
  return {InverseLayer::Kind::kConvTranspose,
          conv_transpose(dimension, o.out_channels(), o.in_channels(), (*o.kernel_size())[0],
                         (*o.stride())[0], (*padding)[0]),
          o.in_channels()};
}

InverseLayer invert(const std::shared_ptr<nn::Module>& module, int dimension) {
  using Kind = InverseLayer::Kind;
  if (auto* c = module->as<nn::Conv3d>()) return invert_conv<nn::Conv3dImpl, 3>(*c, dimension);
  if (auto* c = module->as<nn::Conv2d>()) return invert_conv<nn::Conv2dImpl, 2>(*c, dimension);
  if (auto pool = std::dynamic_pointer_cast<PadMaxPoolImpl>(module)) {
    pool->set_return_indices(true);
    return {Kind::kOther,
            nn::AnyModule(CropMaxUnpool(dimension, pool->kernel_size(), pool->stride()))};
  }
  if (auto* bn = module->as<nn::BatchNorm3d>()) {
    return {Kind::kBatchNorm, batch_norm(3, bn->options.num_features())};
  }
  if (auto* bn = module->as<nn::BatchNorm2d>()) {
    return {Kind::kBatchNorm, batch_norm(2, bn->options.num_features())};
  }
  if (module->as<nn::ReLU>()) return {Kind::kActivation, nn::AnyModule(nn::ReLU())};
  if (auto* l = module->as<nn::LeakyReLU>()) {
    const double slope = 1.0 / l->options.negative_slope();
    return {Kind::kActivation,
            nn::AnyModule(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(slope)))};
  }
  if (auto* l = module->as<nn::Linear>()) {
    return {Kind::kOther,
            nn::AnyModule(nn::Linear(l->options.out_features(), l->options.in_features()))};
  }
  CDL_THROW(InternalError, "CNN-to-autoencoder transformation cannot invert a layer of type ",
            module->name());
}

/// ClinicaDL's 3D pass: swap each ConvTranspose with the next activation, then re-create every
/// BatchNorm for the channel count of the ConvTranspose that follows it.
void reorder_3d(std::vector<InverseLayer>& layers) {
  using Kind = InverseLayer::Kind;
  int conv = -1, activation = -1;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    if (layers[i].kind == Kind::kConvTranspose) conv = i;
    if (layers[i].kind == Kind::kActivation) activation = i;
    if (conv >= 0 && activation >= 0) {
      std::swap(layers[conv], layers[activation]);
      conv = activation = -1;
    }
  }
  for (size_t i = 0; i + 1 < layers.size(); ++i) {
    if (layers[i].kind == Kind::kBatchNorm && layers[i + 1].kind == Kind::kConvTranspose) {
      layers[i].module = batch_norm(3, layers[i + 1].out_channels);
    }
  }
}

NetworkPtr autoencoder_from(const std::string& name, NetworkPtr cnn, int dimension) {
  auto encoder = std::static_pointer_cast<Cnn>(cnn)->convolutions();
  auto decoder = make_mirrored_decoder(encoder, dimension);
  return std::make_shared<AutoEncoder>(name, encoder, decoder);
}

/// CAE_half's encoder block: layer = Sequential(Conv3d k3 s2 p1 no bias, BN), then LeakyReLU(0.2).
class EncoderLayer3dImpl : public nn::Module {
 public:
  EncoderLayer3dImpl(int64_t in, int64_t out) {
    layer_ = register_module(
        "layer",
        nn::Sequential(nn::Conv3d(nn::Conv3dOptions(in, out, 3).stride(2).padding(1).bias(false)),
                       nn::BatchNorm3d(out)));
  }
  torch::Tensor forward(torch::Tensor x) { return torch::leaky_relu(layer_->forward(x), 0.2); }

 private:
  nn::Sequential layer_{nullptr};
};
TORCH_MODULE(EncoderLayer3d);

/// CAE_half's decoder block: layer = Sequential(ConvTranspose3d k3 s2 p1 op1 no bias, BN), ReLU.
class DecoderLayer3dImpl : public nn::Module {
 public:
  DecoderLayer3dImpl(int64_t in, int64_t out) {
    layer_ = register_module(
        "layer", nn::Sequential(nn::ConvTranspose3d(nn::ConvTranspose3dOptions(in, out, 3)
                                                        .stride(2)
                                                        .padding(1)
                                                        .output_padding(1)
                                                        .bias(false)),
                                nn::BatchNorm3d(out)));
  }
  torch::Tensor forward(torch::Tensor x) { return torch::relu(layer_->forward(x)); }

 private:
  nn::Sequential layer_{nullptr};
};
TORCH_MODULE(DecoderLayer3d);

}  // namespace

nn::Sequential make_mirrored_decoder(nn::Sequential& encoder, int dimension) {
  std::vector<InverseLayer> inverse;
  for (const auto& child : encoder->children()) inverse.push_back(invert(child, dimension));
  if (dimension == 3) reorder_3d(inverse);
  std::reverse(inverse.begin(), inverse.end());
  nn::Sequential decoder;
  for (auto& layer : inverse) decoder->push_back(std::move(layer.module));
  return decoder;
}

NetworkPtr make_ae_conv5_fc3(const NetworkOptions& options) {
  return autoencoder_from("AE_Conv5_FC3", make_conv5_fc3(options), options.input_size.dimension());
}

NetworkPtr make_ae_conv4_fc3(const NetworkOptions& options) {
  return autoencoder_from("AE_Conv4_FC3", make_conv4_fc3(options), options.input_size.dimension());
}

NetworkPtr make_cae_half(const NetworkOptions& options) {
  const auto& input = options.input_size;
  require_dimension("CAE_half", input, {3});
  std::vector<int64_t> code_shape{256};
  for (int64_t length : input.spatial) {
    if (length % 8 != 0) {
      CDL_THROW(ConfigError, "CAE_half cannot take input size ", input.to_string(),
                ": every spatial length must be a multiple of 8 (e.g. 1@80x96x80)");
    }
    code_shape.push_back(length / 8);
  }
  const int64_t encoded = 128 * product(code_shape) / 256;
  nn::Sequential encoder(EncoderLayer3d(input.channels, 32), EncoderLayer3d(32, 64),
                         EncoderLayer3d(64, 128), nn::Flatten(),
                         nn::Linear(encoded, options.latent_space_size));
  nn::Sequential decoder(nn::Linear(options.latent_space_size, product(code_shape)),
                         Reshape(code_shape), DecoderLayer3d(256, 128), DecoderLayer3d(128, 64),
                         DecoderLayer3d(64, input.channels));
  return std::make_shared<AutoEncoder>("CAE_half", encoder, decoder);
}

}  // namespace cdl::model
