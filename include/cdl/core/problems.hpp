// Problems found while checking an input are reported together, in one message: the user fixes
// them all at once instead of one per try, and every rank, finding the same list, fails alike.
#pragma once

#include <string>
#include <vector>

namespace cdl {

/// "<before><N> problem(s)<after>:" followed by one "\n  - <problem>" line per problem.
std::string problems_message(const std::vector<std::string>& problems, const std::string& before,
                             const std::string& after);

/// Throws `Error` (a cdl::Error type) with problems_message(problems, before, after) + `tail`
/// when `problems` is not empty.
template <class Error>
void throw_if_problems(const std::vector<std::string>& problems, const std::string& before,
                       const std::string& after, const std::string& tail = "") {
  if (!problems.empty()) throw Error(problems_message(problems, before, after) + tail);
}

}  // namespace cdl
