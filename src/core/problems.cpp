// Implementation of the problem list message.
#include "cdl/core/problems.hpp"

namespace cdl {

std::string problems_message(const std::vector<std::string>& problems, const std::string& before,
                             const std::string& after) {
  std::string message = before + std::to_string(problems.size()) + " problem(s)" + after + ":";
  for (const auto& problem : problems) message += "\n  - " + problem;
  return message;
}

}  // namespace cdl
