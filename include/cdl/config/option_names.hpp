// Command-line spelling rules shared by every subcommand: ClinicaDL's snake_case option names,
// with '-' accepted in place of '_' ("--batch-size" == "--batch_size").
#pragma once

#include <string>
#include <vector>

namespace cdl::config {

/// Returns argv[first..argc) with every long option name rewritten to use '_' ("--batch-size=8"
/// -> "--batch_size=8"); values and positional arguments are untouched.
std::vector<std::string> normalize_option_names(int argc, const char* const* argv, int first);

}  // namespace cdl::config
