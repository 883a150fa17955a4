// An MLflow run per training log, in an MLflow file store inside the MAPS (<MAPS>/mlruns/): the
// offline form of ClinicaDL's `--track_exp mlflow` for clusters without a tracking server.
// Experiment "clinicadl-<MAPS folder name>" (ClinicaDL's name), run "split-<k>" (or
// "split-<k>-network-<n>"), parameters from maps.json (less preprocessing_dict, as ClinicaDL logs
// them), and per epoch "<metric>_train" and "<metric>_valid" at step = epoch, from training.tsv.
// Users open it with `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri <MAPS>/mlruns`,
// or move it to a database with `mlflow migrate-filestore`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cdl/core/tsv_table.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::maps {

/// The MLflow run of one split (and network) of a MAPS. Main rank only; every file is written
/// atomically, so a killed job leaves a store MLflow reads.
class MlflowRun {
 public:
  MlflowRun(const MapsLayout& layout, int split, int network = -1);

  /// The run's id and name: "split-<k>[-network-<n>]".
  const std::string& run_id() const { return run_id_; }

  /// Creates the experiment when the store has none, and the run (status RUNNING, started at
  /// `wall_time`, seconds since the Unix epoch) with `parameters` (maps.json's entries); a run
  /// that exists (a resume) keeps its start time and becomes RUNNING again.
  void start(const nlohmann::ordered_json& parameters, double wall_time) const;

  /// Rewrites the run's metrics from `training_log` (training.tsv): the last row of each epoch,
  /// at step = epoch, timestamped `origin` + its time column.
  void write_metrics(const TsvTable& training_log, double origin) const;

  /// Marks the run FINISHED at `wall_time`.
  void finish(double wall_time) const;

 private:
  std::string store_;  // <MAPS>/mlruns
  std::string experiment_name_;
  std::string run_id_;
  std::string run_dir() const;
  void write_run_meta(int status, int64_t start_ms, const std::string& end_ms) const;
};

/// An absolute local path as a file:// URI (bytes outside RFC 3986's unreserved set and '/'
/// percent-encoded), as MLflow records artifact locations.
std::string file_uri(const std::string& path);

}  // namespace cdl::maps
