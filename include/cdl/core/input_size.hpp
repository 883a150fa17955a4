// Parsing and printing of ClinicaDL input sizes such as "1@169x208x179" (C@DxHxW) or "3@128x128".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdl {

/// Shape of one sample without the batch axis: channels plus 2 or 3 spatial lengths.
struct InputSize {
  int64_t channels = 1;
  std::vector<int64_t> spatial;  ///< (H, W) in 2D or (D, H, W) in 3D

  /// Number of spatial axes (2 or 3).
  int dimension() const { return static_cast<int>(spatial.size()); }
  /// The full sample shape {C, spatial...} as used by LibTorch.
  std::vector<int64_t> sample_shape() const;
  /// The batch shape {batch, C, spatial...}.
  std::vector<int64_t> batch_shape(int64_t batch) const;
  /// ClinicaDL's text form, e.g. "1@169x208x179".
  std::string to_string() const;
  /// Builds an InputSize from a sample shape {C, spatial...}; throws ConfigError if not 3 or 4
  /// long.
  static InputSize from_sample_shape(const std::vector<int64_t>& shape);
};

/// Parses "C@DxHxW" or "C@HxW". `option` names the option in error messages.
/// Throws ConfigError naming the option, the value seen and the expected form.
InputSize parse_input_size(const std::string& text, const std::string& option = "--input_size");

/// Formats a shape as "[1, 8, 85, 104, 90]".
std::string format_shape(const std::vector<int64_t>& shape);

}  // namespace cdl
