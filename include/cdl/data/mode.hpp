// Mode: ClinicaDL's four ways of cutting an image into samples (image, patch, slice, roi), with
// their names. How a part is cut is data/part_extractor.hpp.
#pragma once

#include <array>
#include <string>

#include "cdl/core/choice.hpp"

namespace cdl::data {

/// ClinicaDL's `mode`.
enum class Mode { kImage, kPatch, kSlice, kRoi };

/// The mode names of --mode and maps.json (core/choice.hpp).
constexpr std::array<ChoiceName<Mode>, 4> choice_names(Mode) {
  return {{{Mode::kImage, "image"},
           {Mode::kPatch, "patch"},
           {Mode::kSlice, "slice"},
           {Mode::kRoi, "roi"}}};
}

/// Parses "image" | "patch" | "slice" | "roi"; throws ConfigError otherwise.
Mode parse_mode(const std::string& text);
/// The lower-case name of a mode ("image", ...).
std::string mode_name(Mode mode);
/// Column holding the part id in prediction TSVs: image_id, patch_id, slice_id or roi_id.
std::string id_column(Mode mode);

}  // namespace cdl::data
