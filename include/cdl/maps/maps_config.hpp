// The options an existing MAPS was trained with, read back from its maps.json: what `resume` and
// `predict` start from.
#pragma once

#include <string>

#include "cdl/config/train_config.hpp"

namespace cdl::maps {

/// The options of the MAPS `maps_dir` (its maps.json), with maps_dir set, overwrite off and no
/// config file; not validated. Throws ConfigError when `maps_dir` holds no readable maps.json,
/// with a hint when only a staging folder (MAPS_DIR.partial) of a training that never started
/// exists.
config::TrainConfig read_maps_config(const std::string& maps_dir);

}  // namespace cdl::maps
