// Transfer learning (reference section 3): a new training starts from the best model of another
// MAPS (ours or ClinicaDL's) for the same split, by ClinicaDL's rules, then may freeze all but its
// last layers (--nb_unfrozen_layer).
#pragma once

#include <string>

#include "cdl/config/train_config.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/model/network.hpp"

namespace cdl::train {

/// What a source state dict holds, told by its key names.
enum class SourceKind {
  kCnn,          ///< keys convolutions.* (and fc.*)
  kAutoEncoder,  ///< keys encoder.* and decoder.*
};

/// The kind of a source state dict. Throws ConfigError naming `source` when it is neither a CNN
/// nor an autoencoder of ClinicaDL's naming (e.g. a VAE), which cannot be transferred.
SourceKind source_kind(const formats::StateDict& state, const std::string& source);

/// Copies `source` into `target` by ClinicaDL's rules: CNN -> CNN and autoencoder -> autoencoder
/// copy everything (strict); autoencoder -> CNN copies encoder.* into convolutions.* and leaves fc
/// fresh; CNN -> autoencoder copies convolutions.* into encoder.* and leaves the decoder fresh.
/// Returns the number of tensors copied. Throws DataError naming `source`, the key and both
/// shapes when a tensor does not fit, or the missing and unexpected keys.
int64_t transfer_weights(model::Network& target, const formats::StateDict& source,
                         const std::string& source_file);

/// ClinicaDL's freezing (--nb_unfrozen_layer N): when N > 0, every parameter stops requiring
/// gradients but the last 2N in registration order (a weight and a bias per layer; BatchNorm's
/// gamma and beta count as one layer). Returns the number of trainable parameter tensors left.
int64_t freeze_all_but_last_layers(torch::nn::Module& network, int64_t unfrozen_layers);

/// The best model of split `split` in the source MAPS of `config` (transfer_path):
/// <transfer_path>/split-<split>/best-<transfer_selection_metric>/model.pth.tar.
/// Multi-network (`network` >= 0): the source's network-<n>_model.pth.tar when it is a
/// multi-network MAPS (multi -> multi), else its single model.pth.tar (single -> multi). A single
/// network cannot start from a multi-network source (ConfigError from check_transfer_source).
std::string transfer_source_file(const config::TrainConfig& config, int split, int network = -1);

/// Not collective, deterministic: throws ConfigError when the source MAPS or its best model for
/// `split` is missing (naming the metrics that source did select).
void check_transfer_source(const config::TrainConfig& config, int split);

}  // namespace cdl::train
