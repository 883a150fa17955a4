// `clinicadl-hpc predict` as a job: which best models predict which sessions (ClinicaDL's group
// rules, reference 7.6), checked before MPI starts, then the predictions of every (split, metric)
// written into the MAPS. The command line itself is parsed in app/.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/tsv_table.hpp"

namespace cdl::experiment {

/// What a predict command asks for, besides the training options it changes.
struct PredictRequest {
  std::string group;                           ///< DATA_GROUP
  std::string data_path;                       ///< --data: images of a new group
  std::string tsv_path;                        ///< --tsv: sessions of a new group
  std::vector<std::string> selection_metrics;  ///< --selection_metrics (empty: every best model)
  bool no_labels = false;                      ///< --no_labels
  bool skip_leak_check = false;                ///< --skip_leak_check
  bool overwrite = false;                      ///< --overwrite: redefine an existing group
  bool save_tensors = false;                   ///< --save_tensor (reconstruction)
};

/// Everything predict needs, resolved identically on every rank before MPI starts.
struct PredictPlan {
  config::TrainConfig config;
  std::string group;
  std::string data_path;                     ///< the group's DATA
  TsvTable table;                            ///< the group's sessions, with a cohort column
  std::map<int64_t, TsvTable> split_tables;  ///< train/validation groups: one per split
  bool has_labels = true;
  bool save_tensors = false;      ///< --save_tensor (reconstruction)
  bool write_definition = false;  ///< new group (or --overwrite): write groups/<group>/
  bool clear_results = false;     ///< --overwrite: delete the group's old results first
  std::vector<std::pair<int64_t, std::vector<std::string>>> work;  ///< split -> metrics
};

/// Resolves `request` against the MAPS of `config` (its options from maps.json, with the command
/// line's changes, validated): splits and best models, the group's sessions and where its images
/// are. Not collective; every rank reaches the same plan or the same ConfigError.
PredictPlan make_predict_plan(config::TrainConfig config, const PredictRequest& request);

/// Collective: sets up the device, claims the MAPS (main rank), writes the group's definition
/// and predicts every (split, metric) of the plan.
void run_predict_job(PredictPlan& plan, comm::Runtime& runtime);

}  // namespace cdl::experiment
