// Random search as ClinicaDL describes it: LAUNCH_DIR/random_search.toml holds a [Random_Search]
// section of fixed values and sampled ranges (and optionally train_config.toml sections of fixed
// options). Each run's configuration is drawn from (seed, run index, key) only, so run k is the
// same whatever the number of runs, the ranks, or the order in which runs are trained.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cdl/config/train_config.hpp"

namespace cdl::config {

/// One key of [Random_Search]: its value(s) as command-line texts and how it is sampled.
struct SearchEntry {
  std::string key;
  std::vector<std::string> values;  ///< one text, or the TOML array's elements
  bool is_list = false;             ///< the TOML value was an array
  std::string sampling;             ///< fixed, choice, randint, uniform or exponent (ClinicaDL's)
};

/// What random_search.toml asks for, checked.
struct SearchSpace {
  std::string file;   ///< LAUNCH_DIR/random_search.toml
  TrainConfig fixed;  ///< defaults < the file's train_config sections < [Random_Search] scalars
  std::vector<SearchEntry> sampled;  ///< train options of [Random_Search] drawn per run
  /// The architecture keys: n_convblocks, first_conv_width, n_fcblocks, d_reduction,
  /// network_normalization, channels_limit, n_conv, wd_bool (ClinicaDL's defaults filled in).
  std::vector<SearchEntry> architecture;
};

/// One sampled run.
struct SampledRun {
  TrainConfig config;  ///< resolved only by the caller (resolve_and_validate)
  /// Every sampled value, in the space's order: (key, text), for the summary table.
  std::vector<std::pair<std::string, std::string>> values;
};

/// Reads and checks LAUNCH_DIR/random_search.toml. Throws ConfigError listing every problem (a
/// missing mandatory key, an unknown key, a range that is not two numbers, an empty choice, an
/// architecture value out of range) with the file and key.
SearchSpace read_search_space(const std::string& launch_dir);

/// The configuration of run `run` (0-based), its MAPS at `maps_dir`: the sampled train options,
/// and architecture RandomArchitecture with its sampled convolutions_dict (channels doubled per
/// block up to channels_limit, as ClinicaDL), n_fcblocks and network_normalization; weight_decay
/// 0 when wd_bool is drawn false.
SampledRun sample_run(const SearchSpace& space, int64_t run, const std::string& maps_dir);

}  // namespace cdl::config
