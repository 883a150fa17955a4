// Tests of the modes (reference 6.3): part counts, part indexing and extracted values.
#include "cdl/data/part_extractor.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "cdl/data/preprocessing.hpp"
#include "cdl/data/transforms.hpp"

namespace cdl::data {
namespace {

namespace ix = torch::indexing;

/// Image [1, 4, 5, 6] with value d*30 + h*6 + w.
torch::Tensor arange_image() {
  return torch::arange(120, torch::kFloat).reshape({1, 4, 5, 6});
}

ModeConfig patch_mode(int64_t size, int64_t stride) {
  ModeConfig c;
  c.mode = Mode::kPatch;
  c.patch_size = size;
  c.stride_size = stride;
  return c;
}

TEST(PartExtractorTest, ImageModeIsOnePartWithIdZero) {
  const PartExtractor e(ModeConfig{}, {1, 4, 5, 6});
  EXPECT_EQ(e.parts_per_image(), 1);
  EXPECT_EQ(e.part_id(0), 0);
  EXPECT_TRUE(torch::equal(e.extract(arange_image(), 0), arange_image()));
  EXPECT_EQ(id_column(Mode::kImage), "image_id");
}

TEST(PartExtractorTest, PatchCountOfT1LinearCroppedImagesIs36) {
  // Only the shape is needed: no image is allocated.
  const PartExtractor e(patch_mode(50, 50), {1, 169, 208, 179});
  EXPECT_EQ(e.parts_per_image(), 36);
  EXPECT_EQ(e.patch_grid(), (std::vector<int64_t>{3, 4, 3}));
  EXPECT_EQ(e.part_shape(), (std::vector<int64_t>{1, 50, 50, 50}));
  EXPECT_EQ(PartExtractor(patch_mode(50, 25), {1, 169, 208, 179}).parts_per_image(), 5 * 7 * 6);
  EXPECT_EQ(patches_along(179, 50, 50), 3);
  EXPECT_EQ(patches_along(40, 50, 50), 0);
}

TEST(PartExtractorTest, PatchIndexingIsRowMajorOverDHW) {
  const PartExtractor e(patch_mode(2, 2), {1, 4, 5, 6});
  ASSERT_EQ(e.parts_per_image(), 2 * 2 * 3);
  const torch::Tensor image = arange_image();
  // p = (iD * nH + iH) * nW + iW; p = 7 -> (1, 0, 1).
  const torch::Tensor patch = e.extract(image, 7);
  EXPECT_EQ(patch.sizes().vec(), (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_TRUE(torch::equal(
      patch, image.index({ix::Slice(), ix::Slice(2, 4), ix::Slice(0, 2), ix::Slice(2, 4)})));
  EXPECT_EQ(patch[0][0][0][0].item<float>(), 62.0f);
  EXPECT_EQ(e.extract(image, 11)[0][1][1][1].item<float>(), 3 * 30 + 3 * 6 + 5);
  EXPECT_EQ(id_column(Mode::kPatch), "patch_id");
}

TEST(PartExtractorTest, SliceIdsAreAbsoluteAfterDiscardedSlices) {
  ModeConfig c;
  c.mode = Mode::kSlice;
  c.slice_direction = 2;
  c.slice_rgb = false;
  c.discarded_slices = {1, 2};
  const PartExtractor e(c, {1, 4, 5, 6});
  ASSERT_EQ(e.parts_per_image(), 3);  // 6 - 1 - 2
  EXPECT_EQ(e.part_id(0), 1);
  EXPECT_EQ(e.part_id(2), 3);
  const torch::Tensor image = arange_image();
  const torch::Tensor slice = e.extract(image, 0);
  EXPECT_EQ(slice.sizes().vec(), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_TRUE(torch::equal(slice, image.index({ix::Slice(), ix::Slice(), ix::Slice(), 1})));
  EXPECT_EQ(id_column(Mode::kSlice), "slice_id");
}

TEST(PartExtractorTest, RgbSliceReplicatesTheChannelAndOneDiscardValueCutsBothEnds) {
  ModeConfig c;
  c.mode = Mode::kSlice;
  c.slice_direction = 0;
  c.discarded_slices = {1};
  const PartExtractor e(c, {1, 4, 5, 6});
  ASSERT_EQ(e.parts_per_image(), 2);
  EXPECT_EQ(e.part_shape(), (std::vector<int64_t>{3, 5, 6}));
  const torch::Tensor slice = e.extract(arange_image(), 1);  // absolute slice 2 of axis D
  ASSERT_EQ(slice.sizes().vec(), (std::vector<int64_t>{3, 5, 6}));
  EXPECT_TRUE(torch::equal(slice[0], slice[2]));
  EXPECT_TRUE(torch::equal(slice[1], arange_image()[0][2]));
  c.num_slices = 1;
  EXPECT_EQ(PartExtractor(c, {1, 4, 5, 6}).parts_per_image(), 1);
}

TEST(PartExtractorTest, RoiMultipliesByMaskAndCropsToBoundingBox) {
  ModeConfig c;
  c.mode = Mode::kRoi;
  c.roi_list = {"left", "right"};
  torch::Tensor left = torch::zeros({4, 5, 6}, torch::kUInt8);
  left.index_put_({ix::Slice(1, 3), ix::Slice(2, 4), ix::Slice(1, 5)}, 1);
  left[1][2][1] = 0;  // a hole inside the box stays zero
  torch::Tensor right = torch::zeros({4, 5, 6}, torch::kUInt8);
  right[3][4][5] = 1;
  const PartExtractor e(c, {1, 4, 5, 6}, {{"left", left}, {"right", right}});
  ASSERT_EQ(e.parts_per_image(), 2);
  const torch::Tensor image = arange_image();
  const torch::Tensor roi = e.extract(image, 0);
  ASSERT_EQ(roi.sizes().vec(), (std::vector<int64_t>{1, 2, 2, 4}));
  EXPECT_EQ(roi[0][0][0][0].item<float>(), 0.0f);                // the hole (1, 2, 1)
  EXPECT_EQ(roi[0][1][1][3].item<float>(), 2 * 30 + 3 * 6 + 4);  // voxel (2, 3, 4)
  EXPECT_EQ(e.part_shape_of(1), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(e.extract(image, 1).item<float>(), 119.0f);
  EXPECT_EQ(id_column(Mode::kRoi), "roi_id");
}

TEST(PartExtractorTest, UncroppedRoiKeepsShapeAndUsesBackgroundValue) {
  ModeConfig c;
  c.mode = Mode::kRoi;
  c.roi_list = {"r"};
  c.uncropped_roi = true;
  c.roi_background_value = -1.0f;
  torch::Tensor mask = torch::zeros({4, 5, 6}, torch::kUInt8);
  mask[0][0][1] = 1;
  const PartExtractor e(c, {1, 4, 5, 6}, {{"r", mask}});
  const torch::Tensor roi = e.extract(arange_image(), 0);
  EXPECT_EQ(roi.sizes().vec(), (std::vector<int64_t>{1, 4, 5, 6}));
  EXPECT_EQ(roi[0][0][0][1].item<float>(), 1.0f);
  EXPECT_EQ(roi[0][3][4][5].item<float>(), -1.0f);
}

TEST(PartExtractorTest, ModesThatDoNotFitAreConfigErrors) {
  EXPECT_THROW(PartExtractor(patch_mode(5, 5), {1, 4, 5, 6}), ConfigError);
  ModeConfig slice;
  slice.mode = Mode::kSlice;
  slice.discarded_slices = {2, 2};
  EXPECT_THROW(PartExtractor(slice, {1, 4, 5, 6}), ConfigError);
  slice.discarded_slices = {0, 0};
  slice.slice_direction = 3;
  EXPECT_THROW(PartExtractor(slice, {1, 4, 5, 6}), ConfigError);
  ModeConfig roi;
  roi.mode = Mode::kRoi;
  roi.roi_list = {"absent"};
  EXPECT_THROW(PartExtractor(roi, {1, 4, 5, 6}), ConfigError);
  EXPECT_THROW(parse_mode("voxel"), ConfigError);
  EXPECT_EQ(parse_mode("slice"), Mode::kSlice);
}

TEST(TransformsTest, MinMaxAndNanRemoval) {
  const torch::Tensor x = torch::tensor({2.0f, 4.0f, 6.0f});
  EXPECT_TRUE(torch::allclose(minmax_normalize(x), torch::tensor({0.0f, 0.5f, 1.0f})));
  EXPECT_TRUE(torch::equal(minmax_normalize(torch::full({3}, 7.0f)), torch::zeros({3})));
  bool changed = false;
  const float inf = std::numeric_limits<float>::infinity();
  const torch::Tensor y = remove_nan(torch::tensor({NAN, inf, -inf, 1.0f}), &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(y[0].item<float>(), 0.0f);
  EXPECT_EQ(y[1].item<float>(), std::numeric_limits<float>::max());
  EXPECT_EQ(y[2].item<float>(), std::numeric_limits<float>::lowest());
  remove_nan(x, &changed);
  EXPECT_FALSE(changed);
}

// ClinicaDL's SizeReduction table for a t1-linear image (reference 4.13).
TEST(TransformsTest, SizeReductionShapesOfAT1LinearImage) {
  const std::vector<int64_t> t1_linear{1, 169, 208, 179};
  EXPECT_EQ(reduced_shape(t1_linear, 2), (std::vector<int64_t>{1, 80, 96, 80}));
  EXPECT_EQ(reduced_shape(t1_linear, 3), (std::vector<int64_t>{1, 56, 64, 56}));
  EXPECT_EQ(reduced_shape(t1_linear, 4), (std::vector<int64_t>{1, 40, 48, 40}));
  EXPECT_EQ(reduced_shape(t1_linear, 5), (std::vector<int64_t>{1, 32, 40, 32}));
  // Python slicing clamps the stop to the axis: 4:164:2 of 100 voxels keeps 48.
  EXPECT_EQ(reduced_shape({2, 100, 100, 100}, 2), (std::vector<int64_t>{2, 48, 46, 46}));
  EXPECT_THROW(reduced_shape({1, 4, 10, 10}, 2), ConfigError);  // D keeps no voxel
  EXPECT_THROW(reduced_shape({1, 169, 208}, 2), ConfigError);   // 2D samples
  EXPECT_THROW(size_reduction_windows(6), ConfigError);
}

// The view keeps exactly the voxels of x[:, 0:168:3, 8:200:3, 4:172:3], gathered independently.
TEST(TransformsTest, SizeReductionKeepsTheWindowVoxels) {
  const torch::Tensor x = torch::arange(2 * 20 * 30 * 25, torch::kFloat).reshape({2, 20, 30, 25});
  const auto steps = [](int64_t start, int64_t stop, int64_t step) {
    return torch::arange(start, stop, step, torch::kLong);
  };
  const torch::Tensor expected = x.index_select(1, steps(0, 20, 3))
                                     .index_select(2, steps(8, 30, 3))
                                     .index_select(3, steps(4, 25, 3));
  const torch::Tensor reduced = reduce_size(x, 3);
  EXPECT_EQ(reduced.sizes().vec(), reduced_shape({2, 20, 30, 25}, 3));
  EXPECT_TRUE(torch::equal(reduced, expected));
}

TEST(PreprocessingTest, ModeConfigFromClinicaDLJson) {
  const ModeConfig patch = mode_config_from_json(
      R"({"preprocessing": "t1-linear", "mode": "patch", "patch_size": 32, "stride_size": 16,
          "use_uncropped_image": false})");
  EXPECT_EQ(patch.mode, Mode::kPatch);
  EXPECT_EQ(patch.patch_size, 32);
  EXPECT_EQ(patch.stride_size, 16);
  const ModeConfig slice = mode_config_from_json(
      R"({"mode": "slice", "slice_direction": 1, "slice_mode": "single", "discarded_slices": 20,
          "num_slices": null})");
  EXPECT_EQ(slice.slice_direction, 1);
  EXPECT_FALSE(slice.slice_rgb);
  EXPECT_EQ(slice.discarded_slices, (std::vector<int64_t>{20, 20}));
  EXPECT_EQ(slice.num_slices, 0);
  const ModeConfig roi = mode_config_from_json(
      R"({"mode": "roi", "roi_list": ["leftHippocampusBox", "rightHippocampusBox"],
          "uncropped_roi": true})");
  EXPECT_EQ(roi.roi_list.size(), 2u);
  EXPECT_TRUE(roi.uncropped_roi);
  EXPECT_EQ(mode_config_from_json("{}").mode, Mode::kImage);
  EXPECT_THROW(mode_config_from_json("{not json", "x.h5"), ConfigError);
  EXPECT_THROW(mode_config_from_json(R"({"patch_size": "big"})"), ConfigError);
  EXPECT_THROW(mode_config_from_json(R"({"slice_mode": "bgr"})"), ConfigError);
}

}  // namespace
}  // namespace cdl::data
