// Implementation of transfer learning.
#include "cdl/train/transfer.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "cdl/core/error.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::train {
namespace fs = std::filesystem;
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool has_prefix(const formats::StateDict& state, const std::string& prefix) {
  for (const auto& entry : state) {
    if (starts_with(entry.key(), prefix)) return true;
  }
  return false;
}

/// The entries of `source` whose key starts with `from`, renamed to start with `to`.
formats::StateDict renamed(const formats::StateDict& source, const std::string& from,
                           const std::string& to) {
  formats::StateDict result;
  for (const auto& entry : source) {
    if (starts_with(entry.key(), from)) {
      result.insert(to + entry.key().substr(from.size()), entry.value());
    }
  }
  return result;
}

/// Strict copy of `state` into the tensors of `target` whose names start with `prefix` (all of
/// them when the prefix is empty): same key set, same shapes.
int64_t load_part(torch::nn::Module& target, const formats::StateDict& state,
                  const std::string& prefix, const std::string& source) {
  torch::NoGradGuard no_grad;
  auto params = target.named_parameters();
  auto buffers = target.named_buffers();
  std::set<std::string> own;
  for (const auto& p : params) {
    if (starts_with(p.key(), prefix)) own.insert(p.key());
  }
  for (const auto& b : buffers) {
    if (starts_with(b.key(), prefix)) own.insert(b.key());
  }
  std::set<std::string> given, missing, unexpected;
  for (const auto& entry : state) given.insert(entry.key());
  for (const auto& key : own) {
    if (!given.count(key)) missing.insert(key);
  }
  for (const auto& key : given) {
    if (!own.count(key)) unexpected.insert(key);
  }
  if (!missing.empty() || !unexpected.empty()) {
    CDL_THROW(DataError, "transfer from '", source, "': the source does not fit the network (",
              missing.size(), " missing key(s), e.g. ", missing.empty() ? "-" : *missing.begin(),
              "; ", unexpected.size(), " unexpected key(s), e.g. ",
              unexpected.empty() ? "-" : *unexpected.begin(),
              ")\n  hint: transfer between the same architecture family, with the same input "
              "size");
  }
  for (const auto& entry : state) {
    auto* tensor = params.find(entry.key());
    if (tensor == nullptr) tensor = buffers.find(entry.key());
    if (!tensor->sizes().equals(entry.value().sizes())) {
      CDL_THROW(DataError, "transfer from '", source, "': '", entry.key(), "' has shape ",
                entry.value().sizes(), " in the source and ", tensor->sizes(),
                " in the network\n  hint: same architecture, input size and number of classes?");
    }
    tensor->copy_(entry.value().to(tensor->dtype()));
  }
  return static_cast<int64_t>(state.size());
}

}  // namespace

SourceKind source_kind(const formats::StateDict& state, const std::string& source) {
  if (has_prefix(state, "convolutions.")) return SourceKind::kCnn;
  if (has_prefix(state, "encoder.") && has_prefix(state, "decoder.")) {
    return SourceKind::kAutoEncoder;
  }
  std::string example = state.size() > 0 ? state.begin()->key() : "(empty)";
  CDL_THROW(ConfigError, "transfer from '", source, "': its keys (e.g. '", example,
            "') are neither a CNN's (convolutions.*) nor an autoencoder's (encoder.*, decoder.*); ",
            "only CNNs and autoencoders can be transferred");
}

int64_t transfer_weights(model::Network& target, const formats::StateDict& source,
                         const std::string& source_file) {
  const auto kind = source_kind(source, source_file);
  const bool target_cnn = target.kind() == model::NetworkKind::kCnn;
  if (target_cnn && kind == SourceKind::kAutoEncoder) {
    return load_part(target, renamed(source, "encoder.", "convolutions."), "convolutions.",
                     source_file);
  }
  if (!target_cnn && kind == SourceKind::kCnn) {
    return load_part(target, renamed(source, "convolutions.", "encoder."), "encoder.", source_file);
  }
  return load_part(target, source, "", source_file);
}

int64_t freeze_all_but_last_layers(torch::nn::Module& network, int64_t unfrozen_layers) {
  auto parameters = network.parameters();
  if (unfrozen_layers <= 0) return static_cast<int64_t>(parameters.size());
  const auto keep = std::min<int64_t>(static_cast<int64_t>(parameters.size()), 2 * unfrozen_layers);
  const auto first_trainable = static_cast<int64_t>(parameters.size()) - keep;
  for (int64_t i = 0; i < static_cast<int64_t>(parameters.size()); ++i) {
    parameters[static_cast<size_t>(i)].set_requires_grad(i >= first_trainable);
  }
  return keep;
}

std::string transfer_source_file(const config::TrainConfig& c, int split, int network) {
  const maps::MapsLayout source(c.transfer_path);
  const auto& metric = c.transfer_selection_metric;
  if (network >= 0) {
    const auto own = source.best_model(split, metric, network);
    if (fs::is_regular_file(own) || fs::is_regular_file(source.best_model(split, metric, 0))) {
      return own;
    }
  }
  return source.best_model(split, metric);
}

void check_transfer_source(const config::TrainConfig& c, int split) {
  if (c.transfer_path.empty()) return;
  const maps::MapsLayout source(c.transfer_path);
  if (!fs::is_regular_file(source.maps_json())) {
    CDL_THROW(ConfigError, "--transfer_path '", c.transfer_path,
              "' is not a MAPS folder (no maps.json); expected the MAPS of an earlier training "
              "(clinicadl-hpc or ClinicaDL)");
  }
  const auto file = transfer_source_file(c, split, c.multi_network ? 0 : -1);
  if (fs::is_regular_file(file)) return;
  const auto multi_source = source.best_model(split, c.transfer_selection_metric, 0);
  if (!c.multi_network && fs::is_regular_file(multi_source)) {
    CDL_THROW(ConfigError, "--transfer_path '", c.transfer_path, "' is a multi-network MAPS (",
              multi_source,
              "); a single network cannot start from it (ClinicaDL refuses it too)\n  hint: ",
              "train with --multi_network, or transfer from a single-network MAPS");
  }
  std::string selected;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(source.split_dir(split), error)) {
    const auto metric = maps::MapsLayout::metric_of_best_dir(entry.path().filename().string());
    if (!metric.empty()) selected += (selected.empty() ? "" : ", ") + metric;
  }
  CDL_THROW(ConfigError, "--transfer_path '", c.transfer_path, "' has no best model of split ",
            split, " for --transfer_selection_metric '", c.transfer_selection_metric, "' (", file,
            " is missing); ",
            selected.empty() ? "that split has no best model at all"
                             : "that split selected: " + selected);
}

}  // namespace cdl::train
