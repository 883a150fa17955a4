// ShardedOptimizer (--fully_sharded_data_parallel): on 1, 2 and 3 ranks (threads of this
// process), Adam and AdamW stepped on shards of the reduced gradients give the weights of one
// replicated optimizer; each rank keeps about 1/ranks of the state; the gathered state equals the
// replicated optimizer's, and a run that takes its shard back from it continues identically.
#include "cdl/train/sharded_optimizer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <mutex>
#include <sstream>
#include <vector>

#include "thread_group.hpp"

namespace cdl::train {
namespace {

constexpr int kSteps = 4;

/// Weights fixed by formula (no global generator: the ranks are threads).
torch::nn::Sequential make_module() {
  torch::nn::Sequential module(torch::nn::Linear(5, 7), torch::nn::ReLU(), torch::nn::Linear(7, 3));
  torch::NoGradGuard no_grad;
  int64_t k = 0;
  for (auto& p : module->parameters()) {
    p.copy_(torch::sin(torch::arange(p.numel(), torch::kFloat) + static_cast<double>(k))
                .view(p.sizes()));
    k += p.numel();
  }
  return module;
}

/// Rank `rank`'s gradient of parameter `index` at step `step` (they differ per rank and step).
torch::Tensor gradient(int step, int rank, size_t index, const torch::Tensor& like) {
  return torch::cos(torch::arange(like.numel(), torch::kFloat) * (0.3 + 0.1 * rank) +
                    static_cast<double>(step * 7 + index))
             .view(like.sizes()) *
         (1.0 + step);
}

std::unique_ptr<torch::optim::Optimizer> make_full(ShardedKind kind,
                                                   const std::vector<torch::Tensor>& params) {
  if (kind == ShardedKind::kAdamW) {
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(0.01).weight_decay(0.1));
  }
  return std::make_unique<torch::optim::Adam>(params,
                                              torch::optim::AdamOptions(0.01).weight_decay(0.1));
}

/// The replicated reference: one module, the sum of every rank's gradients, `steps` steps.
torch::nn::Sequential reference(ShardedKind kind, int ranks, int steps,
                                std::unique_ptr<torch::optim::Optimizer>* keep = nullptr) {
  auto module = make_module();
  auto params = module->parameters();
  auto optimizer = make_full(kind, params);
  for (int step = 0; step < steps; ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      auto sum = torch::zeros_like(params[i]);
      for (int r = 0; r < ranks; ++r) sum += gradient(step, r, i, params[i]);
      params[i].mutable_grad() = sum;
    }
    optimizer->step();
  }
  if (keep != nullptr) *keep = std::move(optimizer);
  return module;
}

void expect_same_weights(const torch::nn::Sequential& a, const torch::nn::Sequential& b) {
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_LE((pa[i] - pb[i]).abs().max().item<double>(), 1e-6) << "parameter " << i;
  }
}

/// Runs `steps` sharded steps on this rank (gradient buckets of 64 bytes: several buckets).
void sharded_steps(ShardedOptimizer& sharded, GradientSync& sync, torch::nn::Sequential& module,
                   comm::Communicator& comm, int first, int steps) {
  auto params = module->parameters();
  for (int step = first; step < first + steps; ++step) {
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        params[i].mutable_grad().copy_(gradient(step, comm.rank(), i, params[i]));
      }
    }
    sync.reduce_gradients(comm::ReduceOp::kSum);
    sharded.step();
    sync.zero_gradients();
  }
}

class ShardedOptimizerTest : public ::testing::TestWithParam<std::tuple<int, ShardedKind>> {};

TEST_P(ShardedOptimizerTest, SameWeightsAsReplicatedAndAShareOfTheState) {
  const auto [ranks, kind] = GetParam();
  const auto expected = reference(kind, ranks, kSteps);
  std::mutex counted;
  int64_t total = 0;
  testing::run_thread_group(ranks, [&, kind = kind](comm::Communicator& comm) {
    auto module = make_module();
    GradientSync sync(*module, comm, 64);
    ShardedOptimizer sharded(sync, comm, kind, 0.01, 0.1);
    sharded_steps(sharded, sync, module, comm, 0, kSteps);
    expect_same_weights(module, expected);
    const int64_t replicated = sharded.replicated_state_values();
    EXPECT_EQ(replicated, 2 * (5 * 7 + 7 + 7 * 3 + 3));
    // Each bucket's share is rounded up: at most one value per bucket and moment above 1/ranks;
    // the shares add up to the replicated state.
    EXPECT_LE(sharded.state_values(),
              replicated / ranks + 2 * static_cast<int64_t>(sync.bucket_count()));
    const std::lock_guard<std::mutex> lock(counted);
    total += sharded.state_values();
  });
  EXPECT_EQ(total, 2 * (5 * 7 + 7 + 7 * 3 + 3));
}

/// Moves `from`'s state into `to` (over other tensors of the same shapes) as the training-state
/// file does: save to an archive, load from it.
void transfer_state(torch::optim::Optimizer& from, torch::optim::Optimizer& to) {
  std::ostringstream bytes;
  torch::serialize::OutputArchive out;
  from.save(out);
  out.save_to(bytes);
  std::istringstream in_bytes(bytes.str());
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  to.load(in);
}

/// A module holding `source`'s weights.
torch::nn::Sequential copy_of(const torch::nn::Sequential& source) {
  auto module = make_module();
  torch::NoGradGuard no_grad;
  const auto from = source->parameters();
  auto to = module->parameters();
  for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  return module;
}

/// Steps `first`..kSteps-1 of the replicated run on `module` with `optimizer`.
void replicated_steps(torch::nn::Sequential& module, torch::optim::Optimizer& optimizer, int ranks,
                      int first) {
  auto params = module->parameters();
  for (int step = first; step < kSteps; ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      auto sum = torch::zeros_like(params[i]);
      for (int r = 0; r < ranks; ++r) sum += gradient(step, r, i, params[i]);
      params[i].mutable_grad() = sum;
    }
    optimizer.step();
  }
}

// After 2 of 4 steps: the state gathered on the main rank continues a replicated run to the
// weights of the uninterrupted one; and a sharded run that takes its shards from the replicated
// optimizer's state, after its parameters were loaded into storage of their own (as a resumed
// run does), continues to them too.
TEST_P(ShardedOptimizerTest, GatheredStateContinuesAndAResumedRunTakesItsShard) {
  const auto [ranks, kind] = GetParam();
  std::unique_ptr<torch::optim::Optimizer> replicated;
  const auto halfway = reference(kind, ranks, 2, &replicated);
  const auto expected = reference(kind, ranks, kSteps);
  std::mutex main_only;
  testing::run_thread_group(ranks, [&, kind = kind](comm::Communicator& comm) {
    auto module = make_module();
    GradientSync sync(*module, comm, 64);
    ShardedOptimizer sharded(sync, comm, kind, 0.01, 0.1);
    sharded_steps(sharded, sync, module, comm, 0, 2);
    auto full = make_full(kind, module->parameters());
    sharded.gather_state(*full);
    if (comm.is_main()) {
      const std::lock_guard<std::mutex> lock(main_only);
      EXPECT_EQ(full->state().size(), module->parameters().size());
      auto continued = copy_of(module);
      auto optimizer = make_full(kind, continued->parameters());
      transfer_state(*full, *optimizer);
      replicated_steps(continued, *optimizer, ranks, 2);
      expect_same_weights(continued, expected);
    }
    auto resumed = copy_of(halfway);
    GradientSync resumed_sync(*resumed, comm, 64);
    ShardedOptimizer continued(resumed_sync, comm, kind, 0.01, 0.1);
    {
      // Loading a training state gives the parameters storage of their own (torch::load does).
      torch::NoGradGuard no_grad;
      for (auto& p : resumed->parameters()) p.set_data(p.detach().clone());
    }
    continued.rebind_parameters();
    auto restored = make_full(kind, resumed->parameters());
    transfer_state(*replicated, *restored);
    continued.take_state(*restored);
    EXPECT_TRUE(restored->state().empty());  // only the shard stays in memory
    EXPECT_GT(continued.state_values(), 0);
    sharded_steps(continued, resumed_sync, resumed, comm, 2, kSteps - 2);
    expect_same_weights(resumed, expected);
  });
}

INSTANTIATE_TEST_SUITE_P(RanksAndKinds, ShardedOptimizerTest,
                         ::testing::Combine(::testing::Values(1, 2, 3),
                                            ::testing::Values(ShardedKind::kAdam,
                                                              ShardedKind::kAdamW)));

}  // namespace
}  // namespace cdl::train
