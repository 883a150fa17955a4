// MapsLayout: the file names of a ClinicaDL MAPS folder (reference section 7.1) in one place.
#pragma once

#include <string>

namespace cdl::train {

/// Paths inside a MAPS folder. `network` is the network index of multi-network runs (ClinicaDL's
/// `network-<n>` names), -1 for single-network runs. Multi-network training state lives in
/// tmp/network-<n>/ because the networks of a split may train at the same time.
class MapsLayout {
 public:
  explicit MapsLayout(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string maps_json() const { return root_ + "/maps.json"; }
  std::string split_dir(int split) const { return root_ + "/split-" + std::to_string(split); }
  std::string tmp_dir(int split, int network = -1) const {
    return split_dir(split) + "/tmp" + (network >= 0 ? "/" + network_name(network) : "");
  }
  std::string checkpoint(int split, int network = -1) const {
    return tmp_dir(split, network) + "/checkpoint.pth.tar";
  }
  std::string optimizer(int split, int network = -1) const {
    return tmp_dir(split, network) + "/optimizer.pth.tar";
  }
  std::string training_state(int split, int network = -1) const {
    return tmp_dir(split, network) + "/training_state.pt";
  }
  std::string training_tsv(int split, int network = -1) const {
    return split_dir(split) + "/training_logs/" +
           (network >= 0 ? network_name(network) + "/" : "") + "training.tsv";
  }
  std::string best_dir(int split, const std::string& metric) const {
    return split_dir(split) + "/best-" + metric;
  }
  std::string best_model(int split, const std::string& metric, int network = -1) const {
    return best_dir(split, metric) + "/" + (network >= 0 ? network_name(network) + "_" : "") +
           "model.pth.tar";
  }
  std::string all_models(int split, int64_t epoch, int network = -1) const {
    return split_dir(split) + "/all_models/" + (network >= 0 ? network_name(network) + "/" : "") +
           "model_epoch_" + std::to_string(epoch) + ".pth.tar";
  }
  /// best-<metric>/<group>/
  std::string group_dir(int split, const std::string& metric, const std::string& group) const {
    return best_dir(split, metric) + "/" + group;
  }
  /// groups/<group>/split-<k>/
  std::string group_definition(const std::string& group, int split) const {
    return root_ + "/groups/" + group + "/split-" + std::to_string(split);
  }
  /// "network-<n>".
  static std::string network_name(int network) { return "network-" + std::to_string(network); }

 private:
  std::string root_;
};

}  // namespace cdl::train
