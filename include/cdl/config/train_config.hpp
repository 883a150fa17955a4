// TrainConfig: every option of `clinicadl-hpc train`, with ClinicaDL's names and defaults, filled
// from defaults < --config_file (ClinicaDL's TOML layout) < command line, then validated at once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "cdl/config/choices.hpp"
#include "cdl/data/mode.hpp"
#include "cdl/data/shard_plan.hpp"
#include "cdl/data/task.hpp"

namespace cdl::config {

/// All training options. Field names are ClinicaDL's maps.json keys. Options with a fixed set of
/// values are typed (config/choices.hpp), read once from their names.
struct TrainConfig {
  // Positional arguments.
  data::Task network_task = data::Task::kClassification;
  std::string data_path;  ///< .h5 from caps2h5, or a cohort TSV (cohort, path)
  std::string tsv_path;   ///< ClinicaDL split tree
  std::string maps_dir;   ///< output MAPS folder

  // Model.
  std::string architecture = "default";
  bool multi_network = false;
  bool ssda_network = false;
  double dropout = 0.0;
  int64_t latent_space_size = 128;
  int64_t feature_size = 1024;
  int64_t n_conv = 4;
  int64_t io_layer_channels = 8;
  double recons_weight = 1.0;
  double kl_weight = 1.0;
  std::string normalization = "batch";
  // RandomArchitecture (random-search): ClinicaDL's description of the sampled network.
  nlohmann::ordered_json convolutions_dict;         ///< {"conv0": {...}, ...}; null otherwise
  int64_t n_fcblocks = 0;                           ///< fully connected blocks
  std::string network_normalization = "BatchNorm";  ///< BatchNorm, InstanceNorm or None
  // Task.
  std::vector<std::string> selection_metrics{"loss"};
  std::string label = "default";  ///< resolved to diagnosis (classification) or age (regression)
  std::map<std::string, int64_t> label_code;  ///< empty = automatic
  double selection_threshold = 0.0;
  std::string loss = "default";
  // Computational.
  Toggle gpu = Toggle::kAuto;  ///< resolved to on or off by device set-up
  int64_t n_proc = 2;
  int64_t batch_size = 8;
  int64_t evaluation_steps = 0;
  bool fully_sharded_data_parallel = false;
  bool amp = false;
  CommBackend comm_backend = CommBackend::kAuto;  ///< ours
  int64_t threads = 0;                   ///< ours: LibTorch threads per rank, 0 = fair share
  Toggle channels_last = Toggle::kAuto;  ///< ours: auto = on for CUDA with --amp
  int64_t checkpoint_steps = 0;  ///< ours: also checkpoint every N weight updates (0: epoch ends)
  bool split_parallel = false;   ///< ours: k-fold splits side by side on rank groups
  UnitScheduling unit_scheduling = UnitScheduling::kDynamic;  ///< ours
  bool memory_saving = false;  ///< ours: 2 blocks fused, 1 sample at a time, no image cache
  std::string stage_data;  ///< ours: node-local folder the HDF5 files are copied to first, or ""
  // Reproducibility.
  int64_t seed = 0;
  bool deterministic = false;
  Compensation compensation = Compensation::kMemory;
  bool save_all_models = false;
  Tracker track_exp = Tracker::kNone;
  // Transfer learning.
  std::string transfer_path;
  std::string transfer_selection_metric = "loss";
  int64_t nb_unfrozen_layer = 0;
  // Mode (ours: ClinicaDL takes these from its preprocessing JSON).
  bool use_extracted_features = false;
  data::Mode mode = data::Mode::kImage;
  int64_t patch_size = 50;
  int64_t stride_size = 50;
  int64_t slice_direction = 0;
  SliceMode slice_mode = SliceMode::kRgb;
  std::vector<int64_t> discarded_slices{0, 0};
  std::vector<std::string> roi_list;
  bool uncropped_roi = false;
  // Data.
  bool multi_cohort = false;
  std::vector<std::string> diagnoses{"AD", "CN"};
  bool baseline = false;
  bool valid_longitudinal = false;
  bool normalize = true;
  std::vector<std::string> data_augmentation;
  data::SamplerKind sampler = data::SamplerKind::kRandom;
  bool size_reduction = false;
  int64_t size_reduction_factor = 2;
  std::string caps_target, tsv_target_lab, tsv_target_unlab, preprocessing_dict_target;
  bool cache = true;  ///< ours: keep this rank's images in memory when they fit
  // Cross-validation.
  int64_t n_splits = 0;
  std::vector<int64_t> split;  ///< empty = all splits
  // Optimization.
  Optimizer optimizer = Optimizer::kAdam;
  int64_t epochs = 20;
  double learning_rate = 1e-4;
  bool adaptive_learning_rate = false;
  double weight_decay = 1e-4;
  int64_t patience = 0;
  double tolerance = 0.0;
  int64_t accumulation_steps = 1;
  bool profiler = false;
  // Informations.
  bool emissions_calculator = false;
  // Command behaviour.
  std::string config_file;
  bool overwrite = false;

  /// The options as an ordered JSON object in maps.json order (ClinicaDL's keys first).
  nlohmann::ordered_json to_json() const;
};

/// The options recorded in a MAPS's maps.json (written by TrainConfig::to_json, completed by the
/// trainer): every option key present is read back, keys of other programs are ignored, null
/// values keep the default. `gpu` true/false reads back as on/off. maps_dir is left empty.
/// Not validated (call resolve_and_validate). Throws ConfigError naming `source` and each key
/// whose value has the wrong type or an unknown name, or when network_task, caps_directory or
/// tsv_path is missing.
TrainConfig config_from_maps_json(const nlohmann::json& json, const std::string& source);

/// Parses `train TASK DATA TSV_DIR MAPS_DIR [options]` (args after "train", option names already
/// normalised to '_'). Reads --config_file when given. Throws ConfigError listing every problem
/// found (unknown options, bad values, unknown TOML keys) so all ranks fail identically.
TrainConfig parse_train_arguments(const std::vector<std::string>& args);

/// Changes options of `config` (e.g. read back from a MAPS) as a command line gives them:
/// `values` maps "--name" of a train option to its values (none for a boolean switch, which sets
/// it true). Each value is read and checked as `train` reads it, through the one option table.
/// Throws ConfigError listing every problem at once, naming `command` ("resume", "predict").
void apply_train_options(TrainConfig& config,
                         const std::map<std::string, std::vector<std::string>>& values,
                         const std::string& command);

/// How many values the train option `name` (without dashes) takes on a command line: 0 (a
/// boolean switch), 1, or -1 (one or more). Throws InternalError for a name the table lacks.
int train_option_arity(const std::string& name);

/// Fills "default" values that depend on the task (architecture, label, loss) and checks the
/// combination of options. Throws ConfigError listing every problem at once.
void resolve_and_validate(TrainConfig& config);

/// Thrown by parse_train_arguments for --help: not an error, the message is the help text.
class HelpRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The help text of `clinicadl-hpc train`.
std::string train_usage();

}  // namespace cdl::config
