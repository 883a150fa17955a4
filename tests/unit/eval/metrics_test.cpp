// Known-answer tests of the classification / regression metrics and of the selection direction.
// Every expected value is computed by hand from the confusion matrix written in the comments.
#include "cdl/eval/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"

namespace cdl::eval {
namespace {

double value_of(const MetricList& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics) {
    if (key == name) return value;
  }
  ADD_FAILURE() << "metric " << name << " missing";
  return std::nan("");
}

std::vector<std::string> names_of(const MetricList& metrics) {
  std::vector<std::string> names;
  for (const auto& entry : metrics) names.push_back(entry.first);
  return names;
}

TEST(ClassificationMetricsTest, BinaryHandComputedConfusion) {
  // Positive class = code 0.  TP: idx 0,1 -> 2; FN: idx 2 -> 1; FP: idx 3 -> 1; TN: idx 4..7 -> 4.
  const std::vector<int64_t> y_true = {0, 0, 0, 1, 1, 1, 1, 1};
  const std::vector<int64_t> y_pred = {0, 0, 1, 0, 1, 1, 1, 1};
  const auto m = classification_metrics(y_true, y_pred, 2);
  EXPECT_EQ(names_of(m), classification_metric_names());
  EXPECT_DOUBLE_EQ(value_of(m, "sensitivity"), 2.0 / 3.0);  // 2 / (2 + 1)
  EXPECT_DOUBLE_EQ(value_of(m, "specificity"), 4.0 / 5.0);  // 4 / (4 + 1)
  EXPECT_DOUBLE_EQ(value_of(m, "PPV"), 2.0 / 3.0);          // 2 / (2 + 1)
  EXPECT_DOUBLE_EQ(value_of(m, "NPV"), 4.0 / 5.0);          // 4 / (4 + 1)
  EXPECT_DOUBLE_EQ(value_of(m, "F1_score"), 2.0 / 3.0);     // 2 (2/3)(2/3) / (4/3)
  EXPECT_DOUBLE_EQ(value_of(m, "BA"), 11.0 / 15.0);         // (2/3 + 4/5) / 2
  EXPECT_DOUBLE_EQ(value_of(m, "accuracy"), 0.75);          // 6 / 8
  EXPECT_DOUBLE_EQ(value_of(m, "MCC"), 7.0 / 15.0);         // (2*4 - 1*1) / sqrt(3*3*5*5)
  EXPECT_DOUBLE_EQ(value_of(m, "MK"), 7.0 / 15.0);          // 2/3 + 4/5 - 1
  EXPECT_DOUBLE_EQ(value_of(m, "LR_plus"), 10.0 / 3.0);     // (2/3) / (1 - 4/5)
  EXPECT_DOUBLE_EQ(value_of(m, "LR_minus"), 5.0 / 12.0);    // (1 - 2/3) / (4/5)
}

TEST(ClassificationMetricsTest, NoPositiveAtAllGivesZeroDivisionResults) {
  // All true and predicted labels are 1: TP = FN = FP = 0, TN = 2.
  const auto m = classification_metrics({1, 1}, {1, 1}, 2);
  EXPECT_EQ(value_of(m, "sensitivity"), 0.0);  // 0/0 -> 0
  EXPECT_EQ(value_of(m, "specificity"), 1.0);  // 2/2
  EXPECT_EQ(value_of(m, "PPV"), 0.0);          // 0/0 -> 0
  EXPECT_EQ(value_of(m, "NPV"), 1.0);          // 2/2
  EXPECT_EQ(value_of(m, "F1_score"), 0.0);     // 0/0 -> 0
  EXPECT_EQ(value_of(m, "BA"), 0.5);           // (0 + 1) / 2
  EXPECT_EQ(value_of(m, "MCC"), 0.0);          // denominator (0)(0)(2)(2) = 0 -> 0
  EXPECT_EQ(value_of(m, "MK"), 0.0);           // 0 + 1 - 1
  EXPECT_EQ(value_of(m, "LR_plus"), 0.0);      // specificity = 1 -> 0
  EXPECT_EQ(value_of(m, "LR_minus"), 1.0);     // (1 - 0) / 1
  EXPECT_EQ(value_of(m, "accuracy"), 1.0);
}

TEST(ClassificationMetricsTest, ZeroSpecificityGivesZeroLrMinus) {
  // True labels 1, predicted 0: TP = 0, FN = 0, FP = 2, TN = 0.
  const auto m = classification_metrics({1, 1}, {0, 0}, 2);
  EXPECT_EQ(value_of(m, "sensitivity"), 0.0);  // 0/0 -> 0
  EXPECT_EQ(value_of(m, "specificity"), 0.0);  // 0/2
  EXPECT_EQ(value_of(m, "PPV"), 0.0);          // 0/2
  EXPECT_EQ(value_of(m, "NPV"), 0.0);          // 0/0 -> 0
  EXPECT_EQ(value_of(m, "F1_score"), 0.0);
  EXPECT_EQ(value_of(m, "BA"), 0.0);
  EXPECT_EQ(value_of(m, "MCC"), 0.0);       // (0 - 0) / sqrt(2*0*2*0) -> 0
  EXPECT_EQ(value_of(m, "MK"), -1.0);       // 0 + 0 - 1
  EXPECT_EQ(value_of(m, "LR_plus"), 0.0);   // 0 / (1 - 0)
  EXPECT_EQ(value_of(m, "LR_minus"), 0.0);  // specificity = 0 -> 0
  EXPECT_EQ(value_of(m, "accuracy"), 0.0);
}

TEST(ClassificationMetricsTest, ClassMetricsOfEmptyAndAllWrongCounts) {
  const auto empty = class_metrics({0, 0, 0, 0});
  for (const auto& [name, value] : empty) EXPECT_EQ(value, name == "MK" ? -1.0 : 0.0) << name;
  // TP 0, FN 1, FP 1, TN 0: PPV + sensitivity = 0 -> F1 0; MCC = (0 - 1) / sqrt(1) = -1.
  const auto wrong = class_metrics({0, 1, 1, 0});
  EXPECT_EQ(value_of(wrong, "F1_score"), 0.0);
  EXPECT_EQ(value_of(wrong, "MCC"), -1.0);
  EXPECT_EQ(value_of(wrong, "LR_plus"), 0.0);   // 0 / (1 - 0)
  EXPECT_EQ(value_of(wrong, "LR_minus"), 0.0);  // specificity 0
}

TEST(ClassificationMetricsTest, MultiClassSuffixesAndValues) {
  // Class 0: TP 1 (idx0), FN 1 (idx1), FP 1 (idx5), TN 3 -> sens 1/2, spec 3/4, BA 5/8.
  // Class 1: TP 2 (idx2,3), FN 0, FP 1 (idx1), TN 3     -> sens 1,   spec 3/4, BA 7/8.
  // Class 2: TP 1 (idx4), FN 1 (idx5), FP 0, TN 4       -> sens 1/2, spec 1,   BA 3/4.
  const std::vector<int64_t> y_true = {0, 0, 1, 1, 2, 2};
  const std::vector<int64_t> y_pred = {0, 1, 1, 1, 2, 0};
  const auto m = classification_metrics(y_true, y_pred, 3);
  ASSERT_EQ(m.size(), 31u);  // 10 class-dependent metrics x 3 classes + accuracy
  const auto names = names_of(m);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5),
            (std::vector<std::string>{"BA-0", "BA-1", "BA-2", "accuracy", "F1_score-0"}));
  EXPECT_EQ(names.back(), "LR_minus-2");
  EXPECT_DOUBLE_EQ(value_of(m, "BA-0"), 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(value_of(m, "BA-1"), 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(value_of(m, "BA-2"), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(value_of(m, "accuracy"), 4.0 / 6.0);
  EXPECT_EQ(value_of(m, "LR_plus-2"), 0.0);   // specificity 1
  EXPECT_EQ(value_of(m, "LR_minus-1"), 0.0);  // (1 - 1) / (3/4)
  // Training-log view: mean over classes, (5/8 + 7/8 + 3/4) / 3 = 3/4.
  EXPECT_DOUBLE_EQ(metric_value(m, "BA"), 0.75);
  const auto log = aggregate_class_metrics(m, classification_metric_names());
  EXPECT_EQ(names_of(log), classification_metric_names());
  EXPECT_DOUBLE_EQ(value_of(log, "BA"), 0.75);
  EXPECT_DOUBLE_EQ(value_of(log, "accuracy"), 4.0 / 6.0);
}

TEST(ClassificationMetricsTest, RejectsBadInput) {
  EXPECT_THROW(classification_metrics({0, 1}, {0}, 2), DataError);
  EXPECT_THROW(classification_metrics({}, {}, 2), DataError);
  EXPECT_THROW(classification_metrics({0, 2}, {0, 1}, 2), DataError);
  EXPECT_THROW(classification_metrics({0, -1}, {0, 1}, 2), DataError);
  EXPECT_THROW(metric_value({{"loss", 1.0}}, "BA"), DataError);
}

TEST(RegressionMetricsTest, HandComputed) {
  // errors 0, 0, 0, -2: MAE 2/4, RMSE sqrt(4/4); mean 2.5, SS_tot = 2.25+0.25+0.25+2.25 = 5,
  // R2 = 1 - 4/5.
  const auto m = regression_metrics({1, 2, 3, 4}, {1, 2, 3, 6});
  EXPECT_EQ(names_of(m), regression_metric_names());
  EXPECT_DOUBLE_EQ(value_of(m, "R2_score"), 0.2);
  EXPECT_DOUBLE_EQ(value_of(m, "MAE"), 0.5);
  EXPECT_DOUBLE_EQ(value_of(m, "RMSE"), 1.0);
}

TEST(RegressionMetricsTest, ConstantTargetGivesZeroR2) {
  const auto m = regression_metrics({3, 3, 3}, {3, 3, 4});
  EXPECT_EQ(value_of(m, "R2_score"), 0.0);  // SS_tot = 0 -> 0
  EXPECT_DOUBLE_EQ(value_of(m, "MAE"), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(value_of(m, "RMSE"), std::sqrt(1.0 / 3.0));
  EXPECT_EQ(value_of(regression_metrics({2, 2}, {2, 2}), "R2_score"), 0.0);  // even when perfect
  EXPECT_THROW(regression_metrics({1}, {1, 2}), DataError);
}

TEST(MetricDirectionTest, DirectionsAndStrictImprovement) {
  for (const char* m : {"loss", "MAE", "RMSE", "LR_minus", "recon_loss", "LR_minus-2"}) {
    EXPECT_EQ(metric_direction(m), MetricDirection::kMinimize) << m;
  }
  for (const char* m : {"BA", "accuracy", "F1_score", "sensitivity", "specificity", "PPV", "NPV",
                        "MCC", "MK", "LR_plus", "R2_score", "PSNR", "SSIM", "LNCC", "BA-1"}) {
    EXPECT_EQ(metric_direction(m), MetricDirection::kMaximize) << m;
  }
  EXPECT_THROW(metric_direction("foo"), ConfigError);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(is_better("loss", 1.0, kInf));
  EXPECT_TRUE(is_better("loss", 0.5, 1.0));
  EXPECT_FALSE(is_better("loss", 1.0, 1.0));  // ties never improve
  EXPECT_FALSE(is_better("loss", 1.5, 1.0));
  EXPECT_TRUE(is_better("BA", 0.5, -kInf));
  EXPECT_TRUE(is_better("BA", 0.7, 0.6));
  EXPECT_FALSE(is_better("BA", 0.6, 0.6));
  EXPECT_FALSE(is_better("BA", std::nan(""), -kInf));  // NaN never improves
  EXPECT_FALSE(is_better("loss", std::nan(""), kInf));
}

TEST(MetricJsonTest, NonFiniteValuesRoundTrip) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(metric_to_json(kInf), "inf");
  EXPECT_EQ(metric_to_json(-kInf), "-inf");
  EXPECT_EQ(metric_to_json(std::nan("")), "nan");
  EXPECT_EQ(metric_to_json(0.25), 0.25);
  EXPECT_EQ(metric_from_json(metric_to_json(kInf)), kInf);
  EXPECT_EQ(metric_from_json(metric_to_json(-kInf)), -kInf);
  EXPECT_TRUE(std::isnan(metric_from_json(metric_to_json(std::nan("")))));
  EXPECT_EQ(metric_from_json(metric_to_json(0.1)), 0.1);
  EXPECT_THROW(metric_from_json(nlohmann::json("big")), DataError);
}

TEST(MeanMetricsTest, MeanPerNameInFirstRowOrder) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto mean = mean_metrics({{{"MAE", 1.0}, {"PSNR", kInf}}, {{"MAE", 3.0}, {"PSNR", 20.0}}});
  ASSERT_EQ(mean.size(), 2u);
  EXPECT_EQ(mean[0], (std::pair<std::string, double>{"MAE", 2.0}));
  EXPECT_EQ(mean[1].second, kInf);  // one perfect reconstruction makes the mean infinite
  EXPECT_TRUE(mean_metrics({}).empty());
  EXPECT_THROW(mean_metrics({{{"MAE", 1.0}}, {{"RMSE", 1.0}}}), DataError);
}

}  // namespace
}  // namespace cdl::eval
