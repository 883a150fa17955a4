// Augmentations: known answers for the deterministic transforms (CropPad shifts, the Erasing box,
// Swap's cubes, SciPy's reflect boundary of the Gaussian, identity parameters of the k-space and
// bias-field transforms), draws that depend on (seed, epoch, sample) only, and statistical bounds
// of the random ones. (TorchIO and SciPy outputs: tests/interop/augmentation_reference.sh.)
#include "cdl/data/augmentation.hpp"
#include "cdl/data/kspace_artifacts.hpp"
#include "cdl/data/volume_filters.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

torch::Tensor sample3d() {
  torch::manual_seed(3);
  return torch::rand({1, 20, 24, 18});
}

TEST(Augmentation, NamesAreClinicaDLsAndNoneIsNothing) {
  EXPECT_EQ(parse_augmentations({"None"}).size(), 0u);
  const auto list = parse_augmentations({"Smoothing", "RandomSwap", "Noise"});
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1], Augmentation::kRandomSwap);
  EXPECT_STREQ(augmentation_name(list[0]), "Smoothing");
  try {
    parse_augmentations({"Flip"});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("'Flip' is unknown; expected some of Noise"),
              std::string::npos);
  }
  EXPECT_TRUE(needs_3d(Augmentation::kMotion));
  EXPECT_FALSE(needs_3d(Augmentation::kCropPad));
}

TEST(Augmentation, CropPadTranslatesWithZerosOutside) {
  const auto x = torch::arange(3 * 4 * 5, torch::kFloat).reshape({1, 3, 4, 5}) + 1;
  const auto out = crop_pad(x, {1, 0, -2});  // D, H, W
  for (int64_t d = 0; d < 3; ++d) {
    for (int64_t h = 0; h < 4; ++h) {
      for (int64_t w = 0; w < 5; ++w) {
        const int64_t sd = d + 1, sw = w - 2;
        const float expected = sd < 3 && sw >= 0 ? x[0][sd][h][sw].item<float>() : 0.0f;
        EXPECT_EQ(out[0][d][h][w].item<float>(), expected) << d << " " << h << " " << w;
      }
    }
  }
}

TEST(Augmentation, ErasingZeroesItsBoxInEveryLeadingPlane) {
  const auto x = torch::ones({2, 3, 6, 7});
  const auto out = erase_box(x, 1, 2, 3, 4);
  EXPECT_EQ(out.sum().item<float>(), 2 * 3 * 6 * 7 - 2 * 3 * 3 * 4);
  EXPECT_EQ(out.index({1, 2, 3, 5}).item<float>(), 0.0f);
  EXPECT_EQ(out.index({1, 2, 0, 5}).item<float>(), 1.0f);
  EXPECT_EQ(out.index({1, 2, 3, 6}).item<float>(), 1.0f);
}

TEST(Augmentation, SwapExchangesTwoCubes) {
  const auto x = torch::arange(6 * 6 * 6, torch::kFloat).reshape({1, 6, 6, 6});
  const auto out = swap_patches(x, 2, torch::tensor({{0, 0, 0, 4, 3, 2}}, torch::kLong));
  namespace ix = torch::indexing;
  const auto cube = [](const torch::Tensor& t, int64_t d, int64_t h, int64_t w) {
    return t.index({0, ix::Slice(d, d + 2), ix::Slice(h, h + 2), ix::Slice(w, w + 2)});
  };
  EXPECT_TRUE(torch::equal(cube(out, 0, 0, 0), cube(x, 4, 3, 2)));
  EXPECT_TRUE(torch::equal(cube(out, 4, 3, 2), cube(x, 0, 0, 0)));
  EXPECT_EQ(out.sum().item<float>(), x.sum().item<float>());
}

// SciPy's "reflect" boundary repeats the edge: for [1, 2, 3] and sigma 0.5 (radius 2, weights
// e^-8, e^-2, 1, e^-2, e^-8 normalised), the first value sees 2 1 | 1 2 3.
TEST(Augmentation, GaussianFilterHasSciPysReflectBoundary) {
  const auto x = torch::tensor({1.0f, 2.0f, 3.0f}).reshape({1, 3});
  const auto out = gaussian_filter(x, {0.0, 0.5});
  const double w0 = 1, w1 = std::exp(-2.0), w2 = std::exp(-8.0), sum = w0 + 2 * w1 + 2 * w2;
  const double first = (w2 * 2 + w1 * 1 + w0 * 1 + w1 * 2 + w2 * 3) / sum;
  const double middle = (w2 * 1 + w1 * 1 + w0 * 2 + w1 * 3 + w2 * 3) / sum;
  EXPECT_NEAR(out[0][0].item<double>(), first, 1e-6);
  EXPECT_NEAR(out[0][1].item<double>(), middle, 1e-6);
  EXPECT_TRUE(torch::equal(gaussian_filter(x, {0.0, 0.1}), x));  // radius 0: untouched
  // An empty axis has nothing to mirror (its reflection would divide by its length).
  EXPECT_EQ(gaussian_filter(torch::zeros({1, 0, 3}), {0.0, 0.7, 0.7}).sizes(),
            torch::IntArrayRef({1, 0, 3}));
}

// Along an inner axis (rows of H x W voxels summed) and with a radius longer than the axis (the
// mirror folds several times: for length 5, positions -8..12 read 2 3 4 4 3 2 1 0 0 1 2 3 4 |
// 0 1 2 3 4 | 4 3 2 1 0 0 1 2), each voxel equals the weighted sum written out here.
TEST(Augmentation, GaussianFilterAlongAnInnerAxisFoldsTheMirror) {
  torch::manual_seed(5);
  const auto x = torch::rand({1, 5, 4, 3});
  const double sigma = 1.9;
  const int radius = 8;  // round(4 x 1.9)
  const auto out = gaussian_filter(x, {0.0, sigma, 0.0, 0.0});
  const auto mirror = [](int p) {  // reflect for length 5: period 10
    const int m = ((p % 10) + 10) % 10;
    return m < 5 ? m : 9 - m;
  };
  double norm = 0;
  for (int k = -radius; k <= radius; ++k) norm += std::exp(-0.5 * k * k / (sigma * sigma));
  for (int d = 0; d < 5; ++d) {
    for (int h = 0; h < 4; ++h) {
      for (int w = 0; w < 3; ++w) {
        double expected = 0;
        for (int k = -radius; k <= radius; ++k) {
          expected += std::exp(-0.5 * k * k / (sigma * sigma)) / norm *
                      x[0][mirror(d + k)][h][w].item<double>();
        }
        EXPECT_NEAR(out[0][d][h][w].item<double>(), expected, 1e-6) << d << " " << h << " " << w;
      }
    }
  }
}

// The last three axes are filtered plane by plane in one pass: the same as filtering one axis
// after the other (separable sums commute up to rounding), with several channels, a Gaussian
// along the channels, and 2D samples [C, H, W].
TEST(Augmentation, GaussianFilterInOnePassEqualsAxisAfterAxis) {
  torch::manual_seed(9);
  const auto axis_after_axis = [](torch::Tensor x, const std::vector<double>& sigmas) {
    for (size_t a = 0; a < sigmas.size(); ++a) {
      std::vector<double> one(sigmas.size(), 0.0);
      one[a] = sigmas[a];
      x = gaussian_filter(x, one);
    }
    return x;
  };
  const auto volume = torch::rand({2, 7, 6, 9});
  for (const auto& sigmas : std::vector<std::vector<double>>{{0.0, 0.6, 1.1, 0.9},
                                                             {0.8, 0.6, 1.1, 0.9},
                                                             {0.0, 0.0, 1.7, 0.0},
                                                             {0.0, 2.3, 0.0, 0.4}}) {
    EXPECT_TRUE(torch::allclose(gaussian_filter(volume, sigmas), axis_after_axis(volume, sigmas),
                                1e-5, 1e-6))
        << sigmas[0] << " " << sigmas[1] << " " << sigmas[2] << " " << sigmas[3];
  }
  const auto slices = torch::rand({3, 8, 5});
  EXPECT_TRUE(torch::allclose(gaussian_filter(slices, {0.5, 0.9, 1.3}),
                              axis_after_axis(slices, {0.5, 0.9, 1.3}), 1e-5, 1e-6));
}

// The trilinear resampling of Motion against the same resampling written with LibTorch's
// grid_sample (border padding, align_corners), under large rotations and shifts so that rows
// cross the grid's border (voxels outside, clamped within half a voxel, and the interior runs
// taken without tests). The shifts avoid coordinates exactly half a voxel outside, where the
// two roundings may differ.
TEST(Augmentation, LinearResamplingMatchesGridSample) {
  torch::manual_seed(3);
  const auto channel = torch::rand({9, 12, 11});
  const auto reference = [&](const std::array<double, 9>& a, const std::array<double, 3>& b,
                             float outside) {
    std::vector<torch::Tensor> source;
    auto inside = torch::ones({9, 12, 11}, torch::kBool);
    const auto q =
        torch::meshgrid({torch::arange(9, torch::kDouble), torch::arange(12, torch::kDouble),
                         torch::arange(11, torch::kDouble)});
    for (int axis = 0; axis < 3; ++axis) {
      const auto s = q[0] * a[3 * axis] + q[1] * a[3 * axis + 1] + q[2] * a[3 * axis + 2] + b[axis];
      const double length = static_cast<double>(channel.size(axis));
      inside = inside & (s >= -0.5) & (s < length - 0.5);
      source.push_back(s * (2.0 / (length - 1)) - 1.0);
    }
    const auto grid =
        torch::stack({source[2], source[1], source[0]}, -1).unsqueeze(0).to(torch::kFloat);
    namespace F = torch::nn::functional;
    const auto values = F::grid_sample(channel.unsqueeze(0).unsqueeze(0), grid,
                                       F::GridSampleFuncOptions()
                                           .mode(torch::kBilinear)
                                           .padding_mode(torch::kBorder)
                                           .align_corners(true))
                            .squeeze(0)
                            .squeeze(0);
    return torch::where(inside, values, torch::full_like(values, outside));
  };
  const double c = std::cos(0.5), s = std::sin(0.5);
  for (const auto& [a, b] : std::vector<std::pair<std::array<double, 9>, std::array<double, 3>>>{
           {{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}},
           {{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0.3, -0.4, 2.6}},
           {{c, -s, 0, s, c, 0, 0, 0, 1}, {1.5, -2.0, 0.7}},
           {{1, 0, 0, 0, c, -s, 0, s, c}, {-0.2, 3.1, -1.4}},
           {{0.98, 0.1, -0.15, -0.1, 0.99, 0.05, 0.15, -0.05, 0.97}, {0.41, 0.23, -0.27}}}) {
    EXPECT_TRUE(
        torch::allclose(resample_linear(channel, a, b, -1.0f), reference(a, b, -1.0f), 1e-5, 1e-5))
        << b[0] << " " << b[1] << " " << b[2];
  }
}

TEST(Augmentation, IdentityParametersLeaveTheImage) {
  const auto x = sample3d();
  EXPECT_TRUE(torch::allclose(bias_field(x, std::vector<double>(20, 0.0), 3), x));
  std::vector<double> constant(20, 0.0);
  constant[0] = 0.25;  // the order-0 term: a uniform gain
  EXPECT_TRUE(torch::allclose(bias_field(x, constant, 3), x * std::exp(0.25)));
  EXPECT_TRUE(torch::allclose(ghosting(x, 4, 1, 0.0), x));
  EXPECT_TRUE(torch::allclose(spike(x, torch::tensor({{0.3, 0.6, 0.2}}, torch::kDouble), 0.0), x,
                              1e-5, 1e-5));
  const auto zeros = torch::zeros({2, 3}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(motion(x, zeros, zeros, {0.3, 0.7}), x, 1e-5, 1e-5));
}

TEST(Augmentation, DrawsDependOnSeedEpochAndSampleOnly) {
  const auto x = sample3d();
  const auto all =
      parse_augmentations({"Noise", "Erasing", "CropPad", "Smoothing", "Motion", "Ghosting",
                           "Spike", "BiasField", "RandomBlur", "RandomSwap"});
  SampleRandom a(7, 2, 11), b(7, 2, 11), other_epoch(7, 3, 11), other_sample(7, 2, 12);
  const auto out = augment(x, all, a);
  EXPECT_TRUE(torch::equal(out, augment(x, all, b)));
  EXPECT_FALSE(torch::equal(out, augment(x, all, other_epoch)));
  EXPECT_FALSE(torch::equal(out, augment(x, all, other_sample)));
  EXPECT_EQ(out.sizes(), x.sizes());
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
}

// Each random augmentation keeps the shape, stays finite and changes a [0, 1] image by a bounded
// amount, over many draws.
TEST(Augmentation, RandomAugmentationsChangeTheImageByBoundedAmounts) {
  const auto x = sample3d();
  const std::vector<std::pair<std::string, double>> bounds{
      {"Noise", 0.12},  {"Smoothing", 0.6}, {"Motion", 1.0},     {"Ghosting", 1.0},
      {"Spike", 3.5},   {"BiasField", 6.0}, {"RandomBlur", 0.6}, {"RandomSwap", 1.0},
      {"CropPad", 1.0}, {"Erasing", 1.0}};
  for (const auto& [name, bound] : bounds) {
    const auto list = parse_augmentations({name});
    int changed = 0;
    for (int64_t sample = 0; sample < 8; ++sample) {
      SampleRandom random(1, 0, sample);
      const auto out = augment(x, list, random);
      ASSERT_EQ(out.sizes(), x.sizes()) << name;
      ASSERT_TRUE(torch::isfinite(out).all().item<bool>()) << name;
      const double rms = (out - x).pow(2).mean().sqrt().item<double>();
      EXPECT_LE(rms, bound) << name;
      changed += rms > 1e-4;
    }
    // Erasing applies half the time; Smoothing leaves the image when sigma < 0.125 (no kernel).
    EXPECT_GE(changed, name == "Erasing" ? 1 : name == "Smoothing" ? 5 : 8) << name;
  }
}

TEST(Augmentation, NoiseStandardDeviationStaysWithinClinicaDLsRange) {
  const auto x = torch::zeros({1, 32, 32, 32});
  for (int64_t sample = 0; sample < 20; ++sample) {
    SampleRandom random(5, 1, sample);
    const auto noise = augment(x, {Augmentation::kNoise}, random);
    EXPECT_LE(noise.std().item<double>(), 0.1 * 1.02);
    EXPECT_NEAR(noise.mean().item<double>(), 0.0, 0.01);
  }
}

}  // namespace
}  // namespace cdl::data
