// Implementation of `clinicadl-hpc predict`.
#include "predict_command.hpp"

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/tsv_table.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/split_reader.hpp"
#include "cdl/train/maps_claim.hpp"
#include "cdl/train/maps_layout.hpp"
#include "cdl/train/predictor.hpp"
#include "cdl/train/trainer.hpp"
#include "command_line.hpp"
#include "training_run.hpp"

namespace cdl::app {
namespace fs = std::filesystem;
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N clinicadl-hpc predict MAPS_DIR DATA_GROUP [options]\n"
    "The best models of MAPS_DIR predict the sessions of DATA_GROUP; results go to\n"
    "MAPS_DIR/split-<k>/best-<metric>/DATA_GROUP/. An existing group (train, validation, or one\n"
    "defined by an earlier predict) is reused; a new one needs --data and --tsv.\n"
    "  --data DATA.h5             images of a new group (caps2h5 convert)\n"
    "  --tsv FILE.tsv             sessions of a new group (participant_id, session_id[, label])\n"
    "  --split K [K ...]          splits whose models predict (default: every trained split)\n"
    "  --selection_metrics M ...  best models used (default: every best-<metric> of the split)\n"
    "  --label COLUMN             label column of the group (default: the training's)\n"
    "  --no_labels                predictions only: no loss, no metrics files\n"
    "  --diagnoses D [D ...]      rows of a new group kept by diagnosis (default: the training's)\n"
    "  --skip_leak_check          allow participants of the training in a new group\n"
    "  --overwrite                redefine an existing group (not train or validation)\n"
    "  --save_tensor              reconstruction: save each input and output as a .pt tensor\n"
    "  --batch_size N, --gpu auto|true|false, --threads N, --amp   computation\n";

const std::map<std::string, Arity> kPredictOptions{
    {"--data", Arity::kOne},        {"--tsv", Arity::kOne},
    {"--split", Arity::kMany},      {"--selection_metrics", Arity::kMany},
    {"--label", Arity::kOne},       {"--no_labels", Arity::kNone},
    {"--diagnoses", Arity::kMany},  {"--skip_leak_check", Arity::kNone},
    {"--overwrite", Arity::kNone},  {"--batch_size", Arity::kOne},
    {"--gpu", Arity::kOne},         {"--threads", Arity::kOne},
    {"--amp", Arity::kNone},        {"--comm_backend", Arity::kOne},
    {"--save_tensor", Arity::kNone}};

/// Everything predict needs, resolved identically on every rank before MPI starts.
struct PredictPlan {
  config::TrainConfig config;
  std::string group;
  std::string data_path;                     ///< the group's DATA
  TsvTable table;                            ///< the group's sessions, with a cohort column
  std::map<int64_t, TsvTable> split_tables;  ///< train/validation groups: one per split
  bool has_labels = true;
  bool save_tensors = false;      ///< --save_tensor (reconstruction)
  bool write_definition = false;  ///< new group (or --overwrite): write groups/<group>/
  bool clear_results = false;     ///< --overwrite: delete the group's old results first
  std::vector<std::pair<int64_t, std::vector<std::string>>> work;  ///< split -> metrics
};

bool is_training_group(const std::string& group) {
  return group == "train" || group == "validation";
}

/// The best-<metric> folders of a split, sorted by name.
std::vector<std::string> trained_metrics(const train::MapsLayout& layout, int64_t split) {
  std::vector<std::string> metrics;
  std::error_code error;
  for (const auto& entry :
       fs::directory_iterator(layout.split_dir(static_cast<int>(split)), error)) {
    const auto name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("best-", 0) == 0) metrics.push_back(name.substr(5));
  }
  std::sort(metrics.begin(), metrics.end());
  return metrics;
}

/// Splits and metrics to predict with; ConfigError for a split or model that is not there.
void plan_work(const CommandLine& args, PredictPlan& plan) {
  const train::MapsLayout layout(plan.config.maps_dir);
  for (const auto split : requested_splits(plan.config)) {
    auto available = trained_metrics(layout, split);
    std::vector<std::string> metrics = available;
    if (args.has("--selection_metrics")) metrics = args.options.at("--selection_metrics");
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
  if (plan.config.network_task == "reconstruction" || !plan.has_labels) return;
  if (table.has_column(plan.config.label)) return;
  CDL_THROW(ConfigError, "'", table.source(), "' has no column '", plan.config.label,
            "', needed for the loss and the metrics\n  hint: add --no_labels to predict without "
            "metrics, or --label to name another column");
}

/// A new group's table: --tsv filtered on the diagnoses (when it has them), cohort "single".
TsvTable read_new_group(const std::string& tsv, const PredictPlan& plan) {
  auto table = TsvTable::read(tsv);
  table.require_columns({"participant_id", "session_id"});
  if (plan.config.network_task == "classification" && plan.has_labels &&
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
void check_no_leak(const TsvTable& table, const train::MapsLayout& layout) {
  const auto trained = layout.root() + "/groups/train+validation.tsv";
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

/// Group rules of reference 7.6 (with --overwrite honouring new --data/--tsv, unlike ClinicaDL).
void resolve_group(const CommandLine& args, PredictPlan& plan) {
  const train::MapsLayout layout(plan.config.maps_dir);
  const auto definition = layout.root() + "/groups/" + plan.group;
  const bool given = args.has("--data") || args.has("--tsv");
  const bool overwrite = args.has("--overwrite");
  if (is_training_group(plan.group)) {
    if (given || overwrite) {
      CDL_THROW(ConfigError, "the group '", plan.group, "' holds the training's own sessions; it ",
                "cannot be redefined (--data, --tsv, --overwrite)\n  hint: give the new group "
                "another name");
    }
    plan.data_path = plan.config.data_path;
    for (const auto& [split, metrics] : plan.work) {
      const auto file = layout.group_definition(plan.group, static_cast<int>(split)) + "/data.tsv";
      if (!fs::is_regular_file(file)) {
        CDL_THROW(ConfigError, "'", file, "' is missing: the MAPS lacks its ", plan.group,
                  " group of split ", split);
      }
      auto table = TsvTable::read(file);
      check_labels(table, plan);
      plan.split_tables.emplace(split, std::move(table));
    }
    return;
  }
  const bool exists = fs::is_directory(definition);
  if (exists && given && !overwrite) {
    CDL_THROW(ConfigError, "the group '", plan.group, "' exists (", definition,
              "); --data and --tsv define new groups only\n  hint: drop them to predict the "
              "group again, add --overwrite to redefine it, or choose another DATA_GROUP");
  }
  if (exists && !given) {
    const auto group_json = nlohmann::json::parse(read_text_file(definition + "/maps.json"));
    plan.data_path = group_json.at("caps_directory").get<std::string>();
    plan.table = TsvTable::read(definition + "/data.tsv");
    plan.clear_results = overwrite;
    check_labels(plan.table, plan);
    return;
  }
  if (!args.has("--data") || !args.has("--tsv")) {
    CDL_THROW(ConfigError, "the group '", plan.group, "' does not exist in '", plan.config.maps_dir,
              "'; a new group needs both --data (its .h5) and --tsv (its ", "sessions)");
  }
  plan.data_path = fs::absolute(args.value("--data")).lexically_normal().string();
  plan.table = read_new_group(args.value("--tsv"), plan);
  check_labels(plan.table, plan);
  if (!args.has("--skip_leak_check")) check_no_leak(plan.table, layout);
  plan.write_definition = true;
  plan.clear_results = exists;
}

config::TrainConfig predict_config(const CommandLine& args) {
  auto c = read_maps_config(args.positional.at(0));
  if (args.has("--split")) {
    c.split.clear();
    for (const auto& text : args.options.at("--split")) {
      c.split.push_back(integer_option("--split", text));
    }
  }
  c.label = args.value("--label", c.label);
  if (args.has("--diagnoses")) c.diagnoses = args.options.at("--diagnoses");
  if (args.has("--batch_size")) {
    c.batch_size = integer_option("--batch_size", args.value("--batch_size"));
  }
  c.gpu = args.value("--gpu", c.gpu);
  c.comm_backend = args.value("--comm_backend", c.comm_backend);
  if (args.has("--threads")) c.threads = integer_option("--threads", args.value("--threads"));
  if (args.has("--amp")) c.amp = true;
  config::resolve_and_validate(c);
  return c;
}

PredictPlan make_plan(const CommandLine& args) {
  PredictPlan plan;
  plan.config = predict_config(args);
  plan.group = args.positional.at(1);
  if (plan.group.empty() || plan.group.find('/') != std::string::npos || plan.group[0] == '.') {
    CDL_THROW(ConfigError, "DATA_GROUP '", plan.group,
              "' is not a valid group name; expected a plain folder name");
  }
  plan.has_labels = !args.has("--no_labels");
  plan.save_tensors = args.has("--save_tensor");
  if (plan.save_tensors && plan.config.network_task != "reconstruction") {
    CDL_THROW(ConfigError, "--save_tensor saves reconstructions; the MAPS '", plan.config.maps_dir,
              "' was trained for ", plan.config.network_task);
  }
  if (plan.save_tensors && plan.config.multi_network) {
    CDL_THROW(ConfigError, "--save_tensor is not supported for the multi-network MAPS '",
              plan.config.maps_dir, "' yet; expected a single-network MAPS");
  }
  plan_work(args, plan);
  resolve_group(args, plan);
  return plan;
}

/// Main rank: groups/<group>/{data.tsv, maps.json} of a new (or redefined) group, and the old
/// results of a redefined group removed.
void write_group(const PredictPlan& plan, const train::MapsLayout& layout) {
  if (plan.clear_results) {
    for (const auto& [split, metrics] : plan.work) {
      for (const auto& metric : trained_metrics(layout, split)) {
        remove_tree(layout.group_dir(static_cast<int>(split), metric, plan.group));
      }
    }
  }
  if (!plan.write_definition) return;
  const auto definition = layout.root() + "/groups/" + plan.group;
  ensure_directory(definition);
  plan.table.write(definition + "/data.tsv");
  const nlohmann::ordered_json json = {{"caps_directory", plan.data_path}, {"multi_cohort", false}};
  write_text_atomically(definition + "/maps.json", json.dump(4) + "\n");
}

/// Collective: predicts every (split, metric) of the plan.
void predict_all(PredictPlan& plan, comm::Runtime& runtime) {
  auto& c = plan.config;
  torch::set_num_threads(c.threads > 0 ? static_cast<int>(c.threads) : runtime.fair_thread_count());
  const auto device = choose_device(c, runtime.topology()).device;
  train::configure_device_libraries(device, c.deterministic);
  const auto compute = train::resolve_compute(device, c.amp, c.channels_last, c.normalize);
  const train::MapsLayout layout(c.maps_dir);
  auto source = std::make_shared<const data::DataSource>(data::DataSource::open(plan.data_path));
  auto options = train::dataset_options(c, !compute.transform_on_device, 0);
  options.no_labels = !plan.has_labels && c.network_task != "reconstruction";
  std::unique_ptr<train::MapsClaim> claim;
  if (runtime.control().is_main()) {
    claim = std::make_unique<train::MapsClaim>(c.maps_dir, false);
    write_group(plan, layout);
  }
  for (const auto& [split, metrics] : plan.work) {
    const auto& table = plan.split_tables.count(split) ? plan.split_tables.at(split) : plan.table;
    train::PredictionJob job;
    job.config = &c;
    job.control = &runtime.control();
    job.compute = compute;
    job.layout = layout;
    job.group = plan.group;
    job.dataset = std::make_shared<const data::CapsDataset>(source, table, options);
    job.data_path = plan.data_path;
    job.has_labels = plan.has_labels;
    job.save_tensors = plan.save_tensors;
    train::predict_split(job, static_cast<int>(split), metrics);
  }
}

}  // namespace

int run_predict(const std::vector<std::string>& args, int* argc, char*** argv) {
  PredictPlan plan;
  const int status = check_before_mpi(
      [&] { plan = make_plan(parse_command_line(args, kPredictOptions, 2, kUsage)); });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(runtime, plan.config.maps_dir, /*stoppable=*/false,
                          [&] { predict_all(plan, runtime); });
}

}  // namespace cdl::app
