// Implementation of reading a MAPS's options back.
#include "cdl/maps/maps_config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::maps {

config::TrainConfig read_maps_config(const std::string& maps_dir) {
  const MapsLayout layout(maps_dir);
  if (!std::filesystem::is_regular_file(layout.maps_json())) {
    auto staged = std::filesystem::path(maps_dir).lexically_normal();
    if (staged.filename().empty()) staged = staged.parent_path();
    staged += ".partial";
    CDL_THROW(ConfigError, "'", maps_dir, "' is not a MAPS folder: '", layout.maps_json(),
              "' does not exist\n  hint: ",
              std::filesystem::exists(staged)
                  ? "'" + staged.string() +
                        "' is a MAPS whose training never started (its set-up " +
                        "failed or was killed): run the same `clinicadl-hpc train` again"
                  : std::string("give the MAPS_DIR of an earlier `clinicadl-hpc train`"));
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_text_file(layout.maps_json()));
  } catch (const nlohmann::json::exception& error) {
    CDL_THROW(ConfigError, "'", layout.maps_json(), "' is not valid JSON: ", error.what());
  }
  auto c = config::config_from_maps_json(json, layout.maps_json());
  c.maps_dir = maps_dir;
  c.overwrite = false;
  c.config_file.clear();
  return c;
}

}  // namespace cdl::maps
