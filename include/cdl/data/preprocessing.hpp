// Reading ClinicaDL's preprocessing dict (the JSON stored in each .h5, reference 6.2) into the
// mode options of the data layer.
#pragma once

#include <string>

#include "cdl/data/part_extractor.hpp"

namespace cdl::data {

/// Parses the mode keys of a preprocessing JSON: mode, patch_size, stride_size, slice_direction,
/// slice_mode (rgb | single), discarded_slices (int or list of 1-2 ints), num_slices, roi_list,
/// uncropped_roi, roi_background_value. Absent or null keys keep ClinicaDL's defaults.
/// Throws ConfigError naming `origin` (e.g. the .h5 file) for invalid JSON or a mistyped key.
ModeConfig mode_config_from_json(const std::string& json,
                                 const std::string& origin = "preprocessing");

}  // namespace cdl::data
