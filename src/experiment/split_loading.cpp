// The datasets of a split, built from the options: split tables filtered by diagnosis, labels
// coded, parts cut by mode, checked not empty and, for a classifier, holding two classes.
#include "cdl/experiment/split_loading.hpp"

#include <algorithm>
#include <string>

#include "cdl/core/error.hpp"
#include "cdl/data/label_code.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/data/split_reader.hpp"

namespace cdl::experiment {
namespace {

data::ModeConfig mode_config(const config::TrainConfig& c) {
  data::ModeConfig mode;
  mode.mode = c.mode;
  mode.patch_size = c.patch_size;
  mode.stride_size = c.stride_size;
  mode.slice_direction = static_cast<int>(c.slice_direction);
  mode.slice_rgb = c.slice_mode == config::SliceMode::kRgb;
  mode.discarded_slices = c.discarded_slices;
  mode.roi_list = c.roi_list;
  mode.uncropped_roi = c.uncropped_roi;
  return mode;
}

/// Throws ConfigError when a set has no sample left (after the diagnosis filter).
void check_not_empty(const data::CapsDataset& set, const char* name, int split) {
  if (set.num_images() > 0) return;
  CDL_THROW(ConfigError, "the ", name, " set of split ", split, " is empty (", set.table().source(),
            ", after keeping the diagnoses of --diagnoses); expected at least one session\n  hint: "
            "check --diagnoses against the diagnosis column");
}

/// Throws ConfigError when a classifier would see a single class in training (it would learn to
/// answer that class, with loss 0 and accuracy 1, and look perfect).
void check_trainable(const data::CapsDataset& train, int split, const std::string& label) {
  if (train.task() != data::Task::kClassification || train.num_images() == 0) return;
  const auto& codes = train.class_codes();
  if (std::find_if(codes.begin(), codes.end(), [&](int64_t c) { return c != codes.front(); }) !=
      codes.end()) {
    return;
  }
  std::string name = std::to_string(codes.front());
  for (const auto& [class_name, code] : train.label_code().entries()) {
    if (code == codes.front()) name = class_name;
  }
  CDL_THROW(ConfigError, "the training set of split ", split, " (", train.table().source(),
            ") holds one class only ('", name, "' in column ", label,
            "); a classifier needs at least "
            "two\n  hint: check --diagnoses and the split tables");
}

}  // namespace

data::DatasetOptions dataset_options(const config::TrainConfig& c, bool host_transforms,
                                     int64_t cache_bytes) {
  data::DatasetOptions options;
  options.task = c.network_task;
  options.label_column = options.task == data::Task::kReconstruction ? "" : c.label;
  options.mode = mode_config(c);
  options.normalize = c.normalize;
  options.transform = host_transforms;
  if (c.size_reduction) options.size_reduction_factor = c.size_reduction_factor;
  options.cache_bytes = cache_bytes;
  if (!c.label_code.empty()) options.label_code = data::LabelCode(c.label_code);
  return options;
}

data::SplitData load_split(const config::TrainConfig& c,
                           std::shared_ptr<const data::DataSource> source, int split,
                           int64_t cache_bytes, bool host_transforms, int network) {
  data::SplitOptions split_options;
  split_options.diagnoses = c.diagnoses;
  split_options.baseline = c.baseline;
  split_options.valid_longitudinal = c.valid_longitudinal;
  split_options.n_splits = static_cast<int>(c.n_splits);
  split_options.multi_cohort = c.multi_cohort;
  auto tables = data::read_split(c.tsv_path, split, split_options);
  auto options = dataset_options(c, host_transforms, cache_bytes);
  options.fixed_part = network;
  data::SplitData data;
  auto train = std::make_shared<data::CapsDataset>(source, tables.train, options);
  check_not_empty(*train, "training", split);
  check_trainable(*train, split, c.label);
  options.label_code = train->label_code();  // validation uses the training code
  data.validation = std::make_shared<data::CapsDataset>(source, tables.validation, options);
  check_not_empty(*data.validation, "validation", split);
  data.train = train;
  return data;
}

}  // namespace cdl::experiment
