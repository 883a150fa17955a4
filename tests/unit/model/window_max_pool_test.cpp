// window_max_pool against LibTorch's max_pool{2,3}d_with_indices: the same values and indices,
// for every padding of odd and even axes, with ties (few distinct values) and NaN, in float and
// double, 2-D and 3-D, and through the fallback for non-contiguous inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cdl/model/layers/window_max_pool.hpp"

namespace cdl::model {
namespace {

std::string describe(const std::vector<int64_t>& sizes, const std::vector<int64_t>& padding) {
  std::ostringstream text;
  text << "sizes";
  for (auto s : sizes) text << ' ' << s;
  text << ", padding";
  for (auto p : padding) text << ' ' << p;
  return text.str();
}

void expect_same_as_library(const torch::Tensor& input, const std::vector<int64_t>& padding) {
  const auto where = describe(input.sizes().vec(), padding);
  const int dimension = static_cast<int>(input.dim()) - 2;
  const std::vector<int64_t> two(dimension, 2), one(dimension, 1);
  auto [expected, expected_indices] =
      dimension == 3 ? at::max_pool3d_with_indices(input, two, two, padding, one)
                     : at::max_pool2d_with_indices(input, two, two, padding, one);
  auto [values, indices] = window_max_pool(input, padding);
  ASSERT_EQ(values.sizes(), expected.sizes()) << where;
  EXPECT_EQ(values.scalar_type(), input.scalar_type()) << where;
  EXPECT_EQ(indices.scalar_type(), torch::kInt32) << where;
  EXPECT_TRUE(torch::equal(values.isnan(), expected.isnan())) << where;
  EXPECT_TRUE(torch::equal(torch::nan_to_num(values, 7.0), torch::nan_to_num(expected, 7.0)))
      << where;
  EXPECT_TRUE(torch::equal(indices.to(torch::kInt64), expected_indices)) << where;
  auto [values_only, none] = window_max_pool(input, padding, /*with_indices=*/false);
  EXPECT_FALSE(none.defined()) << where;
  EXPECT_TRUE(torch::equal(torch::nan_to_num(values_only, 7.0), torch::nan_to_num(values, 7.0)))
      << where;
}

/// Every combination of lengths {4, 5, 7} per axis and paddings {0, 1} per axis.
void for_every_shape(int dimension,
                     const std::function<torch::Tensor(std::vector<int64_t>)>& make) {
  const std::vector<int64_t> lengths{4, 5, 7};
  const int combinations = dimension == 3 ? 27 : 9;
  for (int code = 0; code < combinations; ++code) {
    std::vector<int64_t> shape{2, 3};
    for (int axis = 0, rest = code; axis < dimension; ++axis, rest /= 3) {
      shape.push_back(lengths[rest % 3]);
    }
    for (int pads = 0; pads < (1 << dimension); ++pads) {
      std::vector<int64_t> padding;
      for (int axis = 0; axis < dimension; ++axis) padding.push_back((pads >> axis) & 1);
      expect_same_as_library(make(shape), padding);
    }
  }
}

TEST(WindowMaxPool, SameAsLibTorchOnRandomValues3d) {
  torch::manual_seed(0);
  for_every_shape(3, [](std::vector<int64_t> shape) { return torch::randn(shape); });
}

TEST(WindowMaxPool, SameAsLibTorchWithTies3dAnd2d) {
  torch::manual_seed(1);
  const auto ties = [](std::vector<int64_t> shape) {
    return torch::randint(0, 3, shape).to(torch::kFloat);
  };
  for_every_shape(3, ties);
  for_every_shape(2, ties);
}

TEST(WindowMaxPool, SameAsLibTorchWithNaN) {
  torch::manual_seed(2);
  const auto with_nan = [](std::vector<int64_t> shape) {
    auto x = torch::randint(0, 3, shape).to(torch::kFloat);
    return x.masked_fill(torch::rand(shape) < 0.15, std::numeric_limits<float>::quiet_NaN());
  };
  for_every_shape(3, with_nan);
  for_every_shape(2, with_nan);
}

TEST(WindowMaxPool, SameAsLibTorchInDoubleAndForNonContiguousInputs) {
  torch::manual_seed(3);
  expect_same_as_library(torch::randn({2, 4, 9, 6, 7}, torch::kFloat64), {1, 0, 1});
  // A transposed view takes LibTorch's path: still the same results, int32 indices.
  expect_same_as_library(torch::randn({2, 4, 6, 9, 7}).transpose(2, 3), {1, 0, 1});
  // Large planes: rows of many windows, threads splitting (plane, depth) rows.
  expect_same_as_library(torch::randn({3, 2, 33, 40, 31}), {1, 0, 1});
}

}  // namespace
}  // namespace cdl::model
