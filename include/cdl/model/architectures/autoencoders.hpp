// Autoencoders: AE_Conv5_FC3 / AE_Conv4_FC3 built from a CNN's convolutional part by the
// CNN-to-autoencoder transformation, and CAE_half (3D, fully connected code).
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include "cdl/model/network.hpp"

namespace cdl::model {

/// Builds the decoder that mirrors `encoder` (ClinicaDL's CNN_Transformer): each Conv becomes a
/// ConvTranspose(out -> in), each PadMaxPool a CropMaxUnpool, Linear(in, out) a Linear(out, in),
/// LeakyReLU(a) a LeakyReLU(1/a); in 3D each ReLU moves after its ConvTranspose and every
/// BatchNorm is re-created for the channels of the layer after it; the list is then reversed.
/// Also switches the encoder's PadMaxPool layers to "indices and pad" mode.
torch::nn::Sequential make_mirrored_decoder(torch::nn::Sequential& encoder, int dimension);

/// Autoencoder from Conv5_FC3's convolutional part (2D or 3D). Output shape = input shape.
NetworkPtr make_ae_conv5_fc3(const NetworkOptions& options);

/// Autoencoder from Conv4_FC3's convolutional part (identical to AE_Conv5_FC3).
NetworkPtr make_ae_conv4_fc3(const NetworkOptions& options);

/// CAE_half (3D): three EncoderLayer3D (conv k3 s2, BN, LeakyReLU 0.2), Linear to the latent
/// code, Linear back, three DecoderLayer3D (conv-transpose k3 s2, BN, ReLU). Unlike ClinicaDL
/// (hard-wired to 1@80x96x80 and whose output does not match its input), the decoder uses
/// output_padding 1 so the output has the input's shape; each spatial length must be a multiple
/// of 8. At 1@80x96x80 the layer sizes equal ClinicaDL's (153600 and 307200 features).
NetworkPtr make_cae_half(const NetworkOptions& options);

}  // namespace cdl::model
