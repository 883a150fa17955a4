// The command lines of resume and predict, through the one parser (core/command_line.hpp).
#include "command_line.hpp"

#include "cdl/config/train_config.hpp"
#include "cdl/core/command_line.hpp"
#include "cdl/core/error.hpp"

namespace cdl::app {

std::string CommandLine::value(const std::string& option, const std::string& fallback) const {
  const auto it = options.find(option);
  return it == options.end() || it->second.empty() ? fallback : it->second.front();
}

namespace {
namespace po = boost::program_options;

/// The options of `known` ("--name" -> arity) for the one parser, plus --help and the
/// positional arguments.
po::options_description describe(const std::map<std::string, Arity>& known) {
  po::options_description options;
  options.add_options()("help,h", "")("positional", po::value<std::vector<std::string>>(), "");
  for (const auto& [option, arity] : known) {
    const std::string name = option.substr(2);
    if (arity == Arity::kNone) {
      options.add_options()(name.c_str(), po::bool_switch(), "");
    } else if (arity == Arity::kOne) {
      options.add_options()(name.c_str(), po::value<std::string>(), "");
    } else {
      options.add_options()(name.c_str(), po::value<std::vector<std::string>>()->multitoken(), "");
    }
  }
  return options;
}

/// The options of `known` that `values` holds, as "--name" -> values (switches: when set).
CommandLine collect(const po::variables_map& values, const std::map<std::string, Arity>& known) {
  CommandLine line;
  if (values.count("positional")) {
    line.positional = values["positional"].as<std::vector<std::string>>();
  }
  for (const auto& [option, arity] : known) {
    const std::string name = option.substr(2);
    if (!values.count(name)) continue;
    if (arity == Arity::kNone) {
      if (values[name].as<bool>()) line.options[option] = {};
    } else if (arity == Arity::kOne) {
      line.options[option] = {values[name].as<std::string>()};
    } else {
      line.options[option] = values[name].as<std::vector<std::string>>();
    }
  }
  return line;
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args,
                               const std::map<std::string, Arity>& known, size_t positional,
                               const std::string& usage) {
  po::positional_options_description positionals;
  positionals.add("positional", -1);
  po::variables_map values;
  try {
    values = cli::parse_options(args, describe(known), positionals);
  } catch (const po::error& error) {
    CDL_THROW(ConfigError, cli::describe_parse_error(error), "\n", usage);
  }
  if (values.count("help")) throw config::HelpRequested(usage);
  CommandLine line = collect(values, known);
  if (line.positional.size() != positional) {
    CDL_THROW(ConfigError, "expected ", positional, " positional argument(s), got ",
              line.positional.size(), "\n", usage);
  }
  return line;
}

std::map<std::string, Arity> train_options(const std::vector<std::string>& names) {
  std::map<std::string, Arity> known;
  for (const auto& name : names) {
    const int arity = config::train_option_arity(name);
    known["--" + name] = arity == 0 ? Arity::kNone : arity == 1 ? Arity::kOne : Arity::kMany;
  }
  return known;
}

std::map<std::string, std::vector<std::string>> train_option_values(
    const CommandLine& line, const std::vector<std::string>& names) {
  std::map<std::string, std::vector<std::string>> values;
  for (const auto& name : names) {
    if (line.has("--" + name)) values["--" + name] = line.options.at("--" + name);
  }
  return values;
}

}  // namespace cdl::app
