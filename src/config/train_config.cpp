// TrainConfig: maps.json serialisation and the validation of option combinations.
#include "cdl/config/train_config.hpp"

#include <iomanip>
#include <sstream>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <variant>

#include "cdl/core/error.hpp"
#include "cdl/core/problems.hpp"
#include "train_option_table.hpp"

namespace cdl::config {
namespace {

using Problems = std::vector<std::string>;

template <typename T>
bool one_of(const T& value, const std::vector<T>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

void check_choice(const std::string& option, const std::string& value,
                  const std::vector<std::string>& allowed, Problems& problems) {
  if (!one_of(value, allowed)) {
    problems.push_back("--" + option + " '" + value + "' is not one of " + join(allowed));
  }
}

/// The shortest text that reads back as `value` ("4", "0.5", "1e-05"), so integers print as such.
std::string number_text(double value) {
  std::ostringstream out;
  out << std::setprecision(15) << value;
  return out.str();
}

/// More folds than any cross-validation uses; the bound keeps a typo from allocating per split.
constexpr int64_t kMaxSplits = 1000;

void check_at_least(const std::string& option, double value, double minimum, Problems& problems) {
  if (value < minimum) {
    problems.push_back("--" + option + " is " + number_text(value) + ", expected at least " +
                       number_text(minimum));
  }
}

std::vector<std::string> task_metrics(data::Task task) {
  if (task == data::Task::kClassification) {
    return {"BA",  "accuracy", "F1_score", "sensitivity", "specificity", "PPV",
            "NPV", "MCC",      "MK",       "LR_plus",     "LR_minus"};
  }
  if (task == data::Task::kRegression) return {"R2_score", "MAE", "RMSE"};
  return {"MAE", "RMSE", "PSNR", "SSIM"};
}

void resolve_task_defaults(TrainConfig& c) {
  const bool classification = c.network_task == data::Task::kClassification;
  if (c.architecture == "default") {
    c.architecture = c.network_task == data::Task::kReconstruction ? "AE_Conv5_FC3" : "Conv5_FC3";
  }
  if (c.label == "default") c.label = classification ? "diagnosis" : "age";
  if (c.loss == "default") c.loss = classification ? "CrossEntropyLoss" : "MSELoss";
}

void validate_task(const TrainConfig& c, Problems& problems) {
  check_choice("loss", c.loss,
               c.network_task == data::Task::kClassification
                   ? std::vector<std::string>{"CrossEntropyLoss", "MultiMarginLoss"}
                   : std::vector<std::string>{"MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"},
               problems);
  auto allowed = task_metrics(c.network_task);
  allowed.insert(allowed.begin(), "loss");
  for (const auto& metric : c.selection_metrics)
    check_choice("selection_metrics", metric, allowed, problems);
  if (c.selection_metrics.empty())
    problems.push_back("--selection_metrics needs at least one metric");
  for (size_t i = 0; i < c.selection_metrics.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.selection_metrics[i] == c.selection_metrics[j]) {
        problems.push_back("--selection_metrics names '" + c.selection_metrics[i] +
                           "' twice; expected each metric once");
        break;
      }
    }
  }
  if (c.sampler == data::SamplerKind::kWeighted && c.network_task == data::Task::kReconstruction) {
    problems.push_back("--sampler weighted needs labels; reconstruction has none (use random)");
  }
}

void validate_optimization(const TrainConfig& c, Problems& problems) {
  check_at_least("epochs", static_cast<double>(c.epochs), 1, problems);
  check_at_least("batch_size", static_cast<double>(c.batch_size), 1, problems);
  check_at_least("accumulation_steps", static_cast<double>(c.accumulation_steps), 1, problems);
  check_at_least("evaluation_steps", static_cast<double>(c.evaluation_steps), 0, problems);
  check_at_least("patience", static_cast<double>(c.patience), 0, problems);
  check_at_least("tolerance", c.tolerance, 0, problems);
  check_at_least("weight_decay", c.weight_decay, 0, problems);
  check_at_least("threads", static_cast<double>(c.threads), 0, problems);
  check_at_least("n_proc", static_cast<double>(c.n_proc), 0, problems);
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (c.threads > cores) {  // more threads than cores is never faster, and each one costs memory
    problems.push_back("--threads " + std::to_string(c.threads) + " is more than the " +
                       std::to_string(cores) +
                       " cores of this node; expected 0 (the rank's "
                       "share of the cores) to " +
                       std::to_string(cores));
  }
  check_at_least("checkpoint_steps", static_cast<double>(c.checkpoint_steps), 0, problems);
  check_at_least("nb_unfrozen_layer", static_cast<double>(c.nb_unfrozen_layer), 0, problems);
  if (c.nb_unfrozen_layer > 0 && c.transfer_path.empty()) {
    problems.push_back("--nb_unfrozen_layer " + std::to_string(c.nb_unfrozen_layer) +
                       " freezes layers of a transferred network; it needs --transfer_path");
  }
  if (!(c.learning_rate > 0)) problems.push_back("--learning_rate must be positive");
  if (c.dropout < 0 || c.dropout >= 1) problems.push_back("--dropout must be in [0, 1)");
}

/// The options of --mode and of the part it cuts.
void validate_mode(const TrainConfig& c, Problems& problems) {
  if (c.slice_direction < 0 || c.slice_direction > 2)
    problems.push_back("--slice_direction must be 0, 1 or 2");
  if (c.discarded_slices.empty() || c.discarded_slices.size() > 2) {
    problems.push_back("--discarded_slices takes 1 or 2 integers");
  }
  if (c.mode == data::Mode::kRoi && c.roi_list.empty())
    problems.push_back("--mode roi needs --roi_list");
  if (c.multi_network && c.mode == data::Mode::kImage) {
    problems.push_back(
        "--multi_network trains one network per part; --mode image has one part per image "
        "(use --mode patch, slice or roi)");
  }
  if (c.size_reduction && (c.size_reduction_factor < 2 || c.size_reduction_factor > 5)) {
    problems.push_back("--size_reduction_factor " + std::to_string(c.size_reduction_factor) +
                       " is invalid; expected 2, 3, 4 or 5");
  }
  if (c.size_reduction && c.mode != data::Mode::kImage) {
    problems.push_back(
        "--size_reduction applies to whole images (--mode image), as ClinicaDL's "
        "windows are those of t1-linear images; --mode is " +
        choice_name(c.mode));
  }
  if (c.mode == data::Mode::kPatch && (c.patch_size < 1 || c.stride_size < 1)) {
    problems.push_back("--patch_size and --stride_size must be positive");
  }
}

/// The data and the splits.
void validate_data(const TrainConfig& c, Problems& problems) {
  validate_mode(c, problems);
  if (c.diagnoses.empty()) problems.push_back("--diagnoses needs at least one diagnosis");
  const bool tsv_data =
      c.data_path.size() > 4 && c.data_path.substr(c.data_path.size() - 4) == ".tsv";
  if (tsv_data != c.multi_cohort) {
    problems.push_back(c.multi_cohort
                           ? "--multi_cohort needs DATA to be a cohort TSV (cohort, path)"
                           : "DATA '" + c.data_path + "' is a TSV: add --multi_cohort");
  }
  if (c.n_splits < 0) problems.push_back("--n_splits must be >= 0");
  if (c.n_splits > kMaxSplits) {
    problems.push_back("--n_splits " + std::to_string(c.n_splits) + " is more folds than a split " +
                       "tree holds; expected at most " + std::to_string(kMaxSplits));
  }
  for (int64_t s : c.split) {
    if (s < 0 || s >= std::max<int64_t>(1, c.n_splits)) {
      problems.push_back("--split " + std::to_string(s) + " is outside 0.." +
                         std::to_string(std::max<int64_t>(1, c.n_splits) - 1));
    }
  }
}

/// RandomArchitecture is described by convolutions_dict, which random-search samples.
void validate_random_architecture(const TrainConfig& c, Problems& problems) {
  if (c.architecture != "RandomArchitecture" || c.convolutions_dict.is_object()) return;
  problems.push_back(
      "--architecture RandomArchitecture is the network random-search samples, described by "
      "its convolutions_dict; expected `clinicadl-hpc random-search LAUNCH_DIR NAME`, or "
      "another architecture (clinicadl-hpc list_models)");
}

void validate_unsupported(const TrainConfig& c, Problems& problems) {
  const auto refuse = [&](bool used, const std::string& what) {
    if (used) problems.push_back(what + " is not supported yet by clinicadl-hpc");
  };
  refuse(c.ssda_network, "--ssda_network");
  if (c.fully_sharded_data_parallel && c.optimizer != Optimizer::kAdam &&
      c.optimizer != Optimizer::kAdamW) {
    problems.push_back(
        "--fully_sharded_data_parallel shards the state of Adam and AdamW (two "
        "moments per weight); --optimizer is " +
        choice_name(c.optimizer) + "; expected Adam or AdamW, or no sharding");
  }
  if (c.track_exp == Tracker::kWandb) {
    problems.push_back(
        "--track_exp wandb is not supported: Weights & Biases needs its service or its own "
        "offline files; expected mlflow (an MLflow store in <MAPS>/mlruns) or none (TensorBoard "
        "event files are always written under training_logs/)");
  }
}

/// --memory_saving runs the Conv-BatchNorm-ReLU-PadMaxPool blocks of the Conv*_FC3 trunks in
/// chunks; other architectures have no such blocks.
void validate_memory_saving(const TrainConfig& c, Problems& problems) {
  if (!c.memory_saving || c.architecture == "Conv4_FC3" || c.architecture == "Conv5_FC3") return;
  problems.push_back(
      "--memory_saving applies to Conv4_FC3 and Conv5_FC3 (convolution blocks of "
      "Conv, BatchNorm, ReLU and PadMaxPool), not to --architecture " +
      c.architecture);
}

template <typename T>
void put(nlohmann::ordered_json& json, const std::string& key, const T* value) {
  json[key] = *value;
}

void put(nlohmann::ordered_json& json, const std::string& key, const ChoiceField& value) {
  json[key] = value.get();
}

}  // namespace

std::vector<std::string> resolve_and_find_problems(TrainConfig& c) {
  Problems problems;
  resolve_task_defaults(c);
  validate_task(c, problems);
  validate_optimization(c, problems);
  validate_data(c, problems);
  validate_unsupported(c, problems);
  validate_random_architecture(c, problems);
  validate_memory_saving(c, problems);
  return problems;
}

void resolve_and_validate(TrainConfig& c) {
  throw_if_problems<ConfigError>(resolve_and_find_problems(c), "", " with the train options");
}

namespace {

/// Reads `value` into a field of the option's type; throws nlohmann::json::type_error on a
/// mismatch (a string where a number is expected...).
template <typename T>
void read_json_field(const nlohmann::json& value, T* field) {
  if constexpr (std::is_same_v<T, double>) {
    if (!value.is_number()) throw std::invalid_argument("not a number");
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (!value.is_number_integer()) throw std::invalid_argument("not an integer");
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) throw std::invalid_argument("not a boolean");
  }
  *field = value.get<T>();
}

void read_json_field(const nlohmann::json& value, const ChoiceField& field) {
  if (!value.is_string() || !field.set(value.get<std::string>())) {
    throw std::invalid_argument("expected " + field.expected);
  }
}

std::string required_string(const nlohmann::json& json, const std::string& key,
                            const std::string& source) {
  const auto it = json.find(key);
  if (it == json.end() || !it->is_string() || it->get<std::string>().empty()) {
    CDL_THROW(ConfigError, "'", source, "' has no '", key,
              "' text entry; expected the maps.json of a MAPS written by clinicadl-hpc train");
  }
  return it->get<std::string>();
}

/// The description of a RandomArchitecture: convolutions_dict, n_fcblocks, network_normalization
/// (null: no normalisation layer). Checked in full when the network is built.
void read_random_architecture(const nlohmann::json& json, TrainConfig& c, Problems& problems) {
  const auto convolutions = json.find("convolutions_dict");
  const auto blocks = json.find("n_fcblocks");
  if (convolutions == json.end() || !convolutions->is_object() || blocks == json.end() ||
      !blocks->is_number_integer()) {
    problems.push_back(
        "architecture RandomArchitecture needs 'convolutions_dict' (an object) and "
        "'n_fcblocks' (an integer), as random-search writes them");
    return;
  }
  c.convolutions_dict = nlohmann::ordered_json::parse(convolutions->dump());
  c.n_fcblocks = blocks->get<int64_t>();
  const auto normalization = json.find("network_normalization");
  if (normalization == json.end() || normalization->is_null()) {
    c.network_normalization = normalization == json.end() ? "BatchNorm" : "None";
  } else if (normalization->is_string()) {
    c.network_normalization = normalization->get<std::string>();
  } else {
    problems.push_back("'network_normalization' is " + normalization->dump() +
                       "; expected BatchNorm, InstanceNorm or null");
  }
}

/// Reads every option of the table that `json` holds into `c`.
void read_json_options(const nlohmann::json& json, TrainConfig& c, Problems& problems) {
  for (const auto& spec : option_specs(c)) {
    if (!spec.in_maps_json) continue;
    const auto it = json.find(spec.name);
    if (it == json.end() || it->is_null()) continue;  // null: not applicable to the task
    if (spec.name == "gpu" && it->is_boolean()) {
      c.gpu = it->get<bool>() ? Toggle::kOn : Toggle::kOff;
      continue;
    }
    // ClinicaDL writes false for an unused path or list (transfer_path, data_augmentation).
    if (it->is_boolean() && !it->get<bool>() && !std::holds_alternative<bool*>(spec.field)) {
      continue;
    }
    try {
      std::visit([&](const auto& field) { read_json_field(*it, field); }, spec.field);
    } catch (const std::exception& error) {
      problems.push_back("'" + spec.name + "' is " + it->dump() + ", which has the wrong type" +
                         (std::holds_alternative<ChoiceField>(spec.field)
                              ? std::string(" or name: ") + error.what()
                              : std::string()));
    }
  }
}

void read_json_label_code(const nlohmann::json& json, TrainConfig& c, Problems& problems) {
  const auto code = json.find("label_code");
  if (code == json.end() || !code->is_object()) return;
  for (const auto& [name, value] : code->items()) {
    if (value.is_number_integer()) {
      c.label_code[name] = value.get<int64_t>();
    } else {
      problems.push_back("'label_code' entry '" + name + "' is " + value.dump() +
                         ", expected an integer");
    }
  }
}

}  // namespace

TrainConfig config_from_maps_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) {
    CDL_THROW(ConfigError, "'", source, "' is not a JSON object; expected a MAPS's maps.json");
  }
  TrainConfig c;
  const auto task = required_string(json, "network_task", source);
  if (const auto parsed = parse_choice<data::Task>(task)) {
    c.network_task = *parsed;
  } else {
    CDL_THROW(ConfigError, "'", source, "': 'network_task' is '", task, "'; expected ",
              choice_list<data::Task>());
  }
  c.data_path = required_string(json, "caps_directory", source);
  c.tsv_path = required_string(json, "tsv_path", source);
  Problems problems;
  read_json_options(json, c, problems);
  if (c.architecture == "RandomArchitecture") read_random_architecture(json, c, problems);
  read_json_label_code(json, c, problems);
  throw_if_problems<ConfigError>(problems, "'" + source + "': ", "");
  return c;
}

nlohmann::ordered_json TrainConfig::to_json() const {
  nlohmann::ordered_json json;
  auto& self = const_cast<TrainConfig&>(*this);
  for (const auto& spec : option_specs(self)) {
    if (!spec.in_maps_json) continue;
    std::visit([&](const auto& value) { put(json, spec.name, value); }, spec.field);
    if (spec.name == "label") {
      json["label_code"] = nlohmann::ordered_json::object();
      for (const auto& [name, code] : label_code) json["label_code"][name] = code;
    }
  }
  if (gpu != Toggle::kAuto) json["gpu"] = gpu == Toggle::kOn;
  if (network_task == data::Task::kReconstruction) json["label"] = nullptr;
  if (network_task != data::Task::kClassification) json["selection_threshold"] = nullptr;
  if (architecture == "RandomArchitecture") {
    json["convolutions_dict"] = convolutions_dict;
    json["n_fcblocks"] = n_fcblocks;
    json["network_normalization"] = network_normalization == "None"
                                        ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(network_normalization);
  }
  json["network_task"] = choice_name(network_task);
  json["caps_directory"] = data_path;
  json["tsv_path"] = tsv_path;
  return json;
}

}  // namespace cdl::config
