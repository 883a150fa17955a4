// Implementation of the task names.
#include "cdl/data/task.hpp"

#include "cdl/core/error.hpp"

namespace cdl::data {

Task parse_task(const std::string& text) {
  return parse_choice_or_throw<Task>(text, "task");
}

std::string task_name(Task task) {
  return choice_name(task);
}

std::string default_label_column(Task task) {
  switch (task) {
    case Task::kClassification:
      return "diagnosis";
    case Task::kRegression:
      return "age";
    case Task::kReconstruction:
      return "";
  }
  return "";
}

}  // namespace cdl::data
