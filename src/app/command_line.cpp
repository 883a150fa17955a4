// Implementation of the small command-line parser.
#include "command_line.hpp"

#include "cdl/config/train_config.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/problems.hpp"

namespace cdl::app {

std::string CommandLine::value(const std::string& option, const std::string& fallback) const {
  const auto it = options.find(option);
  return it == options.end() || it->second.empty() ? fallback : it->second.front();
}

CommandLine parse_command_line(const std::vector<std::string>& args,
                               const std::map<std::string, Arity>& known, size_t positional,
                               const std::string& usage) {
  CommandLine line;
  std::vector<std::string> problems;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--help" || arg == "-h") throw config::HelpRequested(usage);
    if (arg.rfind("--", 0) != 0) {
      line.positional.push_back(arg);
      continue;
    }
    std::vector<std::string> values;
    while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) values.push_back(args[++i]);
    const auto spec = known.find(arg);
    if (spec == known.end()) {
      problems.push_back("unknown option '" + arg + "'");
      continue;
    }
    const bool count_ok = spec->second == Arity::kNone  ? values.empty()
                          : spec->second == Arity::kOne ? values.size() == 1
                                                        : !values.empty();
    if (!count_ok) {
      const char* expected = spec->second == Arity::kNone  ? "no value"
                             : spec->second == Arity::kOne ? "one value"
                                                           : "one or more values";
      problems.push_back(arg + " takes " + expected + ", got " + std::to_string(values.size()));
      continue;
    }
    line.options[arg] = values;
  }
  if (line.positional.size() != positional) {
    problems.push_back("expected " + std::to_string(positional) + " positional argument(s), got " +
                       std::to_string(line.positional.size()));
  }
  throw_if_problems<ConfigError>(problems, "", " with the arguments", "\n" + usage);
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
