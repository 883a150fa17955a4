// Implementation of the task names.
#include "cdl/data/task.hpp"

#include "cdl/core/error.hpp"

namespace cdl::data {

Task parse_task(const std::string& text) {
  if (text == "classification") return Task::kClassification;
  if (text == "regression") return Task::kRegression;
  if (text == "reconstruction") return Task::kReconstruction;
  CDL_THROW(ConfigError, "unknown task '", text,
            "'; expected one of classification, regression, reconstruction");
}

std::string task_name(Task task) {
  switch (task) {
    case Task::kClassification:
      return "classification";
    case Task::kRegression:
      return "regression";
    case Task::kReconstruction:
      return "reconstruction";
  }
  return "classification";
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
