// MapsLayout: the file names of a ClinicaDL MAPS folder (reference section 7.1) in one place.
// Every path the engine reads or writes in a MAPS comes from here.
#pragma once

#include <cstdint>
#include <string>

namespace cdl::maps {

/// Paths inside a MAPS folder. `network` is the network index of multi-network runs (ClinicaDL's
/// `network-<n>` names), -1 for single-network runs. Multi-network training state lives in
/// tmp/network-<n>/ because the networks of a split may train at the same time.
class MapsLayout {
 public:
  explicit MapsLayout(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string maps_json() const { return root_ + "/maps.json"; }
  std::string environment_txt() const { return root_ + "/environment.txt"; }
  std::string information_log() const { return root_ + "/information.log"; }
  std::string split_dir(int split) const { return root_ + "/" + split_dir_name(split); }
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
  /// split-<k>/training_logs/: what a training logs (TSV, TensorBoard, emissions).
  std::string training_logs_dir(int split) const { return split_dir(split) + "/training_logs"; }
  std::string training_tsv(int split, int network = -1) const {
    return training_logs_dir(split) + "/" + (network >= 0 ? network_name(network) + "/" : "") +
           "training.tsv";
  }
  /// training_logs/[network-<n>/]emissions.csv: the --emissions_calculator rows (CodeCarbon's).
  std::string emissions_csv(int split, int network = -1) const {
    return training_logs_dir(split) + "/" + (network >= 0 ? network_name(network) + "/" : "") +
           "emissions.csv";
  }
  /// training_logs/[network-<n>/]tensorboard/, holding train/ and validation/ event files.
  std::string tensorboard_dir(int split, int network = -1) const {
    return training_logs_dir(split) + "/" + (network >= 0 ? network_name(network) + "/" : "") +
           "tensorboard";
  }
  /// profiler/split-<k>[-network-<n>].pt.trace.json: the --profiler trace of a training.
  std::string profiler_trace(int split, int network = -1) const {
    return root_ + "/profiler/" + split_dir_name(split) +
           (network >= 0 ? "-" + network_name(network) : "") + ".pt.trace.json";
  }
  /// mlruns/: the MLflow file store of --track_exp mlflow (maps/mlflow_store.hpp).
  std::string mlruns_dir() const { return root_ + "/mlruns"; }
  std::string best_dir(int split, const std::string& metric) const {
    return split_dir(split) + "/" + best_dir_name(metric);
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
  /// best-<metric>/<group>/<group>_<level>_level_metrics.tsv (level: image, patch, roi, slice).
  std::string metrics_tsv(int split, const std::string& metric, const std::string& group,
                          const std::string& level) const {
    return group_dir(split, metric, group) + "/" + group + "_" + level + "_level_metrics.tsv";
  }
  /// groups/: the definitions of the data groups.
  std::string groups_dir() const { return root_ + "/groups"; }
  /// groups/<group>/: a group defined by `predict` (data.tsv and maps.json directly inside).
  std::string group_folder(const std::string& group) const { return groups_dir() + "/" + group; }
  /// groups/<group>/split-<k>/: the train and validation groups, one definition per split.
  std::string group_definition(const std::string& group, int split) const {
    return group_folder(group) + "/" + split_dir_name(split);
  }
  /// A group definition's folder: groups/<group>/split-<k>/ (split >= 0) or groups/<group>/.
  std::string group_location(const std::string& group, int split = -1) const {
    return split >= 0 ? group_definition(group, split) : group_folder(group);
  }
  /// The sessions of a group definition (data.tsv).
  std::string group_table(const std::string& group, int split = -1) const {
    return group_location(group, split) + "/data.tsv";
  }
  /// Where a group's images are (maps.json: caps_directory, multi_cohort).
  std::string group_json(const std::string& group, int split = -1) const {
    return group_location(group, split) + "/maps.json";
  }
  /// groups/train+validation.tsv: every session of the training, over all splits.
  std::string train_validation_tsv() const { return groups_dir() + "/train+validation.tsv"; }

  /// "network-<n>".
  static std::string network_name(int network) { return "network-" + std::to_string(network); }
  /// "split-<k>".
  static std::string split_dir_name(int64_t split) { return "split-" + std::to_string(split); }
  /// k for a folder named "split-<k>", else -1.
  static int64_t split_of_dir(const std::string& name) {
    if (name.rfind("split-", 0) != 0 || name.size() == 6 || name.size() > 15) return -1;
    int64_t split = 0;
    for (size_t i = 6; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return -1;
      split = split * 10 + (name[i] - '0');
    }
    return split;
  }
  /// "best-<metric>".
  static std::string best_dir_name(const std::string& metric) { return "best-" + metric; }
  /// The metric of a best-<metric> folder name, or "" for any other name.
  static std::string metric_of_best_dir(const std::string& name) {
    return name.rfind("best-", 0) == 0 ? name.substr(5) : std::string();
  }
  /// True for a best-<metric> folder name.
  static bool is_best_model_dir(const std::string& name) {
    return !metric_of_best_dir(name).empty();
  }

 private:
  std::string root_;
};

}  // namespace cdl::maps
