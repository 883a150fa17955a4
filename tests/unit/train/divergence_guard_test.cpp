// The divergence guard names the first micro-batch whose loss is not finite, and the ranks of a
// group stop together whichever rank saw it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <limits>

#include "cdl/core/error.hpp"
#include "cdl/train/divergence_guard.hpp"
#include "thread_group.hpp"

namespace cdl::train {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

TEST(DivergenceGuard, FiniteLossesPass) {
  DivergenceGuard guard(0);
  for (int64_t i = 0; i < 5; ++i) guard.watch(torch::tensor(0.5 + i), 0, i);
  guard.flush();
  EXPECT_FALSE(guard.diverged());
  EXPECT_NO_THROW(guard.throw_if(false));
}

TEST(DivergenceGuard, NanIsReportedWithItsEpochAndMicroBatchOneStepLate) {
  DivergenceGuard guard(3);
  guard.watch(torch::tensor(0.7), 2, 0);
  guard.watch(torch::tensor(kNan), 2, 1);
  EXPECT_FALSE(guard.diverged());  // not read yet: the GPU is never waited for
  guard.watch(torch::tensor(0.7), 2, 2);
  EXPECT_TRUE(guard.diverged());
  guard.watch(torch::tensor(kNan), 2, 3);  // later ones do not replace the first
  guard.flush();
  try {
    guard.throw_if(true);
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
  guard.flush();
  EXPECT_TRUE(guard.diverged());
  EXPECT_THROW(guard.throw_if(true), TrainingError);
}

// Rank 1 of 3 alone sees a NaN: every rank throws at the same check, none waits in a collective,
// and the others say that another rank diverged.
TEST(DivergenceGuard, EveryRankOfTheGroupStopsAtTheSameCheck) {
  std::atomic<int> thrown{0}, named_elsewhere{0};
  testing::run_thread_group(3, [&](comm::Communicator& group) {
    DivergenceGuard guard(group.rank());
    guard.watch(torch::tensor(group.rank() == 1 ? kNan : 0.5), 0, 0);
    group.barrier();
    try {
      guard.check(group);
    } catch (const TrainingError& error) {
      ++thrown;
      const std::string message = error.what();
      if (message.find("another rank of the group") != std::string::npos) ++named_elsewhere;
    }
    group.barrier();  // every rank got here: none is left in a collective
  });
  EXPECT_EQ(thrown.load(), 3);
  EXPECT_EQ(named_elsewhere.load(), 2);
}

TEST(DivergenceGuard, AGroupWithoutDivergenceGoesOn) {
  std::atomic<int> thrown{0};
  testing::run_thread_group(2, [&](comm::Communicator& group) {
    DivergenceGuard guard(group.rank());
    guard.watch(torch::tensor(0.25), 0, 0);
    try {
      guard.check(group);
    } catch (const TrainingError&) {
      ++thrown;
    }
  });
  EXPECT_EQ(thrown.load(), 0);
}

}  // namespace
}  // namespace cdl::train
