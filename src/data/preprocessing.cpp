// Implementation of the preprocessing-dict reader (nlohmann::json, header-only).
#include "cdl/data/preprocessing.hpp"

#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

using Json = nlohmann::json;

/// Copies key `name` of `dict` into `out` when present and not null.
template <typename T>
void read_key(const Json& dict, const char* name, T& out, const std::string& origin) {
  const auto it = dict.find(name);
  if (it == dict.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const Json::exception&) {
    CDL_THROW(ConfigError, origin, ": preprocessing key '", name, "' has value ", it->dump(),
              " of the wrong type");
  }
}

std::vector<int64_t> read_discarded(const Json& dict, const std::string& origin) {
  const auto it = dict.find("discarded_slices");
  if (it == dict.end() || it->is_null()) return {0, 0};
  if (it->is_number_integer()) return {it->get<int64_t>(), it->get<int64_t>()};
  std::vector<int64_t> values;
  read_key(dict, "discarded_slices", values, origin);
  if (values.empty() || values.size() > 2) {
    CDL_THROW(ConfigError, origin, ": discarded_slices ", it->dump(), "; expected 1 or 2 integers");
  }
  return values;
}

}  // namespace

ModeConfig mode_config_from_json(const std::string& json, const std::string& origin) {
  Json dict;
  try {
    dict = Json::parse(json);
  } catch (const Json::exception& e) {
    CDL_THROW(ConfigError, origin, ": the preprocessing JSON is not valid JSON (", e.what(), ")");
  }
  if (!dict.is_object())
    CDL_THROW(ConfigError, origin, ": the preprocessing JSON is not an object");
  ModeConfig c;
  std::string mode = "image", slice_mode = "rgb";
  read_key(dict, "mode", mode, origin);
  c.mode = parse_mode(mode);
  read_key(dict, "patch_size", c.patch_size, origin);
  read_key(dict, "stride_size", c.stride_size, origin);
  read_key(dict, "slice_direction", c.slice_direction, origin);
  read_key(dict, "slice_mode", slice_mode, origin);
  if (slice_mode != "rgb" && slice_mode != "single") {
    CDL_THROW(ConfigError, origin, ": slice_mode '", slice_mode, "'; expected rgb or single");
  }
  c.slice_rgb = slice_mode == "rgb";
  c.discarded_slices = read_discarded(dict, origin);
  read_key(dict, "num_slices", c.num_slices, origin);
  read_key(dict, "roi_list", c.roi_list, origin);
  read_key(dict, "uncropped_roi", c.uncropped_roi, origin);
  read_key(dict, "roi_background_value", c.roi_background_value, origin);
  return c;
}

}  // namespace cdl::data
