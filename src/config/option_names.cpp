// Implementation of option-name normalisation.
#include "cdl/config/option_names.hpp"

#include <algorithm>

namespace cdl::config {

std::vector<std::string> normalize_option_names(int argc, const char* const* argv, int first) {
  std::vector<std::string> result;
  for (int i = first; i < argc; ++i) {
    std::string token = argv[i];
    if (token.size() > 2 && token.compare(0, 2, "--") == 0) {
      const auto end = std::min(token.find('='), token.size());
      std::replace(token.begin() + 2, token.begin() + static_cast<std::ptrdiff_t>(end), '-', '_');
    }
    result.push_back(std::move(token));
  }
  return result;
}

}  // namespace cdl::config
