// Evaluation of a network on a set, distributed: every rank runs its block of samples, rank 0
// gathers the per-sample rows, computes the task's metrics and shares them with every rank.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/eval/metrics.hpp"
#include "cdl/model/network.hpp"

namespace cdl::eval {

/// Per-sample loss of `loss_name` (ClinicaDL's loss names) for a task; the mean of the result is
/// the usual mean-reduced loss. Classification targets are int64 [B], others float like outputs.
torch::Tensor per_sample_loss(const std::string& loss_name, const torch::Tensor& outputs,
                              const torch::Tensor& targets);

/// The target tensor the loss compares with: labels (classification, regression) or the inputs.
torch::Tensor loss_targets(data::Task task, const torch::Tensor& inputs,
                           const torch::Tensor& labels);

/// Typed access to evaluation rows, float64 [N, F]: per sample its loss, its label (-1 for
/// reconstruction), then its outputs (classification: K logits; regression: the value;
/// reconstruction: MAE, RMSE, PSNR, SSIM). The one place that knows the column order.
class EvaluationRows {
 public:
  explicit EvaluationRows(torch::Tensor rows) : rows_(std::move(rows)) {}
  /// Rows from their columns: `losses` [N], `labels` [N], `outputs` [N, K] (any dtype, any device).
  static torch::Tensor assemble(const torch::Tensor& losses, const torch::Tensor& labels,
                                const torch::Tensor& outputs);
  /// Columns of the rows besides the outputs.
  static constexpr int64_t kFixedColumns = 2;

  int64_t size() const { return rows_.size(0); }
  torch::Tensor losses() const { return rows_.select(1, 0); }  ///< [N]
  torch::Tensor labels() const { return rows_.select(1, 1); }  ///< [N]
  torch::Tensor outputs() const {                              ///< [N, K]
    return rows_.narrow(1, kFixedColumns, rows_.size(1) - kFixedColumns);
  }
  double label(int64_t i) const { return rows_[i][1].item<double>(); }
  double output(int64_t i, int64_t k) const { return rows_[i][kFixedColumns + k].item<double>(); }

 private:
  torch::Tensor rows_;
};

/// Evaluation of one set. Rows and metrics are filled on rank 0; `metrics` on every rank.
struct Evaluation {
  MetricList metrics;                   ///< task metrics (ClinicaDL order) then "loss" (mean)
  std::vector<int64_t> sample_indices;  ///< rank 0: dataset index of each row
  torch::Tensor rows;                   ///< rank 0, float64 [N, F]: read through view()

  /// Typed access to `rows` (rank 0).
  EvaluationRows view() const { return EvaluationRows(rows); }
};

/// What an evaluation needs besides the network and the data.
struct EvaluationOptions {
  data::Task task = data::Task::kClassification;
  std::string loss_name = "CrossEntropyLoss";
  int64_t num_classes = 2;
  int64_t batch_size = 8;
  device::ComputeOptions compute;             ///< device, autocast, layout, device transforms
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

}  // namespace cdl::eval
