// Data-parallel equivalence: W ranks with accumulation 1 train the same weights as 1 rank with
// accumulation W on the same samples, also when some ranks have no micro-batch in an update;
// initial weights come from rank 0; buckets reduce exactly, also when they are reduced on the
// background thread while backward runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/comm/serial_communicator.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/train/gradient_sync.hpp"
#include "cdl/train/sharded_optimizer.hpp"
#include "cdl/train/update_step.hpp"
#include "mpi_test_support.hpp"

namespace cdl::train {
namespace {

constexpr int64_t kBatch = 2;
constexpr int64_t kUpdates = 3;

model::NetworkPtr small_network(int64_t seed) {
  torch::manual_seed(seed);
  model::NetworkOptions options;
  options.input_size = parse_input_size("1@12x16x12");
  auto network = model::builtin_registry().create("Conv5_FC3", options);
  network->eval();  // BatchNorm on running statistics, dropout off: no batch dependence
  return network;
}

/// Micro-batch `index` of a fixed synthetic data set (same on every rank).
std::pair<torch::Tensor, torch::Tensor> micro_batch(int64_t index) {
  auto generator = at::detail::createCPUGenerator(1000 + index);
  auto x = at::rand({kBatch, 1, 12, 16, 12}, generator);
  auto y = torch::tensor({index % 2, (index + 1) % 2}, torch::kInt64);
  return {x, y};
}

/// Trains `network` for kUpdates updates; this rank feeds micro-batches index*stride + offset.
/// With `sharded`, Adam's state is sharded and the buckets reduce-scattered after backward.
void train(model::Network& network, comm::Communicator& comm, int64_t accumulation, int64_t stride,
           int64_t offset, bool sharded = false) {
  torch::optim::Adam optimizer(network.parameters(), torch::optim::AdamOptions(1e-3));
  GradientSync sync(network, comm, /*bucket_bytes=*/64 * 1024);  // several buckets
  sync.broadcast_state(network);
  std::unique_ptr<ShardedOptimizer> shards;
  if (sharded) {
    sync.set_overlap(false);  // reduced after backward: MPI_Reduce_scatter_block
    shards = std::make_unique<ShardedOptimizer>(sync, comm, ShardedKind::kAdam, 1e-3, 0.0);
  }
  UpdateStep step(optimizer, sync, nullptr, false, shards.get());
  const int64_t virtual_batch = kBatch * accumulation * comm.size();
  for (int64_t u = 0; u < kUpdates; ++u) {
    for (int64_t a = 0; a < accumulation; ++a) {
      auto [x, y] = micro_batch((u * accumulation + a) * stride + offset);
      // The last micro-batch reduces its buckets while backward runs (several ranks).
      step.backward(torch::cross_entropy_loss(network.forward(x), y), kBatch, virtual_batch,
                    /*last_micro_batch=*/a + 1 == accumulation);
    }
    step.finish_update();
  }
  EXPECT_EQ(step.updates(), kUpdates);
}

TEST(DataParallelTest, RanksTimesAccumulationOneEqualsOneRankTimesAccumulationW) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  const int rank = world.rank(), size = world.size();
  // Every rank starts from different weights: broadcast_state must make them rank 0's.
  auto distributed = small_network(/*seed=*/rank == 0 ? 7 : 100 + rank);
  train(*distributed, world, /*accumulation=*/1, /*stride=*/size, /*offset=*/rank);

  comm::SerialCommunicator alone;
  auto reference = small_network(7);
  train(*reference, alone, /*accumulation=*/size, /*stride=*/1, /*offset=*/0);

  auto a = distributed->named_parameters();
  auto b = reference->named_parameters();
  for (const auto& p : a) {
    const double difference = (p.value() - b[p.key()]).abs().max().item<double>();
    EXPECT_LT(difference, 1e-5) << p.key();
  }
}

// --fully_sharded_data_parallel through MPI: reduce-scatter of the buckets, Adam on each rank's
// block, all-gather of the weights: the replicated single-rank result.
TEST(DataParallelTest, ShardedAdamOverReduceScatterEqualsOneRank) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  const int rank = world.rank(), size = world.size();
  auto distributed = small_network(/*seed=*/7);
  train(*distributed, world, /*accumulation=*/1, /*stride=*/size, /*offset=*/rank,
        /*sharded=*/true);
  comm::SerialCommunicator alone;
  auto reference = small_network(7);
  train(*reference, alone, /*accumulation=*/size, /*stride=*/1, /*offset=*/0);
  auto b = reference->named_parameters();
  for (const auto& p : distributed->named_parameters()) {
    EXPECT_LT((p.value() - b[p.key()]).abs().max().item<double>(), 1e-5) << p.key();
  }
}

TEST(DataParallelTest, AveragedGradientsAreTheMeanOfRankValues) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  torch::nn::Linear layer(3, 2);
  GradientSync sync(*layer, world, /*bucket_bytes=*/8);  // one bucket per tensor at least
  for (auto& p : layer->parameters()) p.mutable_grad() = torch::full_like(p, world.rank() + 1.0);
  sync.average_gradients();
  const double mean = (world.size() + 1) / 2.0;
  for (auto& p : layer->parameters())
    EXPECT_TRUE(torch::allclose(p.grad(), torch::full_like(p, mean)));
  EXPECT_GE(sync.bucket_count(), 2u);
  EXPECT_EQ(sync.bytes_per_update(), (3 * 2 + 2) * 4);
}

TEST(DataParallelTest, GradientsAreViewsOfTheBucketsAndReduceInPlace) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  torch::manual_seed(1);
  torch::nn::Linear layer(3, 2);
  GradientSync sync(*layer, world);
  const void* bucket = layer->weight.grad().data_ptr();
  const auto x = torch::full({4, 3}, world.rank() + 1.0);
  layer->forward(x).sum().backward();
  EXPECT_EQ(layer->weight.grad().data_ptr(), bucket) << "backward accumulates into the bucket";
  sync.reduce_gradients(comm::ReduceOp::kSum);
  EXPECT_EQ(layer->weight.grad().data_ptr(), bucket) << "the reduction happens in place";
  // d(sum)/dW = 4 x (rank + 1) per entry, summed over ranks: 4 x W (W + 1) / 2.
  const double expected = 4.0 * world.size() * (world.size() + 1) / 2.0;
  EXPECT_TRUE(torch::allclose(layer->weight.grad(), torch::full({2, 3}, expected)));
  layer->weight.mutable_grad() = torch::Tensor();  // what zero_grad(set_to_none) does
  sync.zero_gradients();
  EXPECT_EQ(layer->weight.grad().data_ptr(), bucket) << "the view is the gradient again";
  EXPECT_EQ(layer->weight.grad().abs().sum().item<double>(), 0.0);
}

TEST(DataParallelTest, ARankWithoutMicroBatchStillGivesTheVirtualBatchMean) {
  // A short last update of 2 micro-batches (3 samples): rank r runs micro-batch m when
  // m mod W = r (at 3 ranks, rank 2 runs none); one rank alone runs both. Same weights.
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  const std::vector<int64_t> sizes{2, 1};
  const auto run = [&](comm::Communicator& comm, bool alone) {
    auto network = small_network(3);
    torch::optim::SGD optimizer(network->parameters(), torch::optim::SGDOptions(0.1));
    GradientSync sync(*network, comm);
    sync.broadcast_state(*network);
    UpdateStep step(optimizer, sync);
    for (int64_t m = 0; m < 2; ++m) {
      if (!alone && m % comm.size() != comm.rank()) continue;
      auto [x, y] = micro_batch(m);
      x = x.narrow(0, 0, sizes[m]);
      y = y.narrow(0, 0, sizes[m]);
      step.backward(torch::cross_entropy_loss(network->forward(x), y), sizes[m], 3);
    }
    step.finish_update();
    return network->named_parameters()["fc.6.weight"].clone();
  };
  const auto shared = run(world, false);
  comm::SerialCommunicator alone;
  const auto reference = run(alone, true);
  EXPECT_LT((shared - reference).abs().max().item<double>(), 1e-6);
  auto from_main = shared.clone();  // every rank holds identical weights after the reduction
  world.broadcast(from_main, 0);
  EXPECT_TRUE(torch::equal(shared, from_main));
}

}  // namespace
}  // namespace cdl::train

namespace cdl::train {
namespace {

TEST(DataParallelTest, BatchNormStatisticsAreAveragedAcrossRanks) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  torch::nn::BatchNorm1d norm(2);
  GradientSync sync(*norm, world);
  norm->running_mean.fill_(static_cast<double>(world.rank()));
  norm->running_var.fill_(2.0 * world.rank());
  norm->num_batches_tracked.fill_(5);
  sync.average_buffers(*norm);
  const double mean_rank = (world.size() - 1) / 2.0;
  EXPECT_TRUE(torch::allclose(norm->running_mean, torch::full({2}, mean_rank)));
  EXPECT_TRUE(torch::allclose(norm->running_var, torch::full({2}, 2.0 * mean_rank)));
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 5);
}

/// Two stacked linear layers; `b` is registered first and `a` last, so `a`'s parameters form
/// the first buckets (reverse registration order, the order backward produces them).
struct TwoLayers : torch::nn::Module {
  TwoLayers() {
    b = register_module("b", torch::nn::Linear(3, 2));
    a = register_module("a", torch::nn::Linear(4, 3));
  }
  torch::nn::Linear b{nullptr}, a{nullptr};
};

TEST(DataParallelTest, OverlappedBucketsStartDuringBackwardAndEqualTheSynchronousReduction) {
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  const auto gradients = [&](bool overlap) {
    auto network = small_network(5);
    GradientSync sync(*network, world, /*bucket_bytes=*/64 * 1024);
    sync.set_overlap(overlap);
    EXPECT_EQ(sync.overlaps(), overlap && world.size() > 1);
    auto [x, y] = micro_batch(world.rank());
    sync.reduce_during_next_backward(comm::ReduceOp::kSum);
    torch::cross_entropy_loss(network->forward(x), y).backward();
    // Every parameter has its gradient: every bucket started before backward returned.
    EXPECT_EQ(sync.buckets_started(), sync.overlaps() ? sync.bucket_count() : 0u);
    sync.reduce_gradients(comm::ReduceOp::kSum);
    EXPECT_EQ(sync.buckets_started(), sync.overlaps() ? sync.bucket_count() : 0u);
    std::vector<torch::Tensor> result;
    for (const auto& p : network->parameters()) result.push_back(p.grad().clone());
    return result;
  };
  const auto overlapped = gradients(true);
  const auto synchronous = gradients(false);
  ASSERT_EQ(overlapped.size(), synchronous.size());
  for (size_t i = 0; i < overlapped.size(); ++i) {
    EXPECT_TRUE(torch::equal(overlapped[i], synchronous[i])) << "parameter " << i;
  }
}

TEST(DataParallelTest, AParameterWithoutGradientHoldsBackTheLaterBucketsWithoutHanging) {
  // Only layer b is used: the buckets of a (first in order) never complete during backward,
  // so no bucket may start (all ranks start the same reductions in the same order); all are
  // reduced by reduce_gradients, a's as zeros.
  comm::MpiCommunicator world(MPI_COMM_WORLD);
  TwoLayers layers;
  GradientSync sync(layers, world, /*bucket_bytes=*/8);  // one bucket per tensor
  ASSERT_EQ(sync.bucket_count(), 4u);
  sync.reduce_during_next_backward(comm::ReduceOp::kAvg);
  const auto x = torch::full({5, 3}, world.rank() + 1.0);
  layers.b->forward(x).sum().backward();
  EXPECT_EQ(sync.buckets_started(), 0u);
  sync.reduce_gradients(comm::ReduceOp::kAvg);
  EXPECT_EQ(sync.buckets_started(), sync.overlaps() ? 4u : 0u);
  // d(sum)/dW_b = 5 (rank + 1) per entry, averaged over ranks: 5 (W + 1) / 2.
  const double expected = 5.0 * (world.size() + 1) / 2.0;
  EXPECT_TRUE(torch::allclose(layers.b->weight.grad(), torch::full({2, 3}, expected)));
  EXPECT_TRUE(torch::allclose(layers.b->bias.grad(), torch::full({2}, 5.0)));
  EXPECT_EQ(layers.a->weight.grad().abs().sum().item<double>(), 0.0);
  // The next, unarmed step reduces after backward as before.
  sync.zero_gradients();
  layers.b->forward(x).sum().backward();
  sync.reduce_gradients(comm::ReduceOp::kSum);
  const double expected_sum = 5.0 * world.size() * (world.size() + 1) / 2.0;
  EXPECT_TRUE(torch::allclose(layers.b->weight.grad(), torch::full({2, 3}, expected_sum)));
}

}  // namespace
}  // namespace cdl::train
