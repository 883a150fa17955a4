// The caps2h5 command line (Boost.ProgramOptions; '-' accepted in place of '_' in option names).
#pragma once

#include <string>
#include <vector>

namespace cdl::data_tools {

/// Runs `caps2h5 <command> ...` and returns the process exit status: 0 success, 1 data error
/// (or validation problems), 2 usage/configuration error.
int run_cli(int argc, char** argv);

/// Rewrites "--some-option[=v]" as "--some_option[=v]"; other arguments are left unchanged.
std::vector<std::string> normalize_option_names(const std::vector<std::string>& args);

}  // namespace cdl::data_tools
