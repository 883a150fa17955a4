// The small command lines of `resume` and `predict`: positional arguments, the train options
// they may change (their values read by the train option table, config/train_config.hpp) and
// their own options, each with one value, several values, or none.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cdl::app {

/// How many values an option takes.
enum class Arity { kNone, kOne, kMany };

/// A parsed command line.
struct CommandLine {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options;  ///< "--name" -> values

  bool has(const std::string& option) const { return options.count(option) > 0; }
  /// The single value of `option`, or `fallback` when absent.
  std::string value(const std::string& option, const std::string& fallback = "") const;
};

/// Parses `args` (option names already normalised to '_') with the rules of
/// core/command_line.hpp. Throws HelpRequested(usage) for --help, and ConfigError naming the
/// unknown option, the missing value or the wrong number of positional arguments, followed by
/// `usage`.
CommandLine parse_command_line(const std::vector<std::string>& args,
                               const std::map<std::string, Arity>& known, size_t positional,
                               const std::string& usage);

/// The options `names` (train option names, without dashes) with the number of values the
/// train option table gives each, for a command that changes them (resume, predict).
std::map<std::string, Arity> train_options(const std::vector<std::string>& names);

/// The values of `line` that are train options (table names), ready for
/// config::apply_train_options; the command's own options are left out.
std::map<std::string, std::vector<std::string>> train_option_values(
    const CommandLine& line, const std::vector<std::string>& names);

}  // namespace cdl::app
