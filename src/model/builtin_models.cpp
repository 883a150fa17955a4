// The one explicit list of built-in architectures.
#include "cdl/model/architectures/autoencoders.hpp"
#include "cdl/model/architectures/conv_fc3.hpp"
#include "cdl/model/architectures/random_architecture.hpp"
#include "cdl/model/architectures/resnet18.hpp"
#include "cdl/model/architectures/resnet3d.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::model {

void register_builtin_models(ModelRegistry& registry) {
  const std::vector<std::string> cls_reg{"classification", "regression"};
  const std::vector<std::string> cls{"classification"};
  const std::vector<std::string> rec{"reconstruction"};
  registry.add({"Conv5_FC3",
                "Convolutional network with 5 convolution blocks (8-16-32-64-128 channels, "
                "PadMaxPool) and 3 fully connected layers (1300-50-output).",
                cls_reg, "2D or 3D", "1@169x208x179", make_conv5_fc3});
  registry.add({"Conv4_FC3",
                "Same 5 convolution blocks as Conv5_FC3 (despite its name) with 3 fully "
                "connected layers (50-40-output).",
                cls_reg, "2D or 3D", "1@169x208x179", make_conv4_fc3});
  registry.add({"Stride_Conv5_FC3",
                "5 convolution blocks of stride 2 (no pooling) and 3 fully connected layers "
                "(1300-50-output).",
                cls_reg, "2D or 3D", "1@169x208x179", make_stride_conv5_fc3});
  registry.add({"RandomArchitecture",
                "The CNN random-search samples: convolution blocks described by "
                "convolutions_dict (widths, convolutions per block, MaxPooling or stride) and "
                "n_fcblocks fully connected blocks narrowing geometrically to the output.",
                cls_reg, "2D or 3D", "1@169x208x179", make_random_architecture});
  registry.add({"ResNet3D",
                "3D network of 5 residual blocks (ELU) each followed by MaxPool3d(3, 2), and a "
                "256-wide head with dropout 0.8.",
                cls_reg, "3D", "1@169x208x179", make_resnet3d});
  registry.add({"SqueezeExcitationCNN",
                "3D residual network whose blocks carry squeeze-and-excitation channel "
                "attention, with a 256-wide head.",
                cls, "3D", "1@169x208x179", make_squeeze_excitation_cnn});
  registry.add({"resnet18",
                "ResNet-18 (torchvision BasicBlocks [2, 2, 2, 2]) with a 1000-wide head, dropout "
                "and an output layer; starts untrained (no weight download).",
                cls, "2D", "3@208x179", make_resnet18});
  registry.add({"AE_Conv5_FC3",
                "Autoencoder whose encoder is Conv5_FC3's convolutional part and whose decoder "
                "mirrors it (ConvTranspose, CropMaxUnpool).",
                rec, "2D or 3D", "1@169x208x179", make_ae_conv5_fc3});
  registry.add({"AE_Conv4_FC3",
                "Autoencoder derived from Conv4_FC3's convolutional part (identical to "
                "AE_Conv5_FC3).",
                rec, "2D or 3D", "1@169x208x179", make_ae_conv4_fc3});
  registry.add({"CAE_half",
                "3D convolutional autoencoder with a fully connected latent code (derived from "
                "CVAE); spatial lengths must be multiples of 8.",
                rec, "3D", "1@80x96x80", make_cae_half});
}

}  // namespace cdl::model
