// Implementation of distributed evaluation.
#include "cdl/eval/evaluator.hpp"

#include <limits>

#include <torch/torch.h>

#include "cdl/core/error.hpp"
#include "cdl/data/batch_loader.hpp"

namespace cdl::eval {
namespace {

/// False when the loss and metrics need labels that the data does not have.
bool compares_with_labels(const EvaluationOptions& options) {
  return options.has_labels || options.task == data::Task::kReconstruction;
}

/// Rows of one batch (EvaluationRows).
torch::Tensor batch_rows(data::Task task, const torch::Tensor& losses, const torch::Tensor& inputs,
                         const torch::Tensor& labels, const torch::Tensor& outputs) {
  const int64_t batch = inputs.size(0);
  if (task != data::Task::kReconstruction) {
    return EvaluationRows::assemble(losses, labels, outputs.reshape({batch, -1}));
  }
  auto metrics = torch::empty({batch, 4}, torch::kFloat64);
  for (int64_t i = 0; i < batch; ++i) {
    const auto values = reconstruction_metrics(inputs[i], outputs[i]);
    for (int64_t m = 0; m < 4; ++m) metrics[i][m] = values[static_cast<size_t>(m)].second;
  }
  return EvaluationRows::assemble(losses, torch::full({batch}, -1.0, torch::kFloat64), metrics);
}

MetricList classification_from_rows(const EvaluationRows& rows, int64_t num_classes) {
  auto labels = rows.labels().to(torch::kInt64).contiguous();
  auto predicted = rows.outputs().argmax(1).contiguous();
  std::vector<int64_t> y_true(labels.data_ptr<int64_t>(),
                              labels.data_ptr<int64_t>() + labels.numel());
  std::vector<int64_t> y_pred(predicted.data_ptr<int64_t>(),
                              predicted.data_ptr<int64_t>() + predicted.numel());
  return classification_metrics(y_true, y_pred, num_classes);
}

MetricList regression_from_rows(const EvaluationRows& rows) {
  std::vector<double> y_true, y_pred;
  for (int64_t i = 0; i < rows.size(); ++i) {
    y_true.push_back(rows.label(i));
    y_pred.push_back(rows.output(i, 0));
  }
  return regression_metrics(y_true, y_pred);
}

MetricList reconstruction_from_rows(const EvaluationRows& rows) {
  MetricList metrics;
  const auto& names = reconstruction_metric_names();
  const auto means = rows.outputs().mean(0);
  for (size_t m = 0; m < names.size(); ++m) {
    metrics.emplace_back(names[m], means[static_cast<int64_t>(m)].item<double>());
  }
  return metrics;
}

MetricList metrics_from_rows(const EvaluationRows& rows, const EvaluationOptions& options) {
  MetricList metrics;
  if (!compares_with_labels(options)) return metrics;  // predictions only
  if (options.task == data::Task::kClassification) {
    metrics = classification_from_rows(rows, options.num_classes);
  } else if (options.task == data::Task::kRegression) {
    metrics = regression_from_rows(rows);
  } else {
    metrics = reconstruction_from_rows(rows);
  }
  metrics.emplace_back("loss", rows.losses().mean().item<double>());
  return metrics;
}

/// Runs this rank's block and returns its rows, with the sample index as first column.
torch::Tensor local_rows(model::Network& network, std::shared_ptr<const data::CapsDataset> dataset,
                         const std::vector<int64_t>& indices, const EvaluationOptions& options) {
  data::BatchLoader loader(dataset, indices, {options.batch_size, 2, options.stager, {}, 1});
  std::vector<torch::Tensor> rows;
  data::Batch batch;
  int64_t position = 0;
  while (loader.next(batch)) {
    auto inputs = device::prepare_inputs(batch.inputs, options.compute);
    auto outputs = device::forward_in_float(network, inputs, options.compute);
    torch::Tensor losses;
    if (compares_with_labels(options)) {
      auto targets = loss_targets(options.task, inputs, batch.labels.to(options.compute.device));
      losses = per_sample_loss(options.loss_name, outputs, targets);
    } else {
      losses =
          torch::full({batch.size()}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
    }
    auto index_column =
        torch::tensor(std::vector<int64_t>(indices.begin() + position,
                                           indices.begin() + position + batch.size()),
                      torch::kInt64)
            .to(torch::kFloat64)
            .reshape({-1, 1});
    rows.push_back(torch::cat(
        {index_column, batch_rows(options.task, losses, inputs, batch.labels, outputs)}, 1));
    position += batch.size();
  }
  // index, then the rows: loss, label and K logits, 1 value or 4 reconstruction metrics.
  const int64_t outputs = options.task == data::Task::kClassification ? options.num_classes
                          : options.task == data::Task::kRegression   ? 1
                                                                      : 4;
  const int64_t width = 1 + EvaluationRows::kFixedColumns + outputs;
  return rows.empty() ? torch::zeros({0, width}, torch::kFloat64) : torch::cat(rows, 0);
}

/// Collective: copies rank 0's metric names and values to every rank.
void share_metrics(MetricList& metrics, comm::Communicator& comm) {
  std::string names;
  std::vector<double> numbers;
  for (const auto& [name, value] : metrics) {
    names += name + "\t";
    numbers.push_back(value);
  }
  comm.broadcast_string(names, 0);
  std::vector<std::string> split;
  for (size_t start = 0, tab; (tab = names.find('\t', start)) != std::string::npos;
       start = tab + 1) {
    split.push_back(names.substr(start, tab - start));
  }
  auto values = comm.is_main()
                    ? torch::tensor(numbers, torch::kFloat64)
                    : torch::zeros({static_cast<int64_t>(split.size())}, torch::kFloat64);
  comm.broadcast(values, 0);
  metrics.clear();
  for (size_t i = 0; i < split.size(); ++i) {
    metrics.emplace_back(split[i], values[static_cast<int64_t>(i)].item<double>());
  }
}

}  // namespace

const std::vector<std::string>& task_metric_names(data::Task task) {
  if (task == data::Task::kClassification) return classification_metric_names();
  if (task == data::Task::kRegression) return regression_metric_names();
  return reconstruction_metric_names();
}

torch::Tensor loss_targets(data::Task task, const torch::Tensor& inputs,
                           const torch::Tensor& labels) {
  return task == data::Task::kReconstruction ? inputs : labels;
}

torch::Tensor per_sample_loss(const std::string& loss_name, const torch::Tensor& outputs,
                              const torch::Tensor& targets) {
  namespace F = torch::nn::functional;
  if (loss_name == "CrossEntropyLoss") {
    return F::cross_entropy(outputs, targets, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  }
  if (loss_name == "MultiMarginLoss") {
    return F::multi_margin_loss(outputs, targets,
                                F::MultiMarginLossFuncOptions().reduction(torch::kNone));
  }
  const auto target = targets.to(outputs.dtype()).view_as(outputs);
  torch::Tensor elementwise;
  if (loss_name == "MSELoss") {
    elementwise = (outputs - target).pow(2);
  } else if (loss_name == "L1Loss") {
    elementwise = (outputs - target).abs();
  } else if (loss_name == "HuberLoss") {
    elementwise = F::huber_loss(outputs, target, F::HuberLossFuncOptions().reduction(torch::kNone));
  } else if (loss_name == "SmoothL1Loss") {
    elementwise =
        F::smooth_l1_loss(outputs, target, F::SmoothL1LossFuncOptions().reduction(torch::kNone));
  } else {
    CDL_THROW(ConfigError, "unknown loss '", loss_name, "'");
  }
  return elementwise.reshape({outputs.size(0), -1}).mean(1);
}

MetricList evaluation_metrics(const torch::Tensor& rows, const EvaluationOptions& options) {
  return metrics_from_rows(EvaluationRows(rows), options);
}

torch::Tensor EvaluationRows::assemble(const torch::Tensor& losses, const torch::Tensor& labels,
                                       const torch::Tensor& outputs) {
  const int64_t n = outputs.size(0);
  return torch::cat({losses.reshape({n, 1}).to(torch::kCPU, torch::kFloat64),
                     labels.reshape({n, 1}).to(torch::kCPU, torch::kFloat64),
                     outputs.reshape({n, -1}).to(torch::kCPU, torch::kFloat64)},
                    1);
}

Evaluation evaluate(model::Network& network, std::shared_ptr<const data::CapsDataset> dataset,
                    const std::vector<int64_t>& indices, const EvaluationOptions& options,
                    comm::Communicator& comm) {
  torch::NoGradGuard no_grad;
  network.eval();
  auto local = local_rows(network, std::move(dataset), indices, options);
  network.train();
  auto gathered = comm.gather_rows(local, 0);
  Evaluation evaluation;
  if (comm.is_main()) {
    CDL_CHECK(gathered.size(0) > 0, "evaluation of an empty set");
    gathered = gathered.index_select(0, gathered.select(1, 0).argsort());  // dataset order
    auto index_column = gathered.select(1, 0).to(torch::kInt64).contiguous();
    evaluation.sample_indices.assign(index_column.data_ptr<int64_t>(),
                                     index_column.data_ptr<int64_t>() + index_column.numel());
    evaluation.rows = gathered.narrow(1, 1, gathered.size(1) - 1).contiguous();
    evaluation.metrics = metrics_from_rows(evaluation.view(), options);
  }
  share_metrics(evaluation.metrics, comm);
  return evaluation;
}

}  // namespace cdl::eval
