// Known answers of the image shape bounds (core/image_limits).
#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "cdl/core/image_limits.hpp"

namespace cdl {
namespace {

std::string error_of(const std::vector<int64_t>& shape) {
  try {
    check_image_shape("f.h5", shape);
  } catch (const DataError& error) {
    return error.what();
  }
  return "";
}

TEST(ImageLimits, BrainImagesPassAbsurdShapesAreNamed) {
  EXPECT_EQ(error_of({1, 169, 208, 179}), "");
  EXPECT_EQ(error_of({3, 512, 512}), "");
  EXPECT_NE(
      error_of({1, 4000, 4000, 4000}).find("'f.h5' declares images of shape 1x4000x4000x4000"),
      std::string::npos);
  EXPECT_NE(error_of({1, 70000, 2, 2}).find("outside the sane range"), std::string::npos);
  EXPECT_NE(error_of({0, 2, 2, 2}).find("outside the sane range"), std::string::npos);
  EXPECT_NE(error_of({5000, 2, 2, 2}).find("outside the sane range"), std::string::npos);
  EXPECT_NE(error_of({}), "");
  // 65536^4 voxels overflow 64 bits: refused, not wrapped around to a small number.
  EXPECT_NE(error_of({1, 65536, 65536, 65536, 65536}), "");
}

}  // namespace
}  // namespace cdl
