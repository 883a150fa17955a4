// Implementation of `clinicadl-hpc plot`: every training log of a MAPS (splits, networks), the
// epochs of its best models, drawn by maps/training_curves.
#include "plot_command.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/maps/maps_config.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/maps/training_curves.hpp"
#include "collective_command.hpp"
#include "command_line.hpp"

namespace cdl::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "Usage: clinicadl-hpc plot MAPS_DIR [--output FILE.svg]\n"
    "Draws the training and validation curves of every split (and network) of MAPS_DIR, one\n"
    "panel per metric, best models marked, as an SVG drawing any web browser opens.\n"
    "  --output FILE.svg   where to write it (default: MAPS_DIR/training_curves.svg)\n";

/// The split numbers of the MAPS that have a training log, in order.
std::vector<int64_t> logged_splits(const std::string& root) {
  std::vector<int64_t> splits;
  const maps::MapsLayout layout(root);
  for (const auto& entry : fs::directory_iterator(root)) {
    const int64_t split = maps::MapsLayout::split_of_dir(entry.path().filename().string());
    if (split >= 0 && fs::is_directory(layout.training_logs_dir(static_cast<int>(split)))) {
      splits.push_back(split);
    }
  }
  std::sort(splits.begin(), splits.end());
  return splits;
}

/// The networks of a multi-network split's logs (network-<n> folders), in order; {-1} when the
/// split has one network.
std::vector<int> logged_networks(const maps::MapsLayout& layout, int split) {
  if (fs::exists(layout.training_tsv(split))) return {-1};
  std::vector<int> networks;
  for (int n = 0; fs::exists(layout.training_tsv(split, n)); ++n) networks.push_back(n);
  return networks;
}

/// Selection metric -> epoch of its best model, for the models present.
std::map<std::string, int64_t> best_epochs(const maps::MapsLayout& layout, int split, int network,
                                           const std::vector<std::string>& metrics) {
  std::map<std::string, int64_t> epochs;
  for (const auto& metric : metrics) {
    const auto path = layout.best_model(split, metric, network);
    if (fs::exists(path)) epochs[metric] = formats::load_model_checkpoint(path).epoch;
  }
  return epochs;
}

void plot(const std::vector<std::string>& args) {
  const auto line = parse_command_line(args, {{"--output", Arity::kOne}}, 1, kUsage);
  const std::string root = line.positional.at(0);
  const auto config = maps::read_maps_config(root);
  const maps::MapsLayout layout(root);
  std::vector<maps::TrainingCurves> curves;
  for (const int64_t split : logged_splits(root)) {
    for (const int network : logged_networks(layout, static_cast<int>(split))) {
      maps::TrainingCurves curve;
      curve.name = maps::MapsLayout::split_dir_name(split) +
                   (network >= 0 ? " " + maps::MapsLayout::network_name(network) : "");
      curve.log = TsvTable::read(layout.training_tsv(static_cast<int>(split), network));
      curve.best_epoch =
          best_epochs(layout, static_cast<int>(split), network, config.selection_metrics);
      if (curve.log.num_rows() > 0) curves.push_back(std::move(curve));
    }
  }
  if (curves.empty()) {
    CDL_THROW(ConfigError, "MAPS '", root, "' has no training log with a row yet ",
              "(split-<k>/training_logs/training.tsv); expected a MAPS that trained an epoch");
  }
  const std::string output = line.value("--output", root + "/training_curves.svg");
  const std::string title = fs::path(root).lexically_normal().filename().string() + ": " +
                            config.architecture + ", " + data::task_name(config.network_task);
  write_text_atomically(output, maps::training_curves_svg(title, curves));
  std::cout << "Training curves of " << curves.size() << " log(s) written to " << output << "\n";
}

}  // namespace

int run_plot(const std::vector<std::string>& args) {
  const int status = check_before_mpi([&] { plot(args); });
  return status == kGoOn ? 0 : status;
}

}  // namespace cdl::app
