// TrainingLog: the log of one split's (and network's) training, in every form a researcher reads
// it: training.tsv (reference 7.3), its TensorBoard event files, and with --track_exp mlflow its
// MLflow run. The trackers' files are kept equal to training.tsv, resumes included.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"
#include "cdl/formats/training_state.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/maps/mlflow_store.hpp"
#include "cdl/maps/tensorboard_events.hpp"

namespace cdl::train {

/// Main rank only. Times: `origin` is the wall time (seconds since the Unix epoch) at which the
/// log's time column was 0; `now` is the wall time of the call.
class TrainingLog {
 public:
  struct Options {
    maps::MapsLayout layout{""};
    int split = 0;
    int network = -1;                       ///< -1: a single-network run
    std::vector<std::string> metric_names;  ///< the task's evaluation metrics, loss excluded
    int64_t batches_per_epoch = 1;          ///< micro-batches of a 1-rank epoch (TensorBoard steps)
    bool mlflow = false;                    ///< --track_exp mlflow
  };
  explicit TrainingLog(Options options);

  /// After a resume: removes the rows of training.tsv written after `progress` was saved and
  /// rewrites the event files and the MLflow metrics from what is left.
  void trim_to(const formats::TrainingProgress& progress, double origin) const;

  /// Starts (or, after a resume, continues) the MLflow run, with maps.json as its parameters.
  void open(double now) const;

  /// Appends one row (epoch, iteration, time, then training.tsv's metric cells) everywhere.
  void append(const std::vector<TsvCell>& row, double origin) const;

  /// The training ended: the MLflow run is marked finished.
  void close(double now) const;

 private:
  Options options_;
  std::string tsv_path_;
  std::vector<std::string> columns_;
  maps::TensorBoardLog tensorboard_;
  std::optional<maps::MlflowRun> mlflow_;
};

}  // namespace cdl::train
