// Private to config/: TOML values as the command line gives them, for the option table.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

namespace cdl::config {

/// The values of a TOML scalar or array as command-line texts ("true", "4", "1e-05", "Adam").
std::vector<std::string> toml_values(const toml::node& node);

}  // namespace cdl::config
