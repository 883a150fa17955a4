// Implementation of the command-line rules.
#include "cdl/core/command_line.hpp"

#include <algorithm>
#include <boost/program_options/parsers.hpp>

namespace cdl::cli {
namespace po = boost::program_options;

std::vector<std::string> normalize_option_names(const std::vector<std::string>& args) {
  std::vector<std::string> result;
  result.reserve(args.size());
  for (std::string token : args) {
    if (token.size() > 2 && token.compare(0, 2, "--") == 0) {
      const auto end = std::min(token.find('='), token.size());
      std::replace(token.begin() + 2, token.begin() + static_cast<std::ptrdiff_t>(end), '-', '_');
    }
    result.push_back(std::move(token));
  }
  return result;
}

std::vector<std::string> normalize_option_names(int argc, const char* const* argv, int first) {
  return normalize_option_names(
      std::vector<std::string>(argv + std::min(first, argc), argv + argc));
}

po::variables_map parse_options(const std::vector<std::string>& args,
                                const po::options_description& options,
                                const po::positional_options_description& positional) {
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::variables_map values;
  po::store(
      po::command_line_parser(args).options(options).positional(positional).style(style).run(),
      values);
  return values;
}

std::string describe_parse_error(const po::error& error) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&error)) {
    return "unknown option '" + unknown->get_option_name() + "'";
  }
  return error.what();
}

}  // namespace cdl::cli
