// Implementation of the training log and its trackers.
#include "cdl/train/training_log.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cdl/core/atomic_file.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::train {

TrainingLog::TrainingLog(Options options)
    : options_(std::move(options)),
      tsv_path_(options_.layout.training_tsv(options_.split, options_.network)),
      columns_(maps::training_tsv_header(options_.metric_names)),
      tensorboard_(options_.layout.tensorboard_dir(options_.split, options_.network),
                   options_.batches_per_epoch) {
  if (options_.mlflow) mlflow_.emplace(options_.layout, options_.split, options_.network);
}

void TrainingLog::trim_to(const formats::TrainingProgress& progress, double origin) const {
  formats::trim_training_log(tsv_path_, progress);
  if (!std::filesystem::exists(tsv_path_)) return;
  const auto table = TsvTable::read(tsv_path_);
  tensorboard_.rewrite(table, origin);
  if (mlflow_) mlflow_->write_metrics(table, origin);
}

void TrainingLog::open(double now) const {
  if (!mlflow_) return;
  const auto parameters =
      nlohmann::ordered_json::parse(read_text_file(options_.layout.maps_json()), nullptr, false);
  mlflow_->start(parameters.is_object() ? parameters : nlohmann::ordered_json::object(), now);
}

void TrainingLog::append(const std::vector<TsvCell>& row, double origin) const {
  maps::append_tsv_row(tsv_path_, columns_, row);
  std::vector<std::string> texts;
  for (const auto& cell : row) texts.push_back(cell.text());
  tensorboard_.append_row(columns_, texts, origin + std::stod(texts.at(2)));
  if (mlflow_) mlflow_->write_metrics(TsvTable::read(tsv_path_), origin);
}

void TrainingLog::close(double now) const {
  if (mlflow_) mlflow_->finish(now);
}

}  // namespace cdl::train
