// MapsLayout: the file names of a ClinicaDL MAPS folder (reference section 7.1) in one place.
#pragma once

#include <string>

namespace cdl::train {

/// Paths inside a MAPS folder.
class MapsLayout {
 public:
  explicit MapsLayout(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string maps_json() const { return root_ + "/maps.json"; }
  std::string split_dir(int split) const { return root_ + "/split-" + std::to_string(split); }
  std::string tmp_dir(int split) const { return split_dir(split) + "/tmp"; }
  std::string checkpoint(int split) const { return tmp_dir(split) + "/checkpoint.pth.tar"; }
  std::string optimizer(int split) const { return tmp_dir(split) + "/optimizer.pth.tar"; }
  std::string training_state(int split) const { return tmp_dir(split) + "/training_state.pt"; }
  std::string training_tsv(int split) const {
    return split_dir(split) + "/training_logs/training.tsv";
  }
  std::string best_dir(int split, const std::string& metric) const {
    return split_dir(split) + "/best-" + metric;
  }
  std::string best_model(int split, const std::string& metric) const {
    return best_dir(split, metric) + "/model.pth.tar";
  }
  std::string all_models(int split, int64_t epoch) const {
    return split_dir(split) + "/all_models/model_epoch_" + std::to_string(epoch) + ".pth.tar";
  }
  /// best-<metric>/<group>/
  std::string group_dir(int split, const std::string& metric, const std::string& group) const {
    return best_dir(split, metric) + "/" + group;
  }
  /// groups/<group>/split-<k>/
  std::string group_definition(const std::string& group, int split) const {
    return root_ + "/groups/" + group + "/split-" + std::to_string(split);
  }

 private:
  std::string root_;
};

}  // namespace cdl::train
