// The command-line rules of both programs (clinicadl-hpc and caps2h5), in one place: ClinicaDL's
// snake_case option names with '-' accepted for '_', long options with no prefix guessing, and
// one parser (Boost.ProgramOptions) with one style. LibTorch-free.
#pragma once

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>
#include <string>
#include <vector>

namespace cdl::cli {

/// Returns `args` with every long option name rewritten to use '_' ("--batch-size=8" ->
/// "--batch_size=8"); values and positional arguments are untouched.
std::vector<std::string> normalize_option_names(const std::vector<std::string>& args);

/// argv[first..argc), normalised as above.
std::vector<std::string> normalize_option_names(int argc, const char* const* argv, int first);

/// Parses `args` (already normalised) against `options`, positional arguments going to the
/// options `positional` names. No prefix guessing (--epoch is not --epochs: ClinicaDL does not
/// guess, and a guess hides typos). Throws boost::program_options::error; describe_parse_error
/// words it for users.
boost::program_options::variables_map parse_options(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional);

/// The message of a parse error in the project's words: "unknown option '--x'", "option '--x'
/// takes ...".
std::string describe_parse_error(const boost::program_options::error& error);

}  // namespace cdl::cli
