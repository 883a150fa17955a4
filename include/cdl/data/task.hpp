// Task: ClinicaDL's three tasks, as the data layer sees them (it does not see the config layer),
// with their names and default label columns.
#pragma once

#include <array>
#include <string>

#include "cdl/core/choice.hpp"

namespace cdl::data {

/// The three ClinicaDL tasks.
enum class Task { kClassification, kRegression, kReconstruction };

/// The task names of `train TASK` and maps.json's network_task (core/choice.hpp).
constexpr std::array<ChoiceName<Task>, 3> choice_names(Task) {
  return {{{Task::kClassification, "classification"},
           {Task::kRegression, "regression"},
           {Task::kReconstruction, "reconstruction"}}};
}

/// Parses "classification" | "regression" | "reconstruction"; throws ConfigError otherwise.
Task parse_task(const std::string& text);
/// The task's name ("classification", ...), as `train TASK` and maps.json write it.
std::string task_name(Task task);
/// ClinicaDL's default label column of a task: "diagnosis", "age", or "" (reconstruction).
std::string default_label_column(Task task);

}  // namespace cdl::data
