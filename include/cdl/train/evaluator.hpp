// Evaluation of a network on a set, distributed: every rank runs its block of samples, rank 0
// gathers the per-sample rows, computes the task's metrics and shares them with every rank.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/model/network.hpp"
#include "cdl/train/compute.hpp"
#include "cdl/train/metrics.hpp"

namespace cdl::train {

/// Per-sample loss of `loss_name` (ClinicaDL's loss names) for a task; the mean of the result is
/// the usual mean-reduced loss. Classification targets are int64 [B], others float like outputs.
torch::Tensor per_sample_loss(const std::string& loss_name, const torch::Tensor& outputs,
                              const torch::Tensor& targets);

/// The target tensor the loss compares with: labels (classification, regression) or the inputs.
torch::Tensor loss_targets(data::Task task, const torch::Tensor& inputs,
                           const torch::Tensor& labels);

/// Evaluation of one set. Rows and metrics are filled on rank 0; `metrics` on every rank.
struct Evaluation {
  MetricList metrics;                   ///< task metrics (ClinicaDL order) then "loss" (mean)
  std::vector<int64_t> sample_indices;  ///< rank 0: dataset index of each row
  torch::Tensor rows;  ///< rank 0, float64 [N, F]: loss, label, outputs (classification: logits;
                       ///< regression: value; reconstruction: MAE, RMSE, PSNR, SSIM)
};

/// What an evaluation needs besides the network and the data.
struct EvaluationOptions {
  data::Task task = data::Task::kClassification;
  std::string loss_name = "CrossEntropyLoss";
  int64_t num_classes = 2;
  int64_t batch_size = 8;
  ComputeOptions compute;                     ///< device, autocast, layout, device transforms
  std::shared_ptr<data::BatchStager> stager;  ///< copies batches to the device ahead (or null)
  /// False for data without labels (predict --no_labels): classification and regression rows get
  /// a NaN loss and no metric is computed (reconstruction compares with the input: unaffected).
  bool has_labels = true;
};

/// Collective: evaluates `network` (eval mode, no grad) on `indices` (this rank's samples; ranks
/// may hold different counts, no sample twice), gathers rows on rank 0 in dataset order, computes
/// the metrics there and broadcasts them. Puts the network back in train mode.
Evaluation evaluate(model::Network& network, std::shared_ptr<const data::CapsDataset> dataset,
                    const std::vector<int64_t>& indices, const EvaluationOptions& options,
                    comm::Communicator& comm);

/// The metrics of evaluation rows (Evaluation::rows): the task's metrics then "loss", or nothing
/// for classification/regression without labels. Not collective.
MetricList evaluation_metrics(const torch::Tensor& rows, const EvaluationOptions& options);

/// Task metric names in ClinicaDL's order (classification names gain "-c" suffixes in
/// multi-class only inside MetricList values, not here).
const std::vector<std::string>& task_metric_names(data::Task task);

}  // namespace cdl::train
