// Implementation of InputSize parsing and formatting.
#include "cdl/core/input_size.hpp"

#include <cctype>
#include <sstream>

#include "cdl/core/error.hpp"

namespace cdl {
namespace {

/// Parses a strictly positive decimal integer, or returns -1.
int64_t parse_positive(const std::string& token) {
  if (token.empty() || token.size() > 12) return -1;
  for (char c : token) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  }
  const int64_t value = std::stoll(token);
  return value > 0 ? value : -1;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : text) {
    if (c == separator) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

}  // namespace

std::vector<int64_t> InputSize::sample_shape() const {
  std::vector<int64_t> shape{channels};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  return shape;
}

std::vector<int64_t> InputSize::batch_shape(int64_t batch) const {
  std::vector<int64_t> shape{batch};
  const auto sample = sample_shape();
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

std::string InputSize::to_string() const {
  std::ostringstream out;
  out << channels << "@";
  for (size_t i = 0; i < spatial.size(); ++i) out << (i ? "x" : "") << spatial[i];
  return out.str();
}

InputSize InputSize::from_sample_shape(const std::vector<int64_t>& shape) {
  if (shape.size() != 3 && shape.size() != 4) {
    CDL_THROW(ConfigError, "sample shape ", format_shape(shape),
              " is neither 2D (C, H, W) nor 3D (C, D, H, W)");
  }
  InputSize size;
  size.channels = shape[0];
  size.spatial.assign(shape.begin() + 1, shape.end());
  return size;
}

InputSize parse_input_size(const std::string& text, const std::string& option) {
  const auto fail = [&](const std::string& why) {
    CDL_THROW(
        ConfigError, option, " '", text, "' is invalid: ", why,
        ".\n  expected C@DxHxW (3D) or C@HxW (2D) with positive integers, e.g. 1@169x208x179");
  };
  const auto at = split(text, '@');
  if (at.size() != 2) fail("it must contain exactly one '@'");
  InputSize size;
  size.channels = parse_positive(at[0]);
  if (size.channels < 0) fail("the channel count '" + at[0] + "' is not a positive integer");
  for (const auto& token : split(at[1], 'x')) {
    const int64_t length = parse_positive(token);
    if (length < 0) fail("the spatial length '" + token + "' is not a positive integer");
    size.spatial.push_back(length);
  }
  if (size.spatial.size() != 2 && size.spatial.size() != 3) {
    fail("it has " + std::to_string(size.spatial.size()) + " spatial lengths, expected 2 or 3");
  }
  return size;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

}  // namespace cdl
