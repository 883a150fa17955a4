// PadMaxPool / CropMaxUnpool against hand-computed pads, indices and round trips.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cdl/model/layers/crop_max_unpool.hpp"
#include "cdl/model/layers/pad_max_pool.hpp"
#include "cdl/model/layers/reshape.hpp"

namespace cdl::model {
namespace {

TEST(PadMaxPoolTest, PadIsOnLowSideLastAxisFirst3d) {
  PadMaxPool pool(3, 2, 2);
  auto x = torch::zeros({1, 1, 5, 4, 3});
  // D=5 -> 1, H=4 -> 0, W=3 -> 1, reported (p_W, 0, p_H, 0, p_D, 0).
  EXPECT_EQ(pool->padding_for(x), (std::vector<int64_t>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(pool(x).sizes().vec(), (std::vector<int64_t>{1, 1, 3, 2, 2}));
}

TEST(PadMaxPoolTest, HandComputed2dPoolIndicesAndUnpool) {
  // 3x3 arange padded with a zero row and column at the top/left:
  //   0 0 0 0 / 0 0 1 2 / 0 3 4 5 / 0 6 7 8  -> maxima 0 (flat 0), 2 (7), 6 (13), 8 (15).
  auto x = torch::arange(9, torch::kFloat32).view({1, 1, 3, 3});
  PadMaxPool pool(2, 2, 2);
  auto result = pool->forward_with_indices(x);
  EXPECT_EQ(result.pad, (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_TRUE(torch::equal(result.output, torch::tensor({0.f, 2.f, 6.f, 8.f}).view({1, 1, 2, 2})));
  EXPECT_TRUE(torch::equal(result.indices,
                           torch::tensor({0, 7, 13, 15}, torch::kInt64).view({1, 1, 2, 2})));

  CropMaxUnpool unpool(2, 2, 2);
  auto back = unpool->forward(result.output, result.indices, result.pad);
  auto expected = torch::tensor({0.f, 0.f, 2.f, 0.f, 0.f, 0.f, 6.f, 0.f, 8.f}).view({1, 1, 3, 3});
  EXPECT_TRUE(torch::equal(back, expected));
}

TEST(PadMaxPoolTest, RoundTripOnOddSizesRestoresShapeAndKeepsMaxima3d) {
  torch::manual_seed(3);
  for (auto shape :
       std::vector<std::vector<int64_t>>{{2, 3, 7, 5, 9}, {1, 1, 1, 2, 3}, {1, 2, 6, 6, 6}}) {
    auto x = torch::rand(shape) + 0.5;  // strictly positive: zero padding never wins
    PadMaxPool pool(3, 2, 2);
    auto result = pool->forward_with_indices(x);
    for (int axis = 2; axis < 5; ++axis)
      EXPECT_EQ(result.output.size(axis), (x.size(axis) + 1) / 2);
    auto back = CropMaxUnpool(3, 2, 2)->forward(result.output, result.indices, result.pad);
    ASSERT_EQ(back.sizes(), x.sizes());
    // Every non-zero of the round trip is an original value, one per pooling window.
    auto kept = back.ne(0);
    EXPECT_TRUE(torch::equal(back.masked_select(kept), x.masked_select(kept)));
    EXPECT_EQ(kept.sum().item<int64_t>(), result.output.numel());
    EXPECT_NEAR(back.sum().item<double>(), result.output.sum().item<double>(), 1e-3);
  }
}

TEST(PadMaxPoolTest, EvenSizesAreNotPadded) {
  PadMaxPool pool(3, 2, 2);
  EXPECT_EQ(pool->padding_for(torch::zeros({1, 1, 4, 6, 8})), (std::vector<int64_t>(6, 0)));
}

TEST(ReshapeTest, ViewsEachSampleAsShape) {
  Reshape reshape(std::vector<int64_t>{2, 3});
  EXPECT_EQ(reshape(torch::zeros({4, 6})).sizes().vec(), (std::vector<int64_t>{4, 2, 3}));
}

}  // namespace
}  // namespace cdl::model
