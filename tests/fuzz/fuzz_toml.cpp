// Fuzz target: any bytes as the --config_file of `train` (ClinicaDL's TOML layout), parsed and
// validated like a real run. Bad files must end in ConfigError, nothing else.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "cdl/config/train_config.hpp"
#include "cdl/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cdl_fuzz_toml_" + std::to_string(getpid()) + ".toml";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    auto config = cdl::config::parse_train_arguments(
        {"classification", "data.h5", "split", "maps", "--config_file", path});
    cdl::config::resolve_and_validate(config);
    (void)config.to_json().dump();
  } catch (const cdl::ConfigError&) {
  } catch (const cdl::config::HelpRequested&) {
  }
  return 0;
}
