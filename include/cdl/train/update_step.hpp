// UpdateStep: gradient accumulation over micro-batches and the weight update at virtual-batch
// boundaries, with gradients summed over the ranks. The applied gradient is the mean over the
// whole virtual batch (data/shard_plan.hpp defines it independently of the rank count), so
// 1 rank with accumulation W and W ranks with accumulation 1 train the same model.
#pragma once

#include <torch/optim/optimizer.h>

#include "cdl/model/grad_scaler.hpp"
#include "cdl/train/gradient_sync.hpp"
#include "cdl/train/sharded_optimizer.hpp"

namespace cdl::train {

/// Gradient accumulation and weight updates. Each micro-batch's mean loss is back-propagated
/// weighted by its share of the update's virtual batch (all ranks together), so the sum of the
/// ranks' accumulated gradients is the mean gradient over the virtual batch whatever the number
/// of ranks and micro-batches per rank.
class UpdateStep {
 public:
  /// `scaler` (optional, float16 autocast) scales the loss and may skip an overflowing step.
  /// With `exact_sums` (--deterministic), gradients are summed in float64
  /// (GradientSync::accumulate_exactly), so that results hardly depend on the rank count. With
  /// `sharded` (--fully_sharded_data_parallel), it steps instead of `optimizer`, whose parameter
  /// list still serves the scaler.
  UpdateStep(torch::optim::Optimizer& optimizer, GradientSync& sync,
             model::GradScaler* scaler = nullptr, bool exact_sums = false,
             ShardedOptimizer* sharded = nullptr);

  /// Back-propagates `mean_loss`, the mean loss of a micro-batch of `micro_batch_samples`
  /// samples, weighted by micro_batch_samples / virtual_batch_samples, where
  /// `virtual_batch_samples` counts the samples of the current update over all ranks. On the
  /// update's `last_micro_batch` of this rank, the gradient buckets are reduced while backward
  /// runs (GradientSync::reduce_during_next_backward), except with exact sums.
  void backward(const torch::Tensor& mean_loss, int64_t micro_batch_samples,
                int64_t virtual_batch_samples, bool last_micro_batch = false);

  /// Collective: sums the accumulated gradients over the ranks (a rank that ran no micro-batch
  /// contributes zeros), steps the optimizer and zeroes the gradients. With an enabled scaler, an
  /// update whose gradients are not finite is skipped (on every rank alike) and the scale backs
  /// off.
  void finish_update() {
    reduce_gradients();
    apply_update();
  }

  /// Collective: the first half of finish_update(), the sum of the gradients over the ranks.
  void reduce_gradients();
  /// The second half of finish_update(): unscaling and checks, the optimizer step, zeroed
  /// gradients (the same decision on every rank, from the reduced gradients).
  void apply_update();

  /// Weight updates performed so far (skipped ones included).
  int64_t updates() const { return updates_; }

 private:
  torch::optim::Optimizer& optimizer_;
  GradientSync& sync_;
  model::GradScaler* scaler_;
  bool exact_sums_;
  ShardedOptimizer* sharded_;
  int64_t updates_ = 0;
};

}  // namespace cdl::train
