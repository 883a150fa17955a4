// SplitTrainer: trains one network on one split of a ClinicaDL split tree, data parallel over the
// ranks of a communicator, and writes its part of the MAPS folder (training log, checkpoints, best
// models, prediction and metrics TSVs). Rank 0 evaluates, selects, decides and writes.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>

#include "cdl/comm/communicator.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/split_data.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/eval/evaluator.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/model/network.hpp"

namespace cdl::train {

/// Builds the network of `config` for the sample shape and label code of `data`.
model::NetworkPtr build_network(const config::TrainConfig& config, const data::SplitData& data);

/// What a split trainer runs on.
struct TrainerContext {
  const config::TrainConfig* config = nullptr;
  comm::Communicator* control = nullptr;    ///< MPI: gathers, decisions
  comm::Communicator* gradients = nullptr;  ///< MPI or NCCL: gradient averaging
  device::ComputeOptions compute;           ///< device, autocast, memory layout
  maps::MapsLayout layout{""};
  /// D of the virtual batch batch_size x accumulation_steps x D (data/shard_plan.hpp); 0 means
  /// the number of ranks of `control`. The experiment sets it so that results do not depend on
  /// how many ranks a unit of work gets.
  int64_t data_parallel_width = 0;
  /// Multi-network: the network (= part) this trainer trains, on the sets of load_split(...,
  /// network); its files get ClinicaDL's network-<n> names and it leaves the prediction TSVs to
  /// the experiment (SplitSummary::best_evaluations). -1: the single network.
  int network = -1;
  /// Continue from split-<k>/tmp/training_state.pt (`clinicadl-hpc resume`) instead of starting.
  bool resume = false;
  /// Only evaluate the existing best models (a multi-network unit that finished before a
  /// resume), for SplitSummary::best_evaluations.
  bool evaluate_only = false;
  /// Called once the set-up succeeded, before the trainer writes anything (may be empty).
  std::function<void()> on_start;
};

/// Summary of a finished split, for the final report.
struct SplitSummary {
  int64_t epochs_run = 0;
  bool stopped_early = false;
  std::vector<std::pair<std::string, double>> final_validation;  ///< last epoch's metrics
  double images_per_second = 0.0;         ///< training throughput over all ranks, every epoch
  double steady_images_per_second = 0.0;  ///< the same without epoch 0 (warm-up), if more ran
  bool samples_are_parts = false;   ///< samples are patches, ROIs or slices (not whole images)
  double data_wait_fraction = 0.0;  ///< share of training time spent waiting for data (rank 0)
  double allreduce_seconds = 0.0;   ///< time inside gradient all-reduce calls (rank 0)
  /// Time rank 0's training waited for gradient reductions: what backward did not hide.
  double exposed_allreduce_seconds = 0.0;
  double exposed_allreduce_fraction = 0.0;  ///< the same as a share of training time
  /// Multi-network, on the unit's main rank: the (train, validation) evaluations of each best
  /// model, by selection metric.
  std::map<std::string, std::pair<eval::Evaluation, eval::Evaluation>> best_evaluations;
};

/// Trains one split. Collective over context.control and context.gradients.
class SplitTrainer {
 public:
  SplitTrainer(TrainerContext context, int split, data::SplitData data);
  ~SplitTrainer();

  /// Collective: runs the epochs, then evaluates every best model on train and validation and
  /// writes their TSVs; removes split-<k>/tmp at the end. The training state is written at every
  /// epoch end and every --checkpoint_steps weight updates. When a rank received a stop signal
  /// (core/stop_request.hpp), all ranks write the state at the next weight update and throw
  /// Interrupted together.
  SplitSummary run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdl::train
