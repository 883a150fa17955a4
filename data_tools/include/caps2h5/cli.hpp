// The caps2h5 command line (the rules of core/command_line.hpp: '-' accepted for '_' in option
// names, no prefix guessing).
#pragma once

namespace cdl::data_tools {

/// Runs `caps2h5 <command> ...` and returns the process exit status: 0 success, 1 data error
/// (or validation problems), 2 usage/configuration error.
int run_cli(int argc, char** argv);

}  // namespace cdl::data_tools
