// ShardedOptimizer: --fully_sharded_data_parallel. The optimizer state (Adam's and AdamW's two
// moments, 8 bytes per weight) is split over the data-parallel ranks instead of replicated:
// rank r of P keeps the state of one contiguous P-th of every gradient bucket. After the
// gradients are reduced (GradientSync), each rank steps its optimizer on its shard only, and the
// updated shards are all-gathered into the parameters, which are views of flat buffers laid out
// as the gradient buckets. Each weight's update depends only on its own gradient and state, so
// the weights equal those of the replicated optimizer (up to float rounding). For the files that
// hold the optimizer state (training state, optimizer.pth.tar), the full state is gathered into
// an ordinary optimizer on the main rank, and a resumed run takes its shard back from it.
#pragma once

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/train/gradient_sync.hpp"

namespace cdl::train {

/// Which optimizer is sharded: Adam or AdamW (decoupled weight decay).
enum class ShardedKind { kAdam, kAdamW };

class ShardedOptimizer {
 public:
  /// Shards the trainable parameters of `sync`'s buckets over the ranks of `comm` (the gradient
  /// communicator). The parameters become views of flat buffers (their values kept); every rank
  /// must hold the same values (after GradientSync::broadcast_state). With `reduce_scatter`,
  /// `sync` reduce-scatters the buckets it reduces after backward (GradientSync::
  /// shard_reductions): pass false when something reads every reduced gradient (a loss scaler's
  /// overflow check). Not collective.
  ShardedOptimizer(GradientSync& sync, comm::Communicator& comm, ShardedKind kind,
                   double learning_rate, double weight_decay, bool reduce_scatter = true);
  ~ShardedOptimizer();
  ShardedOptimizer(const ShardedOptimizer&) = delete;
  ShardedOptimizer& operator=(const ShardedOptimizer&) = delete;

  /// Collective: steps the optimizer on this rank's shard of the reduced gradients, then
  /// all-gathers the updated shards into the parameters.
  void step();

  /// After something replaced the parameters' storage (loading a training state into the module
  /// does): takes their values into the flat buffers and makes them views of these again. Every
  /// rank must hold the same values. Not collective.
  void rebind_parameters();

  /// Sets the learning rate of every parameter group (--adaptive_learning_rate).
  void set_learning_rate(double learning_rate);

  /// Collective: gathers every rank's shard of the state into `full`, an optimizer of the same
  /// kind over the same parameters, on the main rank (which can then save it); other ranks'
  /// `full` is left untouched. Nothing is gathered before the first step.
  void gather_state(torch::optim::Optimizer& full);

  /// Not collective: takes this rank's shard of the state held by `full` (an optimizer of the same
  /// kind over the same parameters, e.g. restored from a training state on every rank), then
  /// clears `full`'s state.
  void take_state(torch::optim::Optimizer& full);

  /// Optimizer state values held by this rank (0 before the first step).
  int64_t state_values() const;
  /// Optimizer state values a replicated optimizer holds on every rank.
  int64_t replicated_state_values() const;

  /// One gradient bucket's share of this rank (sharded_optimizer.cpp).
  struct Shard;

 private:
  std::vector<Shard> shards_;  // one per gradient bucket
  comm::Communicator& comm_;
  ShardedKind kind_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // over the shards
};

}  // namespace cdl::train
