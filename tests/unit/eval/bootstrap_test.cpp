// Bootstrap confidence intervals (reference 5.4): numpy's percentile, known answers for a
// resampled mean, degenerate data, reproducibility from the seed.
#include <gtest/gtest.h>

#include <cmath>

#include "cdl/eval/bootstrap.hpp"

namespace cdl::eval {
namespace {

TEST(Bootstrap, PercentileInterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.25), 1.75);  // numpy.percentile([1,2,3,4], 25)
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.975), 9.775);
  EXPECT_DOUBLE_EQ(percentile({5}, 0.5), 5.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2}, 1.0), 2.0);
}

/// Metric "mean" of 0/1 values: its bootstrap standard error is close to sqrt(p (1 - p) / n).
MetricList mean_of(const std::vector<double>& values, const std::vector<int64_t>& rows) {
  double sum = 0.0;
  for (const auto i : rows) sum += values[static_cast<size_t>(i)];
  return {{"mean", sum / static_cast<double>(rows.size())}};
}

TEST(Bootstrap, TheMeanOfCoinFlipsHasTheTextbookStandardError) {
  std::vector<double> flips(400);
  for (size_t i = 0; i < flips.size(); ++i) flips[i] = i % 2 == 0 ? 1.0 : 0.0;  // p = 0.5
  BootstrapOptions options;
  options.seed = 7;
  const auto intervals = bootstrap_intervals(
      400, [&](const std::vector<int64_t>& rows) { return mean_of(flips, rows); }, options);
  const auto& mean = intervals.at("mean");
  const double expected_se = std::sqrt(0.5 * 0.5 / 400.0);  // 0.025
  EXPECT_NEAR(mean.standard_error, expected_se, 0.1 * expected_se);
  // 95 %: about +-1.96 standard errors around 0.5
  EXPECT_NEAR(mean.lower, 0.5 - 1.96 * expected_se, 0.01);
  EXPECT_NEAR(mean.upper, 0.5 + 1.96 * expected_se, 0.01);
}

TEST(Bootstrap, ConstantDataGivesAPointAndTooFewRowsGiveNothing) {
  const std::vector<double> ones(10, 1.0);
  const auto intervals = bootstrap_intervals(
      10, [&](const std::vector<int64_t>& rows) { return mean_of(ones, rows); }, {});
  EXPECT_DOUBLE_EQ(intervals.at("mean").lower, 1.0);
  EXPECT_DOUBLE_EQ(intervals.at("mean").upper, 1.0);
  EXPECT_DOUBLE_EQ(intervals.at("mean").standard_error, 0.0);
  EXPECT_TRUE(bootstrap_intervals(
                  1, [&](const std::vector<int64_t>& rows) { return mean_of(ones, rows); }, {})
                  .empty());
}

TEST(Bootstrap, TheSeedMakesItReproducible) {
  const std::vector<double> values{0.1, 0.9, 0.4, 0.7, 0.3, 0.8, 0.2};
  const auto run = [&](uint64_t seed) {
    BootstrapOptions options;
    options.seed = seed;
    options.resamples = 500;
    return bootstrap_intervals(
        7, [&](const std::vector<int64_t>& rows) { return mean_of(values, rows); }, options);
  };
  EXPECT_EQ(run(3).at("mean").lower, run(3).at("mean").lower);
  EXPECT_EQ(run(3).at("mean").standard_error, run(3).at("mean").standard_error);
  EXPECT_NE(run(3).at("mean").standard_error, run(4).at("mean").standard_error);
}

TEST(Bootstrap, ClassificationPairsAreResampledTogether) {
  // Every prediction right: every resample has BA 1, so the interval is [1, 1].
  const std::vector<int64_t> labels{0, 1, 0, 1, 1, 0, 1, 0};
  const auto intervals = bootstrap_intervals(8,
                                             [&](const std::vector<int64_t>& rows) {
                                               std::vector<int64_t> y;
                                               for (const auto i : rows)
                                                 y.push_back(labels[static_cast<size_t>(i)]);
                                               return classification_metrics(y, y, 2);
                                             },
                                             {});
  EXPECT_DOUBLE_EQ(intervals.at("accuracy").lower, 1.0);
  EXPECT_DOUBLE_EQ(intervals.at("accuracy").standard_error, 0.0);
}

}  // namespace
}  // namespace cdl::eval
