// Implementation of the prediction and metrics TSV writers.
#include "cdl/maps/prediction_writer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "cdl/core/atomic_file.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/eval/bootstrap.hpp"
#include "cdl/eval/soft_voting.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::maps {
namespace {

std::string mode_of(const data::CapsDataset& dataset) {
  return data::mode_name(dataset.extractor().config().mode);
}

std::string id_column_of(const data::CapsDataset& dataset) {
  return data::id_column(dataset.extractor().config().mode);
}

std::vector<eval::ClassificationPrediction> classification_rows(const GroupPredictions& p) {
  const auto rows = p.evaluation.view();
  auto logits = rows.outputs();
  auto probabilities = torch::softmax(logits, 1);
  auto predicted = logits.argmax(1);
  std::vector<eval::ClassificationPrediction> result;
  for (int64_t i = 0; i < rows.size(); ++i) {
    const auto meta = p.dataset->meta(p.evaluation.sample_indices[static_cast<size_t>(i)]);
    eval::ClassificationPrediction row{meta.participant_id,
                                       meta.session_id,
                                       meta.part_id,
                                       static_cast<int64_t>(rows.label(i)),
                                       predicted[i].item<int64_t>(),
                                       {}};
    for (int64_t k = 0; k < probabilities.size(1); ++k) {
      row.probabilities.push_back(probabilities[i][k].item<double>());
    }
    result.push_back(std::move(row));
  }
  return result;
}

std::vector<eval::RegressionPrediction> regression_rows(const GroupPredictions& p) {
  const auto rows = p.evaluation.view();
  std::vector<eval::RegressionPrediction> result;
  for (int64_t i = 0; i < rows.size(); ++i) {
    const auto meta = p.dataset->meta(p.evaluation.sample_indices[static_cast<size_t>(i)]);
    result.push_back(
        {meta.participant_id, meta.session_id, meta.part_id, rows.label(i), rows.output(i, 0)});
  }
  return result;
}

TsvTable classification_table(const std::vector<eval::ClassificationPrediction>& rows,
                              const std::string& id_column, size_t classes) {
  std::vector<std::string> header{"participant_id", "session_id", id_column, "true_label",
                                  "predicted_label"};
  for (size_t k = 0; k < classes; ++k) header.push_back("proba" + std::to_string(k));
  TsvTable table(header);
  for (const auto& r : rows) {
    std::vector<TsvCell> cells{r.participant_id, r.session_id, r.part_id, r.true_label,
                               r.predicted_label};
    for (double p : r.probabilities) cells.emplace_back(p);
    table.add_row(cells);
  }
  return table;
}

TsvTable regression_table(const std::vector<eval::RegressionPrediction>& rows,
                          const std::string& id_column) {
  TsvTable table({"participant_id", "session_id", id_column, "true_label", "predicted_label"});
  for (const auto& r : rows) {
    table.add_row({r.participant_id, r.session_id, r.part_id, r.true_label, r.predicted_label});
  }
  return table;
}

TsvTable reconstruction_table(const GroupPredictions& p, const std::string& id_column) {
  std::vector<std::string> header{"participant_id", "session_id", id_column};
  for (const auto& name : eval::reconstruction_metric_names()) header.push_back(name);
  TsvTable table(header);
  const auto rows = p.evaluation.view();
  for (int64_t i = 0; i < rows.size(); ++i) {
    const auto meta = p.dataset->meta(p.evaluation.sample_indices[static_cast<size_t>(i)]);
    std::vector<TsvCell> cells{meta.participant_id, meta.session_id, meta.part_id};
    for (int64_t m = 0; m < 4; ++m) cells.emplace_back(rows.output(i, m));
    table.add_row(cells);
  }
  return table;
}

/// A metrics table: a header row of names and one row of values. ClinicaDL labels the part-level
/// tables ("Metrics" / "Values" first column); its ensemble tables have no label column. With
/// `intervals`, three more rows: "Lower bound CI", "Upper bound CI" and "SE" ("N/A" for the loss).
TsvTable metrics_table(const eval::MetricList& metrics, bool labelled = true,
                       const std::map<std::string, eval::MetricInterval>& intervals = {}) {
  std::vector<std::string> header;
  std::vector<TsvCell> values;
  if (labelled) {
    header.push_back("Metrics");
    values.emplace_back("Values");
  }
  for (const auto& [name, value] : metrics) {
    header.push_back(name);
    values.emplace_back(value);
  }
  TsvTable table(header);
  table.add_row(values);
  if (intervals.empty() || !labelled) return table;
  const std::pair<const char*, double eval::MetricInterval::*> rows[] = {
      {"Lower bound CI", &eval::MetricInterval::lower},
      {"Upper bound CI", &eval::MetricInterval::upper},
      {"SE", &eval::MetricInterval::standard_error}};
  for (const auto& [row_name, member] : rows) {
    std::vector<TsvCell> cells{row_name};
    for (const auto& [name, value] : metrics) {
      const auto it = intervals.find(name);
      if (it == intervals.end()) {
        cells.emplace_back("N/A");
      } else {
        cells.emplace_back(it->second.*member);
      }
    }
    table.add_row(cells);
  }
  return table;
}

/// Bootstrap intervals of the part-level metrics of `p` (reference 5.4): (label, prediction)
/// pairs resampled together; reconstruction resamples the per-sample metric values.
std::map<std::string, eval::MetricInterval> part_intervals(const GroupPredictions& p,
                                                           uint64_t seed) {
  eval::BootstrapOptions options;
  options.seed = seed;
  const auto task = p.dataset->task();
  const int64_t n = p.evaluation.rows.size(0);
  if (task == data::Task::kClassification) {
    const auto rows = classification_rows(p);
    const auto classes = static_cast<int64_t>(rows.front().probabilities.size());
    return eval::bootstrap_intervals(
        n,
        [&](const std::vector<int64_t>& picked) {
          std::vector<int64_t> y_true, y_pred;
          for (const auto i : picked) {
            y_true.push_back(rows[static_cast<size_t>(i)].true_label);
            y_pred.push_back(rows[static_cast<size_t>(i)].predicted_label);
          }
          return eval::classification_metrics(y_true, y_pred, classes);
        },
        options);
  }
  if (task == data::Task::kRegression) {
    const auto rows = regression_rows(p);
    return eval::bootstrap_intervals(
        n,
        [&](const std::vector<int64_t>& picked) {
          std::vector<double> y_true, y_pred;
          for (const auto i : picked) {
            y_true.push_back(rows[static_cast<size_t>(i)].true_label);
            y_pred.push_back(rows[static_cast<size_t>(i)].predicted_label);
          }
          return eval::regression_metrics(y_true, y_pred);
        },
        options);
  }
  const auto values = p.evaluation.view().outputs().contiguous();
  const auto* data = values.data_ptr<double>();
  const auto& names = eval::reconstruction_metric_names();
  return eval::bootstrap_intervals(
      n,
      [&](const std::vector<int64_t>& picked) {
        eval::MetricList means;
        for (size_t m = 0; m < names.size(); ++m) {
          double sum = 0.0;
          for (const auto i : picked) sum += data[i * 4 + static_cast<int64_t>(m)];
          means.emplace_back(names[m], sum / static_cast<double>(picked.size()));
        }
        return means;
      },
      options);
}

/// `p` restricted to the rows of part `part` (sample index mod parts).
GroupPredictions part_only(const GroupPredictions& p, int64_t part) {
  const int64_t parts = p.dataset->parts_per_image();
  std::vector<int64_t> kept, indices;
  for (size_t i = 0; i < p.evaluation.sample_indices.size(); ++i) {
    if (p.evaluation.sample_indices[i] % parts != part) continue;
    kept.push_back(static_cast<int64_t>(i));
    indices.push_back(p.evaluation.sample_indices[i]);
  }
  GroupPredictions sub = p;
  sub.evaluation.sample_indices = indices;
  sub.evaluation.rows = p.evaluation.rows.index_select(0, torch::tensor(kept, torch::kInt64));
  eval::EvaluationOptions options;
  options.task = p.dataset->task();
  options.num_classes = std::max<int64_t>(1, p.dataset->label_code().num_classes());
  options.has_labels = p.has_labels;
  sub.evaluation.metrics = eval::evaluation_metrics(sub.evaluation.rows, options);
  return sub;
}

/// The (true, predicted) label columns of prediction rows.
template <typename Row>
auto label_columns(const std::vector<Row>& rows) {
  std::pair<std::vector<decltype(Row::true_label)>, std::vector<decltype(Row::true_label)>> columns;
  for (const auto& r : rows) {
    columns.first.push_back(r.true_label);
    columns.second.push_back(r.predicted_label);
  }
  return columns;
}

eval::MetricList classification_image_metrics(
    const std::vector<eval::ClassificationPrediction>& rows) {
  const auto [y_true, y_pred] = label_columns(rows);
  return eval::classification_metrics(y_true, y_pred,
                                      static_cast<int64_t>(rows.front().probabilities.size()));
}

eval::MetricList regression_image_metrics(const std::vector<eval::RegressionPrediction>& rows) {
  const auto [y_true, y_pred] = label_columns(rows);
  return eval::regression_metrics(y_true, y_pred);
}

void write_description(const std::string& dir, const GroupPredictions& p,
                       const std::string& source) {
  std::set<std::string> participants;
  for (int64_t i = 0; i < p.dataset->num_images(); ++i) {
    participants.insert(p.dataset->table().at(i, "participant_id"));
  }
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  write_text_atomically(
      dir + "/description.log",
      "Prediction " + p.group + " group - " + stamp + "\nData loaded from " + source +
          "\nNumber of participants: " + std::to_string(participants.size()) +
          "\nNumber of sessions: " + std::to_string(p.dataset->num_images()) + "\n");
}

/// The image-level prediction table of a multi-part mode, and its metrics when `labelled`.
std::pair<TsvTable, std::optional<TsvTable>> ensemble_tables(const GroupPredictions& p,
                                                             const GroupPredictions& validation,
                                                             double threshold,
                                                             const std::string& id_column,
                                                             bool labelled) {
  if (p.dataset->task() == data::Task::kClassification) {
    const auto weights = eval::soft_voting_weights(classification_rows(validation), threshold);
    const auto images = eval::soft_voting(classification_rows(p), weights);
    auto table = classification_table(images, id_column, images.front().probabilities.size());
    if (!labelled) return {std::move(table), std::nullopt};
    return {std::move(table), metrics_table(classification_image_metrics(images), false)};
  }
  const auto images = eval::mean_voting(regression_rows(p));
  if (!labelled) return {regression_table(images, id_column), std::nullopt};
  return {regression_table(images, id_column),
          metrics_table(regression_image_metrics(images), false)};
}

/// ClinicaDL's multi-network part-level metrics file: for each part (network) a block of the
/// metrics table with its bootstrap rows, every row tagged with the part id; the first block's
/// name row is the header, the next blocks repeat it as a row.
TsvTable metrics_per_part_table(const GroupPredictions& p, const std::string& id_column,
                                uint64_t seed) {
  std::unique_ptr<TsvTable> table;
  for (int64_t part = 0; part < p.dataset->parts_per_image(); ++part) {
    const auto sub = part_only(p, part);
    const auto block = metrics_table(sub.evaluation.metrics, true, part_intervals(sub, seed));
    auto header = block.columns();
    header.push_back(id_column);
    if (!table) {
      table = std::make_unique<TsvTable>(header);
    } else {
      table->add_row(std::vector<TsvCell>(header.begin(), header.end()));
    }
    for (const auto& row : block.rows()) {
      std::vector<TsvCell> cells(row.begin(), row.end());
      cells.emplace_back(part);
      table->add_row(cells);
    }
  }
  return std::move(*table);
}

}  // namespace

void write_group_predictions(const std::string& dir, const GroupPredictions& predictions,
                             const GroupPredictions& validation, double selection_threshold,
                             const std::string& data_source, uint64_t bootstrap_seed) {
  const auto& dataset = *predictions.dataset;
  const std::string id_column = id_column_of(dataset);
  const std::string prefix = dir + "/" + predictions.group + "_";
  TsvTable part_table =
      dataset.task() == data::Task::kClassification
          ? classification_table(
                classification_rows(predictions), id_column,
                static_cast<size_t>(predictions.evaluation.view().outputs().size(1)))
      : dataset.task() == data::Task::kRegression
          ? regression_table(regression_rows(predictions), id_column)
          : reconstruction_table(predictions, id_column);
  const bool labelled = predictions.has_labels || dataset.task() == data::Task::kReconstruction;
  const std::string mode = mode_of(dataset);
  part_table.write(prefix + mode + "_level_prediction.tsv");
  std::map<std::string, eval::MetricInterval> intervals;
  if (labelled) intervals = part_intervals(predictions, bootstrap_seed);
  const auto part_metrics = [&] {
    return metrics_table(predictions.evaluation.metrics, true, intervals);
  };
  if (labelled) {
    (predictions.metrics_per_part ? metrics_per_part_table(predictions, id_column, bootstrap_seed)
                                  : part_metrics())
        .write(prefix + mode + "_level_metrics.tsv");
  }
  if (mode != "image" && dataset.task() != data::Task::kReconstruction) {
    if (dataset.parts_per_image() > 1) {
      const auto [images, image_metrics] =
          ensemble_tables(predictions, validation, selection_threshold, id_column, labelled);
      images.write(prefix + "image_level_prediction.tsv");
      if (image_metrics) image_metrics->write(prefix + "image_level_metrics.tsv");
    } else {
      part_table.write(prefix + "image_level_prediction.tsv");
      if (labelled) part_metrics().write(prefix + "image_level_metrics.tsv");
    }
  }
  write_description(dir, predictions, data_source);
}

}  // namespace cdl::maps
