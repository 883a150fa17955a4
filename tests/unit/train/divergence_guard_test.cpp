// The divergence guard names the first micro-batch whose loss is not finite.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "cdl/core/error.hpp"
#include "cdl/train/divergence_guard.hpp"

namespace cdl::train {
namespace {

TEST(DivergenceGuard, FiniteLossesPass) {
  DivergenceGuard guard(0);
  for (int64_t i = 0; i < 5; ++i) guard.watch(torch::tensor(0.5 + i), 0, i);
  EXPECT_NO_THROW(guard.flush());
  EXPECT_NO_THROW(guard.flush());  // nothing pending
}

TEST(DivergenceGuard, NanIsReportedWithItsEpochAndMicroBatchOneStepLate) {
  DivergenceGuard guard(3);
  guard.watch(torch::tensor(0.7), 2, 0);
  guard.watch(torch::tensor(std::numeric_limits<double>::quiet_NaN()), 2, 1);  // not checked yet
  try {
    guard.watch(torch::tensor(0.7), 2, 2);
    ADD_FAILURE() << "expected a TrainingError";
  } catch (const TrainingError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("loss is nan at epoch 2, micro-batch 1 (rank 3)"), std::string::npos)
        << message;
    EXPECT_EQ(error.exit_code(), 3);
  }
}

TEST(DivergenceGuard, InfinityAtTheEndOfAnEpochIsCaughtByFlush) {
  DivergenceGuard guard(0);
  guard.watch(torch::tensor(std::numeric_limits<float>::infinity()), 4, 9);
  EXPECT_THROW(guard.flush(), TrainingError);
}

}  // namespace
}  // namespace cdl::train
