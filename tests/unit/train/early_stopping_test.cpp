// Decision table of early stopping (design section 6): loss sequences -> epoch at which it stops.
#include "cdl/train/early_stopping.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::train {
namespace {

// Index of the epoch after which training stops, or -1 when it runs through the sequence.
int stop_epoch(int patience, double tolerance, const std::vector<double>& losses) {
  EarlyStopping stopper(patience, tolerance);
  for (size_t epoch = 0; epoch < losses.size(); ++epoch) {
    if (stopper.step(losses[epoch])) return static_cast<int>(epoch);
  }
  return -1;
}

TEST(EarlyStoppingTest, DecisionTable) {
  const double nan = std::nan("");
  // patience 0 disables everything, even NaN.
  EXPECT_EQ(stop_epoch(0, 0.0, {1, 1, 1, 1, 1}), -1);
  EXPECT_EQ(stop_epoch(0, 0.0, {1, nan, 2}), -1);
  // patience 2: epoch 0 sets the reference, epochs 1 and 2 do not improve -> stop after epoch 2.
  EXPECT_EQ(stop_epoch(2, 0.0, {1, 1, 1}), 2);
  // 1.0 ref; 0.9 improves; 0.95 bad(1); 0.8 improves; 0.85 bad(1); 0.85 bad(2) -> stop at 5.
  EXPECT_EQ(stop_epoch(2, 0.0, {1.0, 0.9, 0.95, 0.8, 0.85, 0.85}), 5);
  // Always improving never stops.
  EXPECT_EQ(stop_epoch(1, 0.0, {5, 4, 3, 2, 1}), -1);
  // patience 1: the first epoch without improvement stops.
  EXPECT_EQ(stop_epoch(1, 0.0, {5, 4, 4}), 2);
}

TEST(EarlyStoppingTest, RelativeTolerance) {
  // tolerance 0.1: 0.95 is not below 1.0 - 0.1 * 1.0 = 0.9 -> bad -> stop (patience 1).
  EXPECT_EQ(stop_epoch(1, 0.1, {1.0, 0.95}), 1);
  // 0.85 < 0.9 improves (best 0.85); 0.8 is not below 0.85 - 0.085 = 0.765 -> stop at 2.
  EXPECT_EQ(stop_epoch(1, 0.1, {1.0, 0.85, 0.8}), 2);
  // Exactly at the bound is not an improvement: 0.5 < 1.0 - 0.5 is false.
  EXPECT_EQ(stop_epoch(1, 0.5, {1.0, 0.5}), 1);
  EXPECT_EQ(stop_epoch(1, 0.5, {1.0, 0.49}), -1);
}

TEST(EarlyStoppingTest, NanStopsAtOnce) {
  EXPECT_EQ(stop_epoch(3, 0.0, {std::nan("")}), 0);
  EXPECT_EQ(stop_epoch(3, 0.0, {1.0, std::nan("")}), 1);
}

TEST(EarlyStoppingTest, StateRoundTripResumesCounting) {
  EarlyStopping first(2, 0.0);
  EXPECT_FALSE(first.step(1.0));
  EXPECT_FALSE(first.step(1.1));  // one bad epoch
  const auto saved = first.state();
  EXPECT_EQ(saved["best"], 1.0);
  EXPECT_EQ(saved["num_bad_epochs"], 1);
  EarlyStopping resumed(2, 0.0);
  resumed.load_state(nlohmann::json::parse(saved.dump()));
  EXPECT_TRUE(resumed.has_best());
  EXPECT_EQ(resumed.best(), 1.0);
  EXPECT_EQ(resumed.num_bad_epochs(), 1);
  EXPECT_TRUE(resumed.step(1.2));  // second bad epoch in a row
  EarlyStopping fresh(2, 0.0);
  EXPECT_TRUE(fresh.state()["best"].is_null());
  EXPECT_THROW(fresh.load_state(nlohmann::json::object()), DataError);
}

TEST(EarlyStoppingTest, RejectsInvalidOptions) {
  EXPECT_THROW(EarlyStopping(-1, 0.0), ConfigError);
  EXPECT_THROW(EarlyStopping(1, -0.1), ConfigError);
  EXPECT_THROW(EarlyStopping(1, std::nan("")), ConfigError);
  EXPECT_FALSE(EarlyStopping(0, 0.0).enabled());
}

}  // namespace
}  // namespace cdl::train
