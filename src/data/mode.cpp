// Implementation of the mode names.
#include "cdl/data/mode.hpp"

#include "cdl/core/error.hpp"

namespace cdl::data {

Mode parse_mode(const std::string& text) {
  return parse_choice_or_throw<Mode>(text, "mode");
}

std::string mode_name(Mode mode) {
  return choice_name(mode);
}

std::string id_column(Mode mode) {
  return mode_name(mode) + "_id";
}

}  // namespace cdl::data
