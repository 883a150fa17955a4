// Implementation of the mode names.
#include "cdl/data/mode.hpp"

#include "cdl/core/error.hpp"

namespace cdl::data {

Mode parse_mode(const std::string& text) {
  if (text == "image") return Mode::kImage;
  if (text == "patch") return Mode::kPatch;
  if (text == "slice") return Mode::kSlice;
  if (text == "roi") return Mode::kRoi;
  CDL_THROW(ConfigError, "unknown mode '", text, "'; expected one of image, patch, slice, roi");
}

std::string mode_name(Mode mode) {
  switch (mode) {
    case Mode::kImage:
      return "image";
    case Mode::kPatch:
      return "patch";
    case Mode::kSlice:
      return "slice";
    case Mode::kRoi:
      return "roi";
  }
  return "image";
}

std::string id_column(Mode mode) {
  return mode_name(mode) + "_id";
}

}  // namespace cdl::data
