// A decoded image: float32 voxels in C order [C][X][Y][Z] (ClinicaDL's 1xXxYxZ tensor layout).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cdl::data_tools {

/// Image shape as (C, X, Y, Z); X varies slowest in memory, Z fastest.
using Shape4 = std::array<int64_t, 4>;

/// One decoded image. tensor[c][i][j][k] = data[((c*X + i)*Y + j)*Z + k] = NIfTI voxel (i, j, k).
struct Volume {
  Shape4 shape{0, 0, 0, 0};
  std::vector<float> data;

  /// Number of voxels over all channels.
  int64_t voxel_count() const { return shape[0] * shape[1] * shape[2] * shape[3]; }
};

/// "CxXxYxZ" text of a shape, for messages.
std::string shape_to_string(const Shape4& shape);

}  // namespace cdl::data_tools
