// Implementation of the predict job.
#include "cdl/experiment/predict_job.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/split_reader.hpp"
#include "cdl/device/device_setup.hpp"
#include "cdl/experiment/predictor.hpp"
#include "cdl/experiment/split_loading.hpp"
#include "cdl/experiment/training_job.hpp"
#include "cdl/maps/maps_claim.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::experiment {
namespace fs = std::filesystem;
namespace {

bool is_training_group(const std::string& group) {
  return group == "train" || group == "validation";
}

/// The best-<metric> folders of a split, sorted by name.
std::vector<std::string> trained_metrics(const maps::MapsLayout& layout, int64_t split) {
  std::vector<std::string> metrics;
  std::error_code error;
  for (const auto& entry :
       fs::directory_iterator(layout.split_dir(static_cast<int>(split)), error)) {
    const auto metric = maps::MapsLayout::metric_of_best_dir(entry.path().filename().string());
    if (entry.is_directory() && !metric.empty()) metrics.push_back(metric);
  }
  std::sort(metrics.begin(), metrics.end());
  return metrics;
}

/// Splits and metrics to predict with; ConfigError for a split or model that is not there.
void plan_work(const PredictRequest& request, PredictPlan& plan) {
  const maps::MapsLayout layout(plan.config.maps_dir);
  for (const auto split : requested_splits(plan.config)) {
    auto available = trained_metrics(layout, split);
    std::vector<std::string> metrics = available;
    if (!request.selection_metrics.empty()) metrics = request.selection_metrics;
    for (const auto& metric : metrics) {
      // Multi-network MAPS: network 0's model stands for the others (checked when read).
      const int network = plan.config.multi_network ? 0 : -1;
      const auto model = layout.best_model(static_cast<int>(split), metric, network);
      if (!fs::is_regular_file(model)) {
        CDL_THROW(ConfigError, "split ", split, " of '", plan.config.maps_dir,
                  "' has no best model for '", metric, "' (", model, " is missing)",
                  available.empty() ? "; the split did not finish training"
                                    : "; it has best-" + available.front() + "...");
      }
    }
    if (!metrics.empty()) plan.work.emplace_back(split, metrics);
  }
  if (plan.work.empty()) {
    CDL_THROW(ConfigError, "'", plan.config.maps_dir,
              "' has no best model to predict with: no split finished training");
  }
}

/// The label column check: present, or --no_labels (reconstruction needs none).
void check_labels(const TsvTable& table, PredictPlan& plan) {
  if (plan.config.network_task == data::Task::kReconstruction || !plan.has_labels) return;
  if (table.has_column(plan.config.label)) return;
  CDL_THROW(ConfigError, "'", table.source(), "' has no column '", plan.config.label,
            "', needed for the loss and the metrics\n  hint: add --no_labels to predict without "
            "metrics, or --label to name another column");
}

/// A new group's table: --tsv filtered on the diagnoses (when it has them), cohort "single".
TsvTable read_new_group(const std::string& tsv, const PredictPlan& plan) {
  auto table = TsvTable::read(tsv);
  table.require_columns({"participant_id", "session_id"});
  if (plan.config.network_task == data::Task::kClassification && plan.has_labels &&
      table.has_column("diagnosis")) {
    table = data::read_split_table(tsv, plan.config.diagnoses, data::kSingleCohort);
  } else if (!table.has_column("cohort")) {
    table.set_column("cohort", data::kSingleCohort);
  }
  if (table.num_rows() == 0) {
    CDL_THROW(ConfigError, "'", tsv,
              "' has no session left (diagnoses kept: ", plan.config.diagnoses.size(),
              " name(s))\n  hint: check --diagnoses");
  }
  return table;
}

/// ClinicaDL's leak check: no participant of the training in a new group.
void check_no_leak(const TsvTable& table, const maps::MapsLayout& layout) {
  const auto trained = layout.train_validation_tsv();
  if (!fs::is_regular_file(trained)) return;
  const auto known = TsvTable::read(trained);
  std::set<std::string> participants;
  for (int64_t r = 0; r < known.num_rows(); ++r) participants.insert(known.at(r, "participant_id"));
  std::set<std::string> shared;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    if (participants.count(table.at(r, "participant_id"))) {
      shared.insert(table.at(r, "participant_id"));
    }
  }
  if (shared.empty()) return;
  CDL_THROW(ConfigError, "'", table.source(), "' holds ", shared.size(),
            " participant(s) of the training (e.g. ", *shared.begin(), ", listed in ", trained,
            "): their predictions would look better than they are\n  hint: remove them, or add "
            "--skip_leak_check if this is intended (e.g. to predict the training data again)");
}

/// train or validation: the training's own tables of each split, never redefined.
void resolve_training_group(const PredictRequest& request, const maps::MapsLayout& layout,
                            PredictPlan& plan) {
  if (!request.data_path.empty() || !request.tsv_path.empty() || request.overwrite) {
    CDL_THROW(ConfigError, "the group '", plan.group, "' holds the training's own sessions; it ",
              "cannot be redefined (--data, --tsv, --overwrite)\n  hint: give the new group "
              "another name");
  }
  plan.data_path = plan.config.data_path;
  for (const auto& [split, metrics] : plan.work) {
    const auto file = layout.group_table(plan.group, static_cast<int>(split));
    if (!fs::is_regular_file(file)) {
      CDL_THROW(ConfigError, "'", file, "' is missing: the MAPS lacks its ", plan.group,
                " group of split ", split);
    }
    auto table = TsvTable::read(file);
    check_labels(table, plan);
    plan.split_tables.emplace(split, std::move(table));
  }
}

/// A group a predict defined before, predicted again with its own data and table.
void resolve_existing_group(const PredictRequest& request, const maps::MapsLayout& layout,
                            PredictPlan& plan) {
  const auto group_json = nlohmann::json::parse(read_text_file(layout.group_json(plan.group)));
  plan.data_path = group_json.at("caps_directory").get<std::string>();
  plan.table = TsvTable::read(layout.group_table(plan.group));
  plan.clear_results = request.overwrite;
  check_labels(plan.table, plan);
}

/// A new group (or one redefined with --overwrite): --data and --tsv, leak-checked.
void resolve_new_group(const PredictRequest& request, const maps::MapsLayout& layout,
                       PredictPlan& plan) {
  if (request.data_path.empty() || request.tsv_path.empty()) {
    CDL_THROW(ConfigError, "the group '", plan.group, "' does not exist in '", plan.config.maps_dir,
              "'; a new group needs both --data (its .h5) and --tsv (its ", "sessions)");
  }
  plan.data_path = fs::absolute(request.data_path).lexically_normal().string();
  plan.table = read_new_group(request.tsv_path, plan);
  check_labels(plan.table, plan);
  if (!request.skip_leak_check) check_no_leak(plan.table, layout);
  plan.write_definition = true;
  plan.clear_results = true;  // a redefined group's results, or an unfinished predict's
}

/// Group rules of reference 7.6 (with --overwrite honouring new --data/--tsv, unlike ClinicaDL).
void resolve_group(const PredictRequest& request, PredictPlan& plan) {
  const maps::MapsLayout layout(plan.config.maps_dir);
  if (is_training_group(plan.group)) return resolve_training_group(request, layout, plan);
  const auto definition = layout.group_folder(plan.group);
  const bool given = !request.data_path.empty() || !request.tsv_path.empty();
  const bool exists = fs::is_directory(definition);
  if (exists && given && !request.overwrite) {
    CDL_THROW(ConfigError, "the group '", plan.group, "' exists (", definition,
              "); --data and --tsv define new groups only\n  hint: drop them to predict the "
              "group again, add --overwrite to redefine it, or choose another DATA_GROUP");
  }
  if (exists && !given) return resolve_existing_group(request, layout, plan);
  resolve_new_group(request, layout, plan);
}

/// Main rank, before predicting: the results of a redefined group, or those an unfinished
/// predict of a new group left (its definition is written last), are removed.
void clear_old_results(const PredictPlan& plan, const maps::MapsLayout& layout) {
  if (!plan.clear_results) return;
  for (const auto& [split, metrics] : plan.work) {
    for (const auto& metric : trained_metrics(layout, split)) {
      remove_tree(layout.group_dir(static_cast<int>(split), metric, plan.group));
    }
  }
}

/// Main rank, once every split is predicted: groups/<group>/{data.tsv, maps.json} of a new (or
/// redefined) group. A predict that fails or is killed before leaves no group recorded, so that
/// it can simply be run again.
void write_group_definition(const PredictPlan& plan, const maps::MapsLayout& layout) {
  if (!plan.write_definition) return;
  ensure_directory(layout.group_folder(plan.group));
  plan.table.write(layout.group_table(plan.group));
  const nlohmann::ordered_json json = {{"caps_directory", plan.data_path}, {"multi_cohort", false}};
  write_text_atomically(layout.group_json(plan.group), json.dump(4) + "\n");
}

/// The shape of a network input (a part) in the trained MAPS: maps.json's "input_size" (absent in
/// MAPS from older versions and from ClinicaDL: nothing to compare).
std::vector<int64_t> trained_input_shape(const maps::MapsLayout& layout) {
  const auto json = nlohmann::json::parse(read_text_file(layout.maps_json()), nullptr, false);
  if (json.is_discarded() || !json.contains("input_size") || !json["input_size"].is_array()) {
    return {};
  }
  std::vector<int64_t> shape;
  for (const auto& side : json["input_size"]) {
    if (!side.is_number_integer()) return {};
    shape.push_back(side.get<int64_t>());
  }
  return shape;
}

/// Refuses data whose inputs differ from those the networks were trained on (an image of
/// another size, another preprocessing): named as such, before any network sees it.
void check_input_shape(const PredictPlan& plan, const data::CapsDataset& dataset,
                       const maps::MapsLayout& layout) {
  const auto trained = trained_input_shape(layout);
  const auto given = dataset.input_shape();
  if (trained.empty() || trained == given) return;
  const auto text = [](const std::vector<int64_t>& shape) {
    std::string out;
    for (const auto side : shape) out += (out.empty() ? "" : "x") + std::to_string(side);
    return out;
  };
  CDL_THROW(DataError, "the data of group '", plan.group, "' ('", plan.data_path,
            "') gives inputs of shape ", text(given), ", but the networks of '",
            plan.config.maps_dir, "' were trained on ", text(trained),
            "\n  hint: convert the group's images with the training's preprocessing (caps2h5 "
            "convert, same --preprocessing options)");
}

}  // namespace

PredictPlan make_predict_plan(config::TrainConfig config, const PredictRequest& request) {
  PredictPlan plan;
  plan.config = std::move(config);
  plan.group = request.group;
  if (plan.group.empty() || plan.group.find('/') != std::string::npos || plan.group[0] == '.') {
    CDL_THROW(ConfigError, "DATA_GROUP '", plan.group,
              "' is not a valid group name; expected a plain folder name");
  }
  plan.has_labels = !request.no_labels;
  plan.save_tensors = request.save_tensors;
  if (plan.save_tensors && plan.config.network_task != data::Task::kReconstruction) {
    CDL_THROW(ConfigError, "--save_tensor saves reconstructions; the MAPS '", plan.config.maps_dir,
              "' was trained for ", data::task_name(plan.config.network_task));
  }
  if (plan.save_tensors && plan.config.multi_network) {
    CDL_THROW(ConfigError, "--save_tensor is not supported for the multi-network MAPS '",
              plan.config.maps_dir, "' yet; expected a single-network MAPS");
  }
  plan_work(request, plan);
  resolve_group(request, plan);
  return plan;
}

/// Collective: predicts every (split, metric) of the plan.
void run_predict_job(PredictPlan& plan, comm::Runtime& runtime) {
  auto& c = plan.config;
  const auto compute = device::set_up_device(c, runtime.topology()).compute;
  const maps::MapsLayout layout(c.maps_dir);
  auto source = std::make_shared<const data::DataSource>(data::DataSource::open(plan.data_path));
  auto options = dataset_options(c, !compute.transform_on_device, 0);
  options.no_labels = !plan.has_labels && c.network_task != data::Task::kReconstruction;
  std::unique_ptr<maps::MapsClaim> claim;
  if (runtime.control().is_main()) {
    claim = std::make_unique<maps::MapsClaim>(c.maps_dir, false);
    clear_old_results(plan, layout);
  }
  for (const auto& [split, metrics] : plan.work) {
    const auto& table = plan.split_tables.count(split) ? plan.split_tables.at(split) : plan.table;
    PredictionJob job;
    job.config = &c;
    job.control = &runtime.control();
    job.compute = compute;
    job.layout = layout;
    job.group = plan.group;
    job.dataset = std::make_shared<const data::CapsDataset>(source, table, options);
    check_input_shape(plan, *job.dataset, layout);
    job.data_path = plan.data_path;
    job.has_labels = plan.has_labels;
    job.save_tensors = plan.save_tensors;
    predict_split(job, static_cast<int>(split), metrics);
  }
  if (runtime.control().is_main()) write_group_definition(plan, layout);
}

}  // namespace cdl::experiment
