// Private to config/: the table that binds each train option to its TrainConfig field, its TOML
// section and its help text. Its order is the order of the keys in maps.json.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cdl/config/train_config.hpp"

namespace cdl::config {

/// A TrainConfig field of a choice type (config/choices.hpp), read and written by name.
struct ChoiceField {
  std::function<bool(std::string_view)> set;  ///< false when the name is not one of the choices
  std::function<std::string()> get;           ///< the name of the current value
  std::string expected;                       ///< "a, b or c", for messages
};

/// The ChoiceField of `field`, which must outlive it.
template <typename E>
ChoiceField choice_field(E& field) {
  return {[&field](std::string_view name) {
            const auto value = parse_choice<E>(name);
            if (value) field = *value;
            return value.has_value();
          },
          [&field] { return choice_name(field); }, choice_list<E>()};
}

/// The TrainConfig field an option fills.
using Field = std::variant<bool*, int64_t*, double*, std::string*, std::vector<std::string>*,
                           std::vector<int64_t>*, ChoiceField>;

/// One option: `--name` on the command line, `name` in TOML section `section`.
struct OptionSpec {
  std::string name;
  std::string section;
  Field field;
  std::string help{};
  std::string negation{};    ///< for booleans: the option that sets false (e.g. "no_gpu")
  std::string short_name{};  ///< one-letter alias, or empty
  /// False for an option of the allocation rather than of the experiment (--stage_data, a
  /// node-local folder): maps.json neither records nor reads it, so resume never inherits it.
  bool in_maps_json = true;
  /// True for options that take several values.
  bool is_list() const {
    return std::holds_alternative<std::vector<std::string>*>(field) ||
           std::holds_alternative<std::vector<int64_t>*>(field);
  }
};

/// The option table bound to `config` (in maps.json order).
std::vector<OptionSpec> option_specs(TrainConfig& config);

/// True for the TOML sections of ClinicaDL's train_config.toml (plus ours).
bool is_known_section(const std::string& section);

/// "Model, Architecture, ..." for error messages.
std::string known_sections();

/// Applies a TOML file in ClinicaDL's train_config.toml layout to `config` (its section for the
/// task, the task-free sections), skipping the section `skipped_section` (random-search's
/// Random_Search); every problem (unknown section or key, bad value) is appended to `problems`.
void apply_config_file(const std::string& file, TrainConfig& config,
                       std::vector<std::string>& problems, const std::string& skipped_section);

/// resolve_and_validate's work, returning the problems instead of throwing them.
std::vector<std::string> resolve_and_find_problems(TrainConfig& config);

/// Rewrites ClinicaDL's multi-letter short options (-lr, -wd, -asteps, ...) to long ones.
std::vector<std::string> expand_short_aliases(const std::vector<std::string>& args);

}  // namespace cdl::config
