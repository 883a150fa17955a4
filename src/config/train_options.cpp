// The option table of `train`: one row per option (name, TOML section, field, help). The table
// drives the command line, the TOML config file and maps.json, so the three never disagree.
#include <toml++/toml.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <variant>

#include "cdl/config/train_config.hpp"
#include "cdl/core/command_line.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/problems.hpp"
#include "toml_values.hpp"
#include "train_option_table.hpp"

namespace cdl::config {
namespace po = boost::program_options;
namespace {

/// Problems found while reading options; reported together in one ConfigError.
using Problems = std::vector<std::string>;

bool parse_bool(const std::string& text, bool& ok) {
  ok = true;
  if (text == "true" || text == "True" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "False" || text == "0" || text == "no") return false;
  ok = false;
  return false;
}

template <typename T>
bool parse_number(const std::string& text, T& value) {
  std::istringstream in(text);
  in >> value;
  return !in.fail() && in.peek() == std::char_traits<char>::eof();
}

/// Stores `values` into `field`; on failure appends a problem naming `where` and the value.
void set_field(const Field& field, const std::vector<std::string>& values, const std::string& where,
               Problems& problems) {
  std::string seen;
  for (const auto& v : values) seen += (seen.empty() ? "" : " ") + v;
  const auto fail = [&](const std::string& expected) {
    problems.push_back(where + " '" + seen + "' is invalid: expected " + expected);
  };
  const bool single = values.size() == 1;
  std::visit(
      [&](const auto& target) {
        using T = std::remove_pointer_t<std::decay_t<decltype(target)>>;
        if constexpr (std::is_same_v<T, ChoiceField>) {
          if (!single || !target.set(values[0])) {
            problems.push_back(where + " '" + seen + "' is not one of " + target.expected);
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          bool ok = single;
          if (single) *target = parse_bool(values[0], ok);
          if (!ok) fail("true or false");
        } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          if (!single || !parse_number(values[0], *target)) {
            fail(std::is_same_v<T, int64_t> ? "an integer" : "a number");
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!single) return fail("one value");
          *target = values[0];
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          *target = values;
        } else {
          target->clear();
          for (const auto& v : values) {
            int64_t number = 0;
            if (!parse_number(v, number)) return fail("integers");
            target->push_back(number);
          }
        }
      },
      field);
}

void read_label_code(const toml::node& node, TrainConfig& config, const std::string& where,
                     Problems& problems) {
  const auto* table = node.as_table();
  if (table == nullptr) return problems.push_back(where + " must be a table of label -> code");
  config.label_code.clear();
  for (const auto& [key, value] : *table) {
    auto code = value.value_exact<int64_t>();
    if (!code) {
      problems.push_back(where + "." + std::string(key.str()) + " must be an integer code");
      continue;
    }
    config.label_code[std::string(key.str())] = *code;
  }
}

const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, const std::string& section,
                            const std::string& key) {
  for (const auto& spec : specs) {
    if (spec.name == key && spec.section == section) return &spec;
  }
  return nullptr;
}

bool is_task_section(const std::string& section) {
  return section == "Classification" || section == "Regression" || section == "Reconstruction";
}

/// ClinicaDL's TOML holds one section per task; only the running task's section applies, the
/// others are checked for unknown keys and skipped. Task options live under "Classification".
void apply_toml_section(const std::string& file, const std::string& section,
                        const toml::table& table, TrainConfig& config,
                        const std::vector<OptionSpec>& specs, Problems& problems) {
  std::string task_section = choice_name(config.network_task);
  task_section[0] = static_cast<char>(std::toupper(task_section[0]));
  const bool applies = !is_task_section(section) || section == task_section;
  const std::string lookup = is_task_section(section) ? "Classification" : section;
  for (const auto& [key_view, node] : table) {
    const std::string key(key_view.str());
    const std::string where = file + ": [" + section + "] " + key;
    if (key == "label_code") {
      if (applies) read_label_code(node, config, where, problems);
    } else if (const auto* spec = find_spec(specs, lookup, key)) {
      if (applies) set_field(spec->field, toml_values(node), where, problems);
    } else {
      problems.push_back(where + " is not a known key of section [" + section + "]");
    }
  }
}

void apply_toml(const std::string& file, TrainConfig& config, Problems& problems,
                const std::string& skipped_section) {
  if (file.size() < 5 || file.substr(file.size() - 5) != ".toml") {
    problems.push_back("--config_file '" + file +
                       "': expected a .toml file in ClinicaDL's "
                       "train_config.toml layout");
    return;
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    problems.push_back(
        "--config_file '" + file + "' " +
        (std::filesystem::exists(file, error) ? "is not a regular file" : "does not exist") +
        "; expected a TOML file in ClinicaDL's train_config.toml layout");
    return;
  }
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    problems.push_back("--config_file '" + file + "' line " + std::to_string(where.line) +
                       ", column " + std::to_string(where.column) +
                       " is not valid TOML: " + std::string(error.description()));
    return;
  }
  const auto specs = option_specs(config);
  for (const auto& [section_view, node] : root) {
    const std::string section(section_view.str());
    if (section == skipped_section) continue;
    const auto* table = node.as_table();
    if (table == nullptr || !is_known_section(section)) {
      problems.push_back(file + ": '" + section + "' is not a known section (expected one of " +
                         known_sections() + ")");
      continue;
    }
    apply_toml_section(file, section, *table, config, specs, problems);
  }
}

po::options_description build_description(const std::vector<OptionSpec>& specs) {
  po::options_description description("train options");
  description.add_options()("help,h", "print this help")(
      "config_file,c", po::value<std::string>(),
      "TOML file in ClinicaDL's train_config.toml layout")("overwrite,o", po::bool_switch(),
                                                           "replace an existing MAPS folder");
  for (const auto& spec : specs) {
    const std::string names =
        spec.short_name.empty() ? spec.name : spec.name + "," + spec.short_name;
    if (std::holds_alternative<bool*>(spec.field)) {
      description.add_options()(names.c_str(), po::bool_switch(), spec.help.c_str());
      if (!spec.negation.empty()) {
        description.add_options()(spec.negation.c_str(), po::bool_switch(),
                                  ("opposite of --" + spec.name).c_str());
      }
    } else if (spec.is_list()) {
      description.add_options()(names.c_str(), po::value<std::vector<std::string>>()->multitoken(),
                                spec.help.c_str());
    } else {
      description.add_options()(names.c_str(), po::value<std::string>(), spec.help.c_str());
    }
  }
  description.add_options()("positional", po::value<std::vector<std::string>>(), "");
  return description;
}

void apply_command_line(const po::variables_map& values, TrainConfig& config, Problems& problems) {
  for (const auto& spec : option_specs(config)) {
    const std::string where = "--" + spec.name;
    if (std::holds_alternative<bool*>(spec.field)) {
      const bool set = values.count(spec.name) && values[spec.name].as<bool>();
      const bool unset =
          !spec.negation.empty() && values.count(spec.negation) && values[spec.negation].as<bool>();
      if (set && unset)
        problems.push_back(where + " and --" + spec.negation + " contradict each other");
      if (set || unset) *std::get<bool*>(spec.field) = set;
    } else if (values.count(spec.name)) {
      const auto& value = values[spec.name];
      set_field(spec.field,
                spec.is_list() ? value.as<std::vector<std::string>>()
                               : std::vector<std::string>{value.as<std::string>()},
                where, problems);
    }
  }
}

/// Throws ConfigError listing every problem with the options of `command`, then `hint`.
void throw_if_problems(const Problems& problems, const std::string& command = "train",
                       const std::string& hint = "clinicadl-hpc train --help lists every option") {
  cdl::throw_if_problems<ConfigError>(problems, "", " with the " + command + " options",
                                      "\n  hint: " + hint);
}

/// The hint for a command-line error: ClinicaDL's own spelling of an option when the message
/// names one that we spell differently, else where to find the option list.
std::string clinicadl_spelling_hint(const std::string& message) {
  static const std::pair<const char*, const char*> kSpellings[] = {
      {"'--no_gpu'", "ClinicaDL's --no-gpu is written --gpu false here"},
      {"'--gpu' is missing", "ClinicaDL's --gpu is written --gpu true here (or auto, false)"},
      {"'--nproc'", "ClinicaDL's --nproc is written --n_proc here"},
      {"'--profiler'", "the profiler is not supported"},
  };
  for (const auto& [needle, hint] : kSpellings) {
    if (message.find(needle) != std::string::npos) return hint;
  }
  return "clinicadl-hpc train --help lists every option";
}

po::variables_map parse_command_line(const std::vector<std::string>& args,
                                     const po::options_description& description) {
  po::positional_options_description positional;
  positional.add("positional", -1);
  try {
    return cli::parse_options(args, description, positional);
  } catch (const po::error& error) {
    const std::string message = cli::describe_parse_error(error);
    CDL_THROW(ConfigError, "train: ", message, "\n  hint: ", clinicadl_spelling_hint(message));
  }
}

void read_positionals(const po::variables_map& values, TrainConfig& config) {
  std::vector<std::string> positionals;
  if (values.count("positional")) positionals = values["positional"].as<std::vector<std::string>>();
  if (positionals.size() != 4) {
    CDL_THROW(ConfigError, "train expects 4 arguments TASK DATA TSV_DIR MAPS_DIR, got ",
              positionals.size(),
              "\n  usage: clinicadl-hpc train {classification|regression|"
              "reconstruction} DATA.h5 SPLIT_DIR MAPS_DIR [options]");
  }
  if (const auto task = parse_choice<data::Task>(positionals[0])) {
    config.network_task = *task;
  } else {
    CDL_THROW(ConfigError, "train: TASK '", positionals[0], "' is not one of ",
              choice_list<data::Task>(),
              "\n  usage: clinicadl-hpc train {classification|regression|"
              "reconstruction} DATA.h5 SPLIT_DIR MAPS_DIR [options]");
  }
  config.data_path = positionals[1];
  config.tsv_path = positionals[2];
  config.maps_dir = positionals[3];
}

/// The text of a TOML scalar, as the command line would give it.
std::string toml_scalar_text(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.17g", *d);
    return buffer;
  }
  return "<unsupported TOML value>";
}

/// True when `problem` names the option `name` ("--name 'x'...", "[Section] name 'x'...").
bool names_option(const std::string& problem, const std::string& name) {
  for (const std::string& mark : {"--" + name, "] " + name}) {
    for (auto at = problem.find(mark); at != std::string::npos; at = problem.find(mark, at + 1)) {
      const size_t end = at + mark.size();
      if (end == problem.size() ||
          !(std::isalnum(static_cast<unsigned char>(problem[end])) || problem[end] == '_')) {
        return true;
      }
    }
  }
  return false;
}

/// With problems found while reading, adds those of the combination checks, so that every
/// problem is reported at once; a check naming an option whose value did not read is left out,
/// as it would judge the default standing in for that value.
void add_combination_problems(TrainConfig config, Problems& problems) {
  const auto unreadable_file = [](const std::string& problem) {
    return problem.find("--config_file") != std::string::npos;
  };
  // Without a readable config file, the defaults standing in for all its keys prove nothing.
  if (problems.empty() || std::any_of(problems.begin(), problems.end(), unreadable_file)) return;
  std::vector<std::string> unread;
  for (const auto& spec : option_specs(config)) {
    for (const auto& problem : problems) {
      if (names_option(problem, spec.name)) unread.push_back(spec.name);
    }
  }
  for (const auto& problem : resolve_and_find_problems(config)) {
    if (std::none_of(unread.begin(), unread.end(),
                     [&](const std::string& name) { return names_option(problem, name); })) {
      problems.push_back(problem);
    }
  }
}

}  // namespace

std::vector<std::string> toml_values(const toml::node& node) {
  std::vector<std::string> values;
  if (const auto* array = node.as_array()) {
    for (const auto& element : *array) values.push_back(toml_scalar_text(element));
  } else {
    values.push_back(toml_scalar_text(node));
  }
  return values;
}

void apply_config_file(const std::string& file, TrainConfig& config,
                       std::vector<std::string>& problems, const std::string& skipped_section) {
  apply_toml(file, config, problems, skipped_section);
}

TrainConfig parse_train_arguments(const std::vector<std::string>& args) {
  TrainConfig config;
  const auto description = build_description(option_specs(config));
  const auto values = parse_command_line(expand_short_aliases(args), description);
  if (values.count("help")) throw HelpRequested(train_usage());
  read_positionals(values, config);
  Problems problems;
  if (values.count("config_file")) {
    config.config_file = values["config_file"].as<std::string>();
    apply_toml(config.config_file, config, problems, "");
  }
  apply_command_line(values, config, problems);
  config.overwrite = values["overwrite"].as<bool>();
  add_combination_problems(config, problems);
  throw_if_problems(problems);
  return config;
}

void apply_train_options(TrainConfig& config,
                         const std::map<std::string, std::vector<std::string>>& values,
                         const std::string& command) {
  const auto specs = option_specs(config);
  Problems problems;
  for (const auto& [option, given] : values) {
    const auto name = option.rfind("--", 0) == 0 ? option.substr(2) : option;
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      problems.push_back("'" + option + "' is not a train option");
    } else if (std::holds_alternative<bool*>(spec->field) && given.empty()) {
      *std::get<bool*>(spec->field) = true;
    } else {
      set_field(spec->field, given, option, problems);
    }
  }
  throw_if_problems(problems, command, "clinicadl-hpc " + command + " --help lists its options");
}

int train_option_arity(const std::string& name) {
  TrainConfig config;
  for (const auto& spec : option_specs(config)) {
    if (spec.name != name) continue;
    if (std::holds_alternative<bool*>(spec.field)) return 0;
    return spec.is_list() ? -1 : 1;
  }
  CDL_THROW(InternalError, "'", name, "' is not in the train option table");
}

std::string train_usage() {
  TrainConfig config;
  std::ostringstream out;
  out << "Usage: mpirun -np N clinicadl-hpc train {classification|regression|reconstruction} "
         "DATA.h5 SPLIT_DIR MAPS_DIR [options]\n"
      << build_description(option_specs(config));
  return out.str();
}

}  // namespace cdl::config
