// Implementation of MAPS folder creation.
#include "cdl/maps/maps_writer.hpp"

#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>

#include "cdl/config.hpp"
#include "cdl/core/allocator.hpp"
#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::maps {
namespace fs = std::filesystem;
namespace {

std::string now_text() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return stamp;
}

/// ClinicaDL's preprocessing dict of the run: the conversion's dict stored in the .h5 (modality,
/// file_type, uncropped image...) with the mode keys of this training, which cuts its parts at
/// load time from whole images.
nlohmann::ordered_json preprocessing_dict(const config::TrainConfig& c,
                                          const std::string& conversion_json) {
  nlohmann::ordered_json dict = nlohmann::ordered_json::object();
  if (!conversion_json.empty()) {
    auto parsed =
        nlohmann::ordered_json::parse(conversion_json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) dict = std::move(parsed);
  }
  dict["mode"] = data::mode_name(c.mode);
  if (c.mode == data::Mode::kPatch) {
    dict["patch_size"] = c.patch_size;
    dict["stride_size"] = c.stride_size;
  } else if (c.mode == data::Mode::kSlice) {
    dict["slice_direction"] = c.slice_direction;
    dict["slice_mode"] = choice_name(c.slice_mode);
    dict["discarded_slices"] = c.discarded_slices;
  } else if (c.mode == data::Mode::kRoi) {
    dict["roi_list"] = c.roi_list;
    dict["uncropped_roi"] = c.uncropped_roi;
    if (!dict.contains("roi_background_value")) dict["roi_background_value"] = 0;
  }
  return dict;
}

/// ClinicaDL's maps.json keys in its order (reference 7.2); ours follow them.
const std::vector<std::string> kClinicaDLKeys{"architecture",
                                              "multi_network",
                                              "ssda_network",
                                              "dropout",
                                              "latent_space_size",
                                              "feature_size",
                                              "n_conv",
                                              "io_layer_channels",
                                              "recons_weight",
                                              "kl_weight",
                                              "normalization",
                                              "selection_metrics",
                                              "label",
                                              "label_code",
                                              "selection_threshold",
                                              "loss",
                                              "gpu",
                                              "n_proc",
                                              "batch_size",
                                              "evaluation_steps",
                                              "fully_sharded_data_parallel",
                                              "amp",
                                              "seed",
                                              "deterministic",
                                              "compensation",
                                              "track_exp",
                                              "transfer_path",
                                              "transfer_selection_metric",
                                              "nb_unfrozen_layer",
                                              "use_extracted_features",
                                              "multi_cohort",
                                              "diagnoses",
                                              "baseline",
                                              "valid_longitudinal",
                                              "normalize",
                                              "data_augmentation",
                                              "sampler",
                                              "size_reduction",
                                              "size_reduction_factor",
                                              "caps_target",
                                              "tsv_target_lab",
                                              "tsv_target_unlab",
                                              "preprocessing_dict_target",
                                              "n_splits",
                                              "optimizer",
                                              "epochs",
                                              "learning_rate",
                                              "adaptive_learning_rate",
                                              "weight_decay",
                                              "patience",
                                              "tolerance",
                                              "accumulation_steps",
                                              "profiler",
                                              "save_all_models",
                                              "emissions_calculator",
                                              "network_task",
                                              "caps_directory",
                                              "tsv_path",
                                              "preprocessing_dict",
                                              "mode",
                                              "split",
                                              "validation",
                                              "num_networks",
                                              "output_size",
                                              "input_size"};

/// `json` with ClinicaDL's keys first, in its order, then the others in their order; and
/// ClinicaDL's value types where ours differ (false for no transfer or augmentation).
nlohmann::ordered_json in_clinicadl_order(const nlohmann::ordered_json& json) {
  nlohmann::ordered_json ordered = nlohmann::ordered_json::object();
  for (const auto& key : kClinicaDLKeys) {
    if (json.contains(key)) ordered[key] = json.at(key);
  }
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (!ordered.contains(it.key())) ordered[it.key()] = it.value();
  }
  if (ordered["transfer_path"] == "") ordered["transfer_path"] = false;
  if (ordered["data_augmentation"].empty()) ordered["data_augmentation"] = false;
  return ordered;
}

std::string environment_text(int world_size, const std::string& backend) {
  std::ostringstream out;
  out << "clinicadl-hpc " << CDL_VERSION << " (git " << CDL_GIT_SHA << ")\n"
      << "LibTorch " << TORCH_VERSION << "\n"
      << "ranks " << world_size << ", gradient back end " << backend << "\n"
      << "LibTorch threads per rank " << torch::get_num_threads() << "\n"
      << "allocator " << allocator_description() << "\n";
  return out.str();
}

std::string information_text(const std::string& final_root, model::Network& network,
                             const InputSize& input_size) {
  std::ostringstream out;
  out << "MAPS created on " << now_text() << "\nMAPS path: " << fs::absolute(final_root).string()
      << "\nArchitecture: " << network.architecture() << " for input " << input_size.to_string()
      << "\nModel layers:\n";
  int64_t total = 0;
  for (const auto& record : model::trace_layers(network, input_size)) {
    out << "  " << record.name << "  " << record.description << "  -> "
        << format_shape(record.output_shape) << "  (" << record.parameters << " parameters)\n";
    total += record.parameters;
  }
  out << "Total parameters: " << total << "\n";
  network.train();
  return out.str();
}

void write_data_table(const std::string& path, const TsvTable& table, const std::string& label) {
  std::vector<std::string> header{"", "participant_id", "session_id", "cohort"};
  const bool has_label = !label.empty() && table.has_column(label);
  if (has_label) header.push_back(label);
  TsvTable out(header);
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    std::vector<TsvCell> cells{row, table.at(row, "participant_id"), table.at(row, "session_id"),
                               table.at(row, "cohort")};
    if (has_label) cells.emplace_back(table.at(row, label));
    out.add_row(cells);
  }
  out.write(path);
}

void append_sessions(const std::string& path, const TsvTable& table) {
  std::set<std::pair<std::string, std::string>> sessions;
  if (fs::exists(path)) {
    const auto existing = TsvTable::read(path);
    for (const auto& row : existing.rows()) sessions.emplace(row.at(0), row.at(1));
  }
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    sessions.emplace(table.at(row, "participant_id"), table.at(row, "session_id"));
  }
  TsvTable out({"participant_id", "session_id"});
  for (const auto& [participant, session] : sessions) out.add_row({participant, session});
  out.write(path);
}

/// "split-0, split-2" for the splits of `maps_dir` holding a training state (empty: none).
std::string stopped_splits(const std::string& maps_dir) {
  std::string names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(maps_dir, error)) {
    const auto name = entry.path().filename().string();
    const auto split = MapsLayout::split_of_dir(name);
    if (split < 0) continue;
    if (!fs::is_regular_file(MapsLayout(maps_dir).training_state(static_cast<int>(split)))) {
      continue;
    }
    names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

}  // namespace

bool lies_within(const std::string& inner, const std::string& outer) {
  std::error_code error;
  const auto a = fs::weakly_canonical(fs::absolute(inner), error);
  const auto b = fs::weakly_canonical(fs::absolute(outer), error);
  auto it = a.begin();
  for (const auto& part : b) {
    if (part.empty()) continue;  // trailing separator
    if (it == a.end() || *it != part) return false;
    ++it;
  }
  return true;
}

void check_maps_destination(const std::string& maps_dir, bool overwrite,
                            const std::vector<std::string>& inputs) {
  if (!fs::exists(maps_dir)) return;
  if (!fs::is_directory(maps_dir)) {
    CDL_THROW(ConfigError, "MAPS_DIR '", maps_dir,
              "' exists and is a file; expected a new or empty folder");
  }
  if (fs::is_empty(maps_dir)) return;
  if (!overwrite) {
    const auto stopped = stopped_splits(maps_dir);
    if (!stopped.empty()) {
      CDL_THROW(ConfigError, "MAPS_DIR '", maps_dir, "' holds a training that did not finish (",
                stopped,
                " stopped with a training state); existing results are never replaced "
                "silently.\n  hint: continue it with: mpirun -np N clinicadl-hpc resume ",
                maps_dir, "   (or add --overwrite to start again)");
    }
    CDL_THROW(ConfigError, "MAPS_DIR '", maps_dir,
              "' already exists and is not empty; existing "
              "results are never replaced silently.\n  hint: choose another folder, or add "
              "--overwrite to delete it first");
  }
  if (!fs::exists(MapsLayout(maps_dir).maps_json())) {
    CDL_THROW(ConfigError, "--overwrite replaces only a MAPS folder, and MAPS_DIR '", maps_dir,
              "' is not one (it has no maps.json); nothing was deleted.\n  hint: choose a new "
              "folder for MAPS_DIR");
  }
  for (const auto& input : inputs) {
    if (!input.empty() && fs::exists(input) && lies_within(input, maps_dir)) {
      CDL_THROW(ConfigError, "--overwrite would delete the input '", input,
                "', which lies in "
                "MAPS_DIR '",
                maps_dir,
                "'; nothing was deleted.\n  hint: keep data, split "
                "tables and config files outside the MAPS folder, or choose another MAPS_DIR");
    }
  }
}

nlohmann::ordered_json maps_json(const config::TrainConfig& c, const data::SplitData& data,
                                 const std::string& conversion_preprocessing, int world_size,
                                 const std::string& comm_backend) {
  auto json = c.to_json();
  // Absolute, so that `resume` finds the inputs from any working directory.
  json["caps_directory"] = fs::absolute(c.data_path).lexically_normal().string();
  json["tsv_path"] = fs::absolute(c.tsv_path).lexically_normal().string();
  if (!c.transfer_path.empty()) {
    json["transfer_path"] = fs::absolute(c.transfer_path).lexically_normal().string();
  }
  const auto& train = *data.train;
  if (train.task() == data::Task::kClassification) {
    nlohmann::ordered_json code = nlohmann::ordered_json::object();
    for (const auto& [name, value] : train.label_code().entries()) code[name] = value;
    json["label_code"] = code;
  } else {
    json["label_code"] = nullptr;
  }
  json["preprocessing_dict"] = preprocessing_dict(c, conversion_preprocessing);
  json["mode"] = data::mode_name(c.mode);
  json["split"] = c.split;  // [] = every split
  json["validation"] = c.n_splits <= 1 ? "SingleSplit" : "KFoldSplit";
  json["num_networks"] = train.parts_per_image();
  json["output_size"] = train.task() == data::Task::kClassification
                            ? train.label_code().num_classes()
                        : train.task() == data::Task::kRegression ? 1
                                                                  : -1;
  if (train.task() == data::Task::kReconstruction) json["output_size"] = train.input_shape();
  json["input_size"] = train.input_shape();
  json["engine"] = {{"name", "clinicadl-hpc"},
                    {"version", CDL_VERSION},
                    {"git", CDL_GIT_SHA},
                    {"world_size", world_size},
                    {"comm_backend", comm_backend}};
  return in_clinicadl_order(json);
}

void create_maps(const MapsLayout& layout, const nlohmann::ordered_json& json,
                 model::Network& network, const InputSize& input_size,
                 const std::string& final_root) {
  ensure_directory(layout.root());
  write_text_atomically(layout.maps_json(), json.dump(4) + "\n");
  write_text_atomically(layout.environment_txt(),
                        environment_text(json["engine"]["world_size"].get<int>(),
                                         json["engine"]["comm_backend"].get<std::string>()));
  write_text_atomically(layout.information_log(),
                        information_text(final_root, network, input_size));
}

namespace {

/// Refuses a staging path this engine did not make: a symbolic link (never followed to delete),
/// something other than a folder, or a non-empty folder without the engine's lock file (a
/// user's folder that happens to be named MAPS_DIR.partial). A folder with the lock is taken over
/// by MapsClaim only when the job that wrote it is gone.
void check_staging_folder(const std::string& stage) {
  std::error_code error;
  const auto status = fs::symlink_status(stage, error);
  if (!fs::exists(status)) return;
  const char* problem = fs::is_symlink(status)       ? "is a symbolic link"
                        : !fs::is_directory(status)  ? "is not a folder"
                        : fs::is_empty(stage, error) ? nullptr
                        : !fs::exists(fs::path(stage) / kMapsLockName)
                            ? "holds files that no clinicadl-hpc job left (no lock file)"
                            : nullptr;
  if (problem == nullptr) return;
  CDL_THROW(ConfigError, "the staging folder '", stage, "' of the new MAPS ", problem,
            "; clinicadl-hpc only reuses a staging folder that one of its jobs left, and nothing "
            "was changed.\n  hint: move or delete '",
            stage, "', or choose another MAPS_DIR");
}

/// MAPS_DIR.partial (MAPS_DIR without a trailing separator).
std::string staging_path(const std::string& maps_dir) {
  auto path = fs::path(maps_dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.string() + ".partial";
}

}  // namespace

MapsStaging::MapsStaging(std::string maps_dir, bool overwrite)
    : maps_dir_(std::move(maps_dir)), stage_(staging_path(maps_dir_)), overwrite_(overwrite) {
  check_staging_folder(stage_);
  claim_ = std::make_unique<MapsClaim>(stage_, /*clear_existing=*/true);
}

MapsStaging::~MapsStaging() {
  if (promoted_) return;
  claim_.reset();
  std::error_code ignored;
  remove_tree(stage_, ignored);
}

void MapsStaging::promote() {
  if (promoted_) return;
  if (fs::exists(maps_dir_)) {
    if (overwrite_) {
      { MapsClaim old(maps_dir_, /*clear_existing=*/false); }  // refuses if a live job holds it
      remove_tree(maps_dir_);
    } else if (fs::is_directory(maps_dir_) && fs::is_empty(maps_dir_)) {
      fs::remove(maps_dir_);
    }
  }
  std::error_code error;
  fs::rename(stage_, maps_dir_, error);
  if (error) {
    CDL_THROW(ConfigError, "cannot rename the new MAPS '", stage_, "' to '", maps_dir_,
              "': ", error.message(), " (did another job create '", maps_dir_,
              "' meanwhile?); the results so far are in '", stage_, "'");
  }
  claim_->moved_to(maps_dir_);
  promoted_ = true;
}

void write_split_groups(const MapsLayout& layout, int split, const data::SplitData& data,
                        const config::TrainConfig& c) {
  const std::string label = c.network_task == data::Task::kReconstruction ? "" : c.label;
  const nlohmann::ordered_json group_json = {{"caps_directory", c.data_path},
                                             {"multi_cohort", c.multi_cohort}};
  const std::pair<std::string, const data::CapsDataset*> groups[] = {
      {"train", data.train.get()}, {"validation", data.validation.get()}};
  for (const auto& [group, dataset] : groups) {
    write_data_table(layout.group_table(group, split), dataset->table(), label);
    write_text_atomically(layout.group_json(group, split), group_json.dump(4) + "\n");
    append_sessions(layout.train_validation_tsv(), dataset->table());
  }
  // As ClinicaDL: the sessions that trained a transfer source count as training sessions too,
  // so that predict's leak check covers the pre-training.
  const auto source_sessions = MapsLayout(c.transfer_path).train_validation_tsv();
  if (!c.transfer_path.empty() && fs::is_regular_file(source_sessions)) {
    append_sessions(layout.train_validation_tsv(), TsvTable::read(source_sessions));
  }
}

}  // namespace cdl::maps
