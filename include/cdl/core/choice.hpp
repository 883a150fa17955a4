// Choices: enums whose values have names (a task, a mode, the values of an option such as
// --optimizer). Each such enum declares its names once, beside its definition, as
// `constexpr std::array<ChoiceName<E>, N> choice_names(E)`; the functions below, which find that
// table by argument-dependent lookup, parse, name and list every such enum the same way.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "cdl/core/error.hpp"

namespace cdl {

/// One value of a choice enum and its name. A value may have several names (aliases): the
/// first is the one written back.
template <typename E>
struct ChoiceName {
  E value;
  std::string_view name;
};

/// The name of `value`, as options, TOML files and maps.json spell it.
template <typename E>
std::string choice_name(E value) {
  for (const auto& entry : choice_names(E{})) {
    if (entry.value == value) return std::string(entry.name);
  }
  return "<unnamed value " + std::to_string(static_cast<int>(value)) + ">";
}

/// The value named `text` (exact spelling), or nothing.
template <typename E>
std::optional<E> parse_choice(std::string_view text) {
  for (const auto& entry : choice_names(E{})) {
    if (entry.name == text) return entry.value;
  }
  return std::nullopt;
}

/// The accepted names for messages: "Adam, AdamW, SGD, Adagrad or RMSprop" (an empty name is
/// written "").
template <typename E>
std::string choice_list() {
  const auto& names = choice_names(E{});
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i].name.empty() ? std::string("\"\"") : std::string(names[i].name);
  }
  return text;
}

/// The value named `text`; throws ConfigError "<what> '<text>' is not one of <names>" otherwise.
template <typename E>
E parse_choice_or_throw(std::string_view text, std::string_view what) {
  if (auto value = parse_choice<E>(text)) return *value;
  CDL_THROW(ConfigError, what, " '", text, "' is not one of ", choice_list<E>());
}

}  // namespace cdl
