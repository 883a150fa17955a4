// ReduceLROnPlateau schedule (reference 4.8) traced by hand on loss sequences.
#include "cdl/train/adaptive_lr.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::train {
namespace {

AdaptiveLrOptions traced_options() {
  AdaptiveLrOptions o;
  o.factor = 0.5;
  o.patience = 1;
  o.threshold = 0.1;
  o.cooldown = 1;
  o.min_lr = 0.2;
  return o;
}

TEST(AdaptiveLearningRateTest, HandTracedScheduleWithCooldownAndFloor) {
  // step: loss -> (best, bad epochs, cooldown) -> lr
  //  1: 10  improves (best 10)                         -> 1
  //  2: 9.5 not < 10*0.9=9: bad 1                      -> 1
  //  3: 9.2 bad 2 > patience 1: reduce, cooldown 1     -> 0.5
  //  4: 9.9 bad 1, cooldown ends and clears bad        -> 0.5
  //  5: 9.9 bad 1                                      -> 0.5
  //  6: 8.0 < 9 improves (best 8)                      -> 0.5
  //  7: 7.5 not < 7.2: bad 1                           -> 0.5
  //  8: 7.5 bad 2: reduce                              -> 0.25
  //  9: 7.5 cooldown clears                            -> 0.25
  // 10: 7.5 bad 1                                      -> 0.25
  // 11: 7.5 bad 2: reduce to max(0.125, 0.2)           -> 0.2
  // 12-13: cooldown, bad 1                             -> 0.2
  // 14: bad 2: max(0.1, 0.2) = 0.2, no change (0 <= eps) -> 0.2
  const std::vector<double> losses = {10,  9.5, 9.2, 9.9, 9.9, 8,   7.5,
                                      7.5, 7.5, 7.5, 7.5, 7.5, 7.5, 7.5};
  const std::vector<double> expected = {1,    1,    0.5,  0.5, 0.5, 0.5, 0.5,
                                        0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2};
  AdaptiveLearningRate schedule(1.0, traced_options());
  for (size_t i = 0; i < losses.size(); ++i) {
    EXPECT_DOUBLE_EQ(schedule.step(losses[i]), expected[i]) << "step " << i + 1;
    EXPECT_EQ(schedule.reduced_last_step(), i == 2 || i == 7 || i == 10) << "step " << i + 1;
  }
  EXPECT_EQ(schedule.best(), 8.0);
}

TEST(AdaptiveLearningRateTest, PyTorchDefaultsReduceAfterElevenBadEpochs) {
  AdaptiveLearningRate schedule(1e-4);
  schedule.step(1.0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(schedule.step(1.0), 1e-4);  // bad epochs 1..10
  EXPECT_DOUBLE_EQ(schedule.step(1.0), 1e-5);                        // bad epoch 11 > 10
  EXPECT_EQ(schedule.num_bad_epochs(), 0);
  // Relative threshold 1e-4: 0.99995 is not below 1 - 1e-4, 0.9999 - 1e-12 is.
  AdaptiveLearningRate other(1e-4);
  other.step(1.0);
  other.step(0.99995);
  EXPECT_EQ(other.num_bad_epochs(), 1);
  other.step(0.9999 - 1e-12);
  EXPECT_EQ(other.num_bad_epochs(), 0);
  other.step(std::nan(""));  // NaN is a bad epoch
  EXPECT_EQ(other.num_bad_epochs(), 1);
}

TEST(AdaptiveLearningRateTest, StateRoundTripContinuesTheSchedule) {
  AdaptiveLearningRate first(1.0, traced_options());
  for (double loss : {10.0, 9.5, 9.2}) first.step(loss);
  AdaptiveLearningRate resumed(1.0, traced_options());
  resumed.load_state(nlohmann::json::parse(first.state().dump()));
  EXPECT_EQ(resumed.learning_rate(), 0.5);
  for (double loss : {9.9, 9.9, 8.0, 7.5, 7.5}) EXPECT_EQ(resumed.step(loss), first.step(loss));
  EXPECT_EQ(resumed.learning_rate(), 0.25);
  EXPECT_THROW(resumed.load_state(nlohmann::json{{"lr", 1.0}}), DataError);
}

TEST(AdaptiveLearningRateTest, RejectsInvalidOptions) {
  EXPECT_THROW(AdaptiveLearningRate(0.0), ConfigError);
  AdaptiveLrOptions bad;
  bad.factor = 1.0;
  EXPECT_THROW(AdaptiveLearningRate(1e-3, bad), ConfigError);
  bad.factor = 0.1;
  bad.patience = -1;
  EXPECT_THROW(AdaptiveLearningRate(1e-3, bad), ConfigError);
}

}  // namespace
}  // namespace cdl::train
