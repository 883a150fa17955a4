// Known-answer tests of the reconstruction metrics (MAE, RMSE, PSNR, SSIM) of reference 5.3.
// SSIM of constant images has a closed form, evaluated here with plain loops (no LibTorch).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "cdl/core/error.hpp"
#include "cdl/eval/metrics.hpp"

namespace cdl::eval {
namespace {

// Sum of the in-bounds weights of the 11-wide Gaussian (sigma 1.5) centred on index i of an axis
// of length n, with zero padding 5: the Gaussian blur of a constant 1 image along that axis.
double in_bounds_weight(int i, int n) {
  double total = 0.0, inside = 0.0;
  for (int k = 0; k < 11; ++k) {
    const double g = std::exp(-(k - 5) * (k - 5) / (2.0 * 1.5 * 1.5));
    total += g;
    if (i + k - 5 >= 0 && i + k - 5 < n) inside += g;
  }
  return inside / total;
}

// SSIM map of constant images a and b where the blurred "one" is s: mu_x = a s, mu_y = b s,
// sigma_x^2 = a^2 s - (a s)^2 = a^2 s (1 - s), sigma_y^2 = b^2 s (1 - s), sigma_xy = a b s (1 - s).
double constant_ssim_at(double a, double b, double s) {
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  const double v = s * (1.0 - s);
  return ((2 * a * b * s * s + c1) * (2 * a * b * v + c2)) /
         (((a * a + b * b) * s * s + c1) * ((a * a + b * b) * v + c2));
}

double constant_ssim_3d(double a, double b, int d, int h, int w) {
  double sum = 0.0;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < h; ++j)
      for (int k = 0; k < w; ++k) {
        const double s = in_bounds_weight(i, d) * in_bounds_weight(j, h) * in_bounds_weight(k, w);
        sum += constant_ssim_at(a, b, s);
      }
  return sum / (d * h * w);
}

double constant_ssim_2d(double a, double b, int h, int w) {
  double sum = 0.0;
  for (int j = 0; j < h; ++j)
    for (int k = 0; k < w; ++k) {
      sum += constant_ssim_at(a, b, in_bounds_weight(j, h) * in_bounds_weight(k, w));
    }
  return sum / (h * w);
}

TEST(SsimTest, IdenticalImagesGiveOne) {
  torch::manual_seed(0);
  const auto image = torch::rand({1, 12, 13, 14});
  EXPECT_NEAR(ssim(image, image), 1.0, 1e-6);
  const auto rgb = torch::rand({3, 16, 15}, torch::kDouble);
  EXPECT_NEAR(ssim(rgb, rgb), 1.0, 1e-12);
}

TEST(SsimTest, ConstantVolumesMatchClosedForm) {
  const auto x = torch::full({1, 7, 8, 9}, 0.2, torch::kDouble);
  const auto y = torch::full({1, 7, 8, 9}, 0.6, torch::kDouble);
  EXPECT_NEAR(ssim(x, y), constant_ssim_3d(0.2, 0.6, 7, 8, 9), 1e-12);
  // A single voxel: s = g(0)^3 with g(0) the normalised centre weight.
  const auto one_x = torch::full({1, 1, 1, 1}, 0.5, torch::kDouble);
  const auto one_y = torch::full({1, 1, 1, 1}, 0.1, torch::kDouble);
  const double s = std::pow(in_bounds_weight(0, 1), 3);
  EXPECT_NEAR(ssim(one_x, one_y), constant_ssim_at(0.5, 0.1, s), 1e-12);
}

TEST(SsimTest, ThreeChannelSlicesUseTheTwoDimensionalWindow) {
  // Channel c is constant a_c / b_c; the result is the mean over channels of the 2D closed form.
  const double a[3] = {0.1, 0.5, 0.9}, b[3] = {0.3, 0.5, 0.2};
  auto x = torch::empty({3, 9, 10}, torch::kDouble), y = torch::empty({3, 9, 10}, torch::kDouble);
  double expected = 0.0;
  for (int c = 0; c < 3; ++c) {
    x[c].fill_(a[c]);
    y[c].fill_(b[c]);
    expected += constant_ssim_2d(a[c], b[c], 9, 10) / 3.0;
  }
  EXPECT_NEAR(ssim(x, y), expected, 1e-12);
}

TEST(SsimTest, SeparableWindowEqualsFullThreeDimensionalKernel) {
  torch::manual_seed(1);
  const auto x = torch::rand({2, 10, 12, 11}, torch::kDouble);
  const auto y = (x + 0.1 * torch::randn({2, 10, 12, 11}, torch::kDouble)).clamp(0, 1);
  // Reference: ClinicaDL's 11x11x11 outer-product window applied with one conv3d.
  auto g = torch::exp(-(torch::arange(11, torch::kDouble) - 5).square() / (2 * 1.5 * 1.5));
  g = g / g.sum();
  const auto w3 = torch::einsum("i,j,k->ijk", {g, g, g}).expand({2, 1, 11, 11, 11}).contiguous();
  auto blur = [&](const torch::Tensor& t) { return torch::conv3d(t, w3, {}, 1, 5, 1, 2); };
  const auto bx = x.unsqueeze(0), by = y.unsqueeze(0);
  const auto mx = blur(bx), my = blur(by);
  const auto sxx = blur(bx * bx) - mx * mx, syy = blur(by * by) - my * my;
  const auto sxy = blur(bx * by) - mx * my;
  const double c1 = 1e-4, c2 = 9e-4;
  const auto map =
      ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  EXPECT_NEAR(ssim(x, y), map.mean().item<double>(), 1e-12);
}

TEST(SsimTest, RejectsBadShapes) {
  EXPECT_THROW(ssim(torch::zeros({1, 4, 4, 4}), torch::zeros({1, 4, 4, 5})), DataError);
  EXPECT_THROW(ssim(torch::zeros({4, 4}), torch::zeros({4, 4})), DataError);
}

TEST(PsnrTest, IdenticalImagesGiveInfinity) {
  const auto image = torch::rand({1, 5, 5, 5});
  EXPECT_EQ(psnr(image, image), std::numeric_limits<double>::infinity());
  const auto m = reconstruction_metrics(image, image);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0], (std::pair<std::string, double>{"MAE", 0.0}));
  EXPECT_EQ(m[1], (std::pair<std::string, double>{"RMSE", 0.0}));
  EXPECT_EQ(m[2].first, "PSNR");
  EXPECT_EQ(m[2].second, std::numeric_limits<double>::infinity());
  EXPECT_EQ(m[3].first, "SSIM");
  EXPECT_NEAR(m[3].second, 1.0, 1e-6);
}

TEST(PsnrTest, DataRangeRule) {
  // In [0, 1]: range 1; MSE 0.01 -> 10 log10(1 / 0.01) = 20.
  const auto t = torch::full({1, 4, 4, 4}, 0.5, torch::kDouble);
  EXPECT_EQ(psnr_data_range(t), 1.0);
  EXPECT_NEAR(psnr(t, t + 0.1), 20.0, 1e-9);
  // In [-1, 1] with negatives: range 2 -> 10 log10(4 / 0.01) = 26.0206.
  const auto n = torch::full({1, 4, 4, 4}, -0.5, torch::kDouble);
  EXPECT_EQ(psnr_data_range(n), 2.0);
  EXPECT_NEAR(psnr(n, n + 0.1), 10.0 * std::log10(400.0), 1e-9);
  // Outside [-1, 1] (ClinicaDL crashes): range = max - min = 10; MSE 1 -> 10 log10(100) = 20.
  auto u = torch::zeros({1, 2, 2, 2}, torch::kDouble);
  u[0][0].fill_(10.0);
  EXPECT_EQ(psnr_data_range(u), 10.0);
  EXPECT_NEAR(psnr(u, u + 1.0), 20.0, 1e-9);
  EXPECT_EQ(psnr_data_range(torch::full({1, 2, 2, 2}, 5.0)), 5.0);  // constant: |max|
  EXPECT_THROW(psnr(t, torch::zeros({1, 4, 4})), DataError);
}

TEST(ReconstructionMetricsTest, MaeAndRmseByHand) {
  // Differences {1, -1, 2, -2, 0, 0, 0, 0}: MAE 6/8, RMSE sqrt(10/8).
  const auto target = torch::zeros({1, 2, 2, 2}, torch::kDouble);
  const auto output = torch::tensor({1.0, -1.0, 2.0, -2.0, 0.0, 0.0, 0.0, 0.0}, torch::kDouble)
                          .reshape({1, 2, 2, 2});
  const auto m = reconstruction_metrics(target, output);
  EXPECT_DOUBLE_EQ(m[0].second, 0.75);
  EXPECT_DOUBLE_EQ(m[1].second, std::sqrt(1.25));
  // Target 0 everywhere: range 1, MSE 1.25 -> PSNR 10 log10(1 / 1.25).
  EXPECT_NEAR(m[2].second, 10.0 * std::log10(0.8), 1e-12);
  EXPECT_EQ(reconstruction_metric_names(),
            (std::vector<std::string>{"MAE", "RMSE", "PSNR", "SSIM"}));
}

}  // namespace
}  // namespace cdl::eval
