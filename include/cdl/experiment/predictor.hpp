// Predictor: `clinicadl-hpc predict` for one split of a trained MAPS. For each selection metric,
// the best model predicts a data group, each rank its block of samples, and the main rank writes
// ClinicaDL's prediction and metrics TSVs in split-<k>/best-<metric>/<group>/ (reference 7.5, 7.6).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::experiment {

/// One data group to predict with the models of a MAPS.
struct PredictionJob {
  const config::TrainConfig* config = nullptr;  ///< the MAPS's options (maps.json + overrides)
  comm::Communicator* control = nullptr;
  device::ComputeOptions compute;
  maps::MapsLayout layout{""};
  std::string group;                                 ///< the data group's name
  std::shared_ptr<const data::CapsDataset> dataset;  ///< its sessions, built with the MAPS's code
  std::string data_path;                             ///< its DATA (for description.log)
  bool has_labels = true;  ///< false: predictions only (no loss, no metrics files)
  /// Reconstruction: also save each sample's input and output as tensor files (--save_tensor).
  bool save_tensors = false;
};

/// Collective over job.control: for each of `metrics`, loads split-<split>/best-<metric>/
/// model.pth.tar, predicts the group and writes its TSVs. A multi-network MAPS predicts part n of
/// every image with network-<n>_model.pth.tar and writes the TSVs of all parts together (metrics
/// per part, soft-voted images), as its training did. Soft voting of parts (classification
/// outside image mode) weighs them by their accuracy on the split's validation set, which is
/// predicted again with the same model. With `save_tensors` (reconstruction), every rank also
/// writes the input and the reconstruction of each of its samples to best-<metric>/<group>/tensors/
/// <participant>_<session>_<mode>-<id>_{input,output}.pt (ClinicaDL's names; torch.load reads
/// them). Throws DataError when a best model is missing or does not fit the network of maps.json.
void predict_split(const PredictionJob& job, int split, const std::vector<std::string>& metrics);

}  // namespace cdl::experiment
