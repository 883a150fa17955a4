// TrainingState: what a split's training needs to continue exactly where it stopped, in one file
// (MAPS/split-<k>/tmp/training_state.pt) written atomically at every epoch end, every
// --checkpoint_steps weight updates and on a stop request. A kill at any moment leaves either the
// previous or the new state, never a mix. ClinicaDL's tmp/checkpoint.pth.tar and
// tmp/optimizer.pth.tar are still written at epoch ends for its tools; resume reads only this.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <string>

#include "cdl/model/grad_scaler.hpp"

namespace cdl::formats {

/// Where the training stands, besides weights and optimizer state.
struct TrainingProgress {
  int64_t epoch = 0;        ///< the epoch to run, or to continue
  int64_t next_update = 0;  ///< weight updates of `epoch` already done (0: it starts afresh)
  /// Position in the epoch (over all ranks) of the first micro-batch of update `next_update`:
  /// training.tsv rows of `epoch` from this iteration on were written after the state.
  int64_t next_micro_batch = 0;
  int64_t updates = 0;           ///< weight updates performed so far (all epochs)
  int world_size = 1;            ///< ranks of the run that wrote the state
  int64_t batch_size = 0;        ///< micro-batch size of the run that wrote the state
  int64_t virtual_batch = 0;     ///< samples per weight update of the run that wrote the state
  double elapsed_seconds = 0.0;  ///< training.tsv's time column continues from here
  /// Validation loss of the last finished epoch (NaN before the first one).
  double last_valid_loss = std::numeric_limits<double>::quiet_NaN();
  nlohmann::json retain_best = nlohmann::json::object();     ///< eval::RetainBest::state()
  nlohmann::json early_stopping = nlohmann::json::object();  ///< train::EarlyStopping::state()
  nlohmann::json adaptive_lr = nullptr;  ///< train::AdaptiveLearningRate::state()

  /// True when the state was taken inside an epoch (it then resumes only with the same
  /// micro-batch size and virtual batch, at any number of ranks).
  bool inside_epoch() const { return next_update > 0; }

  nlohmann::json to_json() const;
  /// Throws DataError naming `source` when a field is missing or has the wrong type.
  static TrainingProgress from_json(const nlohmann::json& json, const std::string& source);
};

/// Main rank: writes weights and buffers of `module`, the optimizer state (with the scaler's when
/// enabled) and `progress` to `path`, atomically.
void save_training_state(const std::string& path, const torch::nn::Module& module,
                         torch::optim::Optimizer& optimizer, const model::GradScaler* scaler,
                         const TrainingProgress& progress);

/// Restores a state file's content (`bytes`, read by the main rank and broadcast) into `module`
/// (strict key and shape check), `optimizer` (its tensors placed on `device`) and `scaler`;
/// returns the progress. Throws DataError naming `source` when the content is not a training
/// state or does not match the network.
TrainingProgress restore_training_state(const std::string& bytes, const std::string& source,
                                        torch::nn::Module& module,
                                        torch::optim::Optimizer& optimizer,
                                        model::GradScaler* scaler, torch::Device device);

/// Removes the rows of training.tsv at `path` written after `progress` was saved: rows of later
/// epochs, and rows of epoch `progress.epoch` at iteration `progress.next_micro_batch` or later
/// (their evaluations run again). Returns how many rows were removed; no file, nothing to do.
size_t trim_training_log(const std::string& path, const TrainingProgress& progress);

}  // namespace cdl::formats
