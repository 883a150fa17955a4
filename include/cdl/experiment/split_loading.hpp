// From a run's options to its data: the dataset options (task, labels, mode, normalisation) and
// the training and validation sets of one split, read from the split tables.
#pragma once

#include <memory>

#include "cdl/config/train_config.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/split_data.hpp"

namespace cdl::experiment {

/// The dataset options of a run's configuration (task, label column, label code, mode,
/// normalisation), for any table of its images: training and validation sets, predict groups.
data::DatasetOptions dataset_options(const config::TrainConfig& config, bool host_transforms,
                                     int64_t cache_bytes);

/// Builds the datasets of `split` from the options (split tables, labels, mode, cache). Not
/// collective; deterministic, so every rank builds the same sets. With `host_transforms` false
/// the samples come out raw (NaN removal and MinMax are left to the device, see ComputeOptions).
/// With `network` >= 0 (multi-network), every image gives only its part `network`. Throws
/// ConfigError/DataError.
data::SplitData load_split(const config::TrainConfig& config,
                           std::shared_ptr<const data::DataSource> source, int split,
                           int64_t cache_bytes, bool host_transforms = true, int network = -1);

}  // namespace cdl::experiment
