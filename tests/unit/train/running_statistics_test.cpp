// RunningStatistics: BatchNorm running statistics after updates whose micro-batches are shared
// by 1, 2 or 3 ranks (threads of this process) equal those of one module that ran every
// micro-batch in order, including a rank that runs none in an update.
#include "cdl/train/running_statistics.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "cdl/core/error.hpp"
#include "thread_group.hpp"

namespace cdl::train {
namespace {

constexpr int kMicroBatches = 3;  // per weight update
constexpr int kUpdates = 3;

torch::nn::Sequential make_module() {
  torch::manual_seed(11);
  return torch::nn::Sequential(
      torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 2, 3)),
      torch::nn::BatchNorm3d(torch::nn::BatchNorm3dOptions(2).momentum(0.3)), torch::nn::Flatten(),
      torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(2 * 4 * 4 * 4).momentum(0.1)));
}

/// Micro-batch t of update u: different statistics for each, so that their order matters.
torch::Tensor micro_batch(int update, int t) {
  auto gen = at::detail::createCPUGenerator(100 * update + t);
  return torch::randn({2, 1, 6, 6, 6}, gen) * (1.0 + t) + 0.5 * update - t;
}

/// Which rank runs micro-batch t of update u among `ranks`: uneven shares, and in the last
/// update with 2+ ranks rank 1 runs none (it only joins the reduction).
int owner(int update, int t, int ranks) {
  if (ranks == 1) return 0;
  if (update == kUpdates - 1) return t == 2 && ranks == 3 ? 2 : 0;
  return (t + update) % ranks;
}

std::vector<torch::Tensor> buffers_of(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& buffer : module.buffers()) out.push_back(buffer.clone());
  return out;
}

/// The reference: one module runs every micro-batch in order, in training mode.
std::vector<torch::Tensor> sequential_statistics() {
  auto module = make_module();
  module->train();
  torch::NoGradGuard no_grad;
  for (int u = 0; u < kUpdates; ++u) {
    for (int t = 0; t < kMicroBatches; ++t) module->forward(micro_batch(u, t));
  }
  return buffers_of(*module);
}

/// Every rank's buffers after the updates, the micro-batches shared as owner() says.
std::vector<std::vector<torch::Tensor>> shared_statistics(int ranks) {
  std::vector<torch::nn::Sequential> modules;
  for (int r = 0; r < ranks; ++r) modules.push_back(make_module());  // identical start
  std::vector<std::vector<torch::Tensor>> results(ranks);
  testing::run_thread_group(ranks, [&](comm::Communicator& comm) {
    auto& module = modules[comm.rank()];
    module->train();
    torch::NoGradGuard no_grad;
    RunningStatistics statistics(*module);
    for (int u = 0; u < kUpdates; ++u) {
      statistics.begin_update();
      for (int t = 0; t < kMicroBatches; ++t) {
        if (owner(u, t, ranks) != comm.rank()) continue;
        statistics.before_micro_batch();
        module->forward(micro_batch(u, t));
        statistics.after_micro_batch(t, kMicroBatches);
      }
      statistics.finish_update(comm, kMicroBatches);
    }
    results[comm.rank()] = buffers_of(*module);
  });
  return results;
}

TEST(RunningStatisticsTest, FindsEveryBatchNormLayer) {
  auto module = make_module();
  EXPECT_FALSE(RunningStatistics(*module).empty());
  auto plain = torch::nn::Sequential(torch::nn::Linear(3, 2));
  EXPECT_TRUE(RunningStatistics(*plain).empty());
}

TEST(RunningStatisticsTest, AnyShareOfTheMicroBatchesGivesTheSequentialStatistics) {
  const auto expected = sequential_statistics();
  ASSERT_EQ(expected.size(), 6u);  // mean, var, count of two layers
  for (int ranks : {1, 2, 3}) {
    const auto got = shared_statistics(ranks);
    for (int r = 0; r < ranks; ++r) {
      ASSERT_EQ(got[r].size(), expected.size());
      for (size_t b = 0; b < expected.size(); ++b) {
        if (expected[b].scalar_type() == torch::kLong) {
          EXPECT_TRUE(torch::equal(got[r][b], expected[b]))
              << ranks << " ranks, rank " << r << ", buffer " << b << ": " << got[r][b];
        } else {
          EXPECT_TRUE(torch::allclose(got[r][b], expected[b], 1e-5, 1e-6))
              << ranks << " ranks, rank " << r << ", buffer " << b << ", max difference "
              << (got[r][b] - expected[b]).abs().max().item<double>();
        }
      }
    }
  }
}

TEST(RunningStatisticsTest, StatisticsReallyChange) {
  // Guards the comparison above against a module whose buffers never move.
  auto module = make_module();
  const auto before = buffers_of(*module);
  const auto after = sequential_statistics();
  EXPECT_FALSE(torch::allclose(before[0], after[0]));
  EXPECT_EQ(after[2].item<int64_t>(), kUpdates * kMicroBatches);
}

TEST(RunningStatisticsTest, CumulativeAverageIsRefused) {
  auto module = torch::nn::Sequential(
      torch::nn::BatchNorm3d(torch::nn::BatchNorm3dOptions(2).momentum(c10::nullopt)));
  EXPECT_THROW(RunningStatistics{*module}, ConfigError);
}

}  // namespace
}  // namespace cdl::train
