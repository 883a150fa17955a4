// The engine's random sources: SplitMix64's known first outputs, and the ziggurat's normal draws
// against the normal distribution's moments, CDF and tail.
#include "cdl/core/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace cdl {
namespace {

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

// The reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
TEST(Random, SplitMix64GivesTheReferenceSequence) {
  SplitMix64 bits(1234567);
  EXPECT_EQ(bits.next(), 6457827717110365317ULL);
  EXPECT_EQ(bits.next(), 3203168211198807973ULL);
  EXPECT_EQ(bits.next(), 9817491932198370423ULL);
}

TEST(Random, NormalDrawsAreReproducibleFromTheSeed) {
  std::vector<float> first(1001), again(1001), other(1001);
  SplitMix64 a(42), b(42), c(43);
  fill_standard_normal(a, first.data(), first.size());
  fill_standard_normal(b, again.data(), again.size());
  fill_standard_normal(c, other.data(), other.size());
  EXPECT_EQ(first, again);
  EXPECT_NE(first[0], other[0]);
  SplitMix64 d(42), e(42);
  EXPECT_EQ(standard_normal(d), standard_normal(e));
}

// 2^22 draws: mean, variance and fourth moment, the CDF at 161 points (a Kolmogorov-Smirnov
// distance; its 0.1 % critical value at this count is 9.5e-4), and the share beyond the
// ziggurat's tail start R = 3.654 (drawn by a separate path), within 5 standard errors.
void expect_standard_normal(std::vector<double> draws) {
  double sum = 0, squares = 0, fourth = 0;
  size_t beyond_tail = 0;
  for (const double v : draws) {
    sum += v;
    squares += v * v;
    fourth += v * v * v * v;
    beyond_tail += std::abs(v) > 3.6541528853610088;
  }
  const double n = static_cast<double>(draws.size());
  EXPECT_NEAR(sum / n, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(squares / n, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(fourth / n, 3.0, 5.0 * std::sqrt(96.0 / n));
  const double tail_share = 2.0 * (1.0 - normal_cdf(3.6541528853610088));
  EXPECT_NEAR(static_cast<double>(beyond_tail), tail_share * n, 5.0 * std::sqrt(tail_share * n));

  std::sort(draws.begin(), draws.end());
  double distance = 0;
  for (int step = -80; step <= 80; ++step) {
    const double x = step * 0.05;
    const auto below = std::lower_bound(draws.begin(), draws.end(), x);
    const double empirical = static_cast<double>(below - draws.begin()) / n;
    distance = std::max(distance, std::abs(empirical - normal_cdf(x)));
  }
  EXPECT_LT(distance, 9.5e-4);
  EXPECT_LT(draws.front(), -4.5);  // the tail is reached on both sides
  EXPECT_GT(draws.back(), 4.5);
}

constexpr size_t kDraws = size_t{1} << 22;

TEST(Random, FilledFloatDrawsFollowTheNormalDistribution) {
  std::vector<float> draws(kDraws);
  SplitMix64 bits(7);
  fill_standard_normal(bits, draws.data(), kDraws);
  expect_standard_normal({draws.begin(), draws.end()});
}

TEST(Random, DoubleDrawsFollowTheNormalDistribution) {
  std::vector<double> draws(kDraws);
  SplitMix64 bits(7);
  for (double& draw : draws) draw = standard_normal(bits);
  expect_standard_normal(draws);
}

}  // namespace
}  // namespace cdl
