// Soft voting (reference 5.5 with design section 6's balanced-accuracy weights) on a 2-image x
// 3-part example computed by hand, and the regression mean.
#include "cdl/eval/soft_voting.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"

namespace cdl::eval {
namespace {

using Row = ClassificationPrediction;

// Validation table: 4 images with labels 0, 1, 1, 1 (class 0 is positive) and 3 parts.
//   part 0 predicts 0 1 1 1: TP 1 FN 0 FP 0 TN 3 -> sens 1, spec 1   -> BA 1   (accuracy 1)
//   part 1 predicts 1 1 1 1: TP 0 FN 1 FP 0 TN 3 -> sens 0, spec 1   -> BA 1/2 (accuracy 3/4)
//   part 2 predicts 0 0 1 1: TP 1 FN 0 FP 1 TN 2 -> sens 1, spec 2/3 -> BA 5/6 (accuracy 3/4)
std::vector<Row> validation_rows() {
  const int64_t labels[4] = {0, 1, 1, 1};
  const int64_t predicted[3][4] = {{0, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 1, 1}};
  std::vector<Row> rows;
  for (int64_t part = 0; part < 3; ++part) {
    for (int image = 0; image < 4; ++image) {
      const int64_t p = predicted[part][image];
      rows.push_back({"sub-v" + std::to_string(image),
                      "ses-M000",
                      part,
                      labels[image],
                      p,
                      {p == 0 ? 0.8 : 0.2, p == 0 ? 0.2 : 0.8}});
    }
  }
  return rows;
}

// Image A (sub-01, label 0): P(class 0) by part 0.9, 0.2, 0.4.
// Image B (sub-02, label 1): P(class 0) by part 0.3, 0.9, 0.6. Rows deliberately shuffled.
std::vector<Row> prediction_rows() {
  return {{"sub-02", "ses-M000", 2, 1, 0, {0.6, 0.4}}, {"sub-01", "ses-M000", 1, 0, 1, {0.2, 0.8}},
          {"sub-02", "ses-M000", 0, 1, 1, {0.3, 0.7}}, {"sub-01", "ses-M000", 0, 0, 0, {0.9, 0.1}},
          {"sub-02", "ses-M000", 1, 1, 0, {0.9, 0.1}}, {"sub-01", "ses-M000", 2, 0, 1, {0.4, 0.6}}};
}

TEST(SoftVotingTest, WeightsAreNormalisedBalancedAccuracies) {
  // Sum of BA = 1 + 1/2 + 5/6 = 7/3 -> w = 3/7, 3/14, 5/14.
  const auto w = soft_voting_weights(validation_rows(), 0.0);
  EXPECT_DOUBLE_EQ(w.balanced_accuracy.at(0), 1.0);
  EXPECT_DOUBLE_EQ(w.balanced_accuracy.at(1), 0.5);
  EXPECT_DOUBLE_EQ(w.balanced_accuracy.at(2), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(w.weights.at(0), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(w.weights.at(1), 3.0 / 14.0);
  EXPECT_DOUBLE_EQ(w.weights.at(2), 5.0 / 14.0);
  EXPECT_FALSE(w.uniform_fallback);
}

TEST(SoftVotingTest, TwoImagesThreePartsByHand) {
  const auto out = soft_voting(prediction_rows(), soft_voting_weights(validation_rows(), 0.0));
  ASSERT_EQ(out.size(), 2u);
  // A: (3/7)0.9 + (3/14)0.2 + (5/14)0.4 = (5.4 + 0.6 + 2.0) / 14 = 8/14 -> class 0.
  EXPECT_EQ(out[0].participant_id, "sub-01");
  EXPECT_EQ(out[0].part_id, 0);
  EXPECT_EQ(out[0].true_label, 0);
  EXPECT_NEAR(out[0].probabilities[0], 8.0 / 14.0, 1e-12);
  EXPECT_NEAR(out[0].probabilities[1], 6.0 / 14.0, 1e-12);
  EXPECT_EQ(out[0].predicted_label, 0);
  // B: (3/7)0.3 + (3/14)0.9 + (5/14)0.6 = (1.8 + 2.7 + 3.0) / 14 = 7.5/14 -> class 0.
  EXPECT_EQ(out[1].participant_id, "sub-02");
  EXPECT_EQ(out[1].true_label, 1);
  EXPECT_NEAR(out[1].probabilities[0], 7.5 / 14.0, 1e-12);
  EXPECT_EQ(out[1].predicted_label, 0);
}

TEST(SoftVotingTest, SelectionThresholdZeroesWeakParts) {
  // Threshold 0.6 removes part 1 (BA 1/2): w = 1 / (11/6) = 6/11 and (5/6) / (11/6) = 5/11.
  const auto w = soft_voting_weights(validation_rows(), 0.6);
  EXPECT_EQ(w.weights.at(1), 0.0);
  EXPECT_DOUBLE_EQ(w.weights.at(0), 6.0 / 11.0);
  EXPECT_DOUBLE_EQ(w.weights.at(2), 5.0 / 11.0);
  const auto out = soft_voting(prediction_rows(), w);
  // A: (6/11)0.9 + (5/11)0.4 = 7.4/11 -> 0.   B: (6/11)0.3 + (5/11)0.6 = 4.8/11 -> 1.
  EXPECT_NEAR(out[0].probabilities[0], 7.4 / 11.0, 1e-12);
  EXPECT_EQ(out[0].predicted_label, 0);
  EXPECT_NEAR(out[1].probabilities[0], 4.8 / 11.0, 1e-12);
  EXPECT_NEAR(out[1].probabilities[1], 6.2 / 11.0, 1e-12);
  EXPECT_EQ(out[1].predicted_label, 1);
}

TEST(SoftVotingTest, AllPartsBelowThresholdFallBackToEqualWeights) {
  const auto w = soft_voting_weights(validation_rows(), 1.1);
  EXPECT_TRUE(w.uniform_fallback);
  for (const auto& [part, weight] : w.weights) EXPECT_DOUBLE_EQ(weight, 1.0 / 3.0) << part;
  const auto out = soft_voting(prediction_rows(), w);
  EXPECT_NEAR(out[1].probabilities[0], (0.3 + 0.9 + 0.6) / 3.0, 1e-12);  // B: 0.6 -> class 0
  EXPECT_EQ(out[1].predicted_label, 0);
}

TEST(SoftVotingTest, RejectsIncompleteOrInconsistentImages) {
  const auto w = soft_voting_weights(validation_rows(), 0.0);
  auto missing = prediction_rows();
  missing.pop_back();  // sub-01 loses part 2
  EXPECT_THROW(soft_voting(missing, w), DataError);
  auto duplicated = prediction_rows();
  duplicated.push_back(duplicated.front());
  EXPECT_THROW(soft_voting(duplicated, w), DataError);
  auto disagree = prediction_rows();
  disagree[1].true_label = 1;  // a part of sub-01 says 1
  EXPECT_THROW(soft_voting(disagree, w), DataError);
  auto ragged = prediction_rows();
  ragged[0].probabilities.push_back(0.0);
  EXPECT_THROW(soft_voting(ragged, w), DataError);
  EXPECT_THROW(soft_voting_weights({}, 0.0), DataError);
}

TEST(MeanVotingTest, RegressionIsTheUnweightedMeanOfParts) {
  const std::vector<RegressionPrediction> rows = {{"sub-02", "ses-M000", 0, 60.0, 60.0},
                                                  {"sub-01", "ses-M000", 0, 71.0, 70.0},
                                                  {"sub-01", "ses-M000", 1, 71.0, 72.0},
                                                  {"sub-02", "ses-M000", 1, 60.0, 61.0},
                                                  {"sub-01", "ses-M000", 2, 71.0, 74.0}};
  const auto out = mean_voting(rows);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].participant_id, "sub-01");
  EXPECT_EQ(out[0].true_label, 71.0);
  EXPECT_DOUBLE_EQ(out[0].predicted_label, 72.0);  // (70 + 72 + 74) / 3
  EXPECT_EQ(out[0].part_id, 0);
  EXPECT_DOUBLE_EQ(out[1].predicted_label, 60.5);  // (60 + 61) / 2
  auto disagree = rows;
  disagree[0].true_label = 61.0;
  EXPECT_THROW(mean_voting(disagree), DataError);
}

}  // namespace
}  // namespace cdl::eval
