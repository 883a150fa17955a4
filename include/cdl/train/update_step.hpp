// UpdateStep: gradient accumulation over micro-batches and the weight update at virtual-batch
// boundaries, with gradients averaged over the ranks. The applied gradient is the mean over the
// whole virtual batch (batch_size * accumulation_steps * world_size samples), so 1 rank with
// accumulation W and W ranks with accumulation 1 train the same model.
#pragma once

#include <torch/optim/optimizer.h>

#include "cdl/train/grad_scaler.hpp"
#include "cdl/train/gradient_sync.hpp"

namespace cdl::train {

/// The accumulation schedule of one epoch on one rank; every rank has the same schedule.
class UpdateStep {
 public:
  /// `samples_per_epoch`: samples this rank sees per epoch (identical on all ranks);
  /// micro-batches hold `batch_size` samples except possibly the last one of the epoch.
  /// `scaler` (optional, float16 autocast) scales the loss and may skip an overflowing step.
  UpdateStep(torch::optim::Optimizer& optimizer, GradientSync& sync, int64_t batch_size,
             int64_t accumulation_steps, int64_t samples_per_epoch, GradScaler* scaler = nullptr);

  /// Micro-batches per epoch.
  int64_t batches_per_epoch() const { return batches_; }

  /// Collective at update boundaries: back-propagates the mean loss of micro-batch `index`
  /// (0-based within the epoch) weighted by its share of its virtual batch; when `index` closes
  /// a virtual batch (every accumulation_steps micro-batches, and the last micro-batch of the
  /// epoch), averages gradients over the ranks, steps the optimizer and zeroes the gradients.
  /// With an enabled scaler, a virtual batch whose averaged gradients are not finite is skipped
  /// (on every rank alike) and the scale backs off. Returns true at update boundaries.
  bool accumulate(const torch::Tensor& mean_loss, int64_t index);

  /// Weight updates performed so far.
  int64_t updates() const { return updates_; }

 private:
  /// Samples of the virtual batch that contains micro-batch `index`, on this rank.
  int64_t virtual_batch_samples(int64_t index) const;
  /// Samples of micro-batch `index` on this rank.
  int64_t micro_batch_samples(int64_t index) const;

  torch::optim::Optimizer& optimizer_;
  GradientSync& sync_;
  GradScaler* scaler_;
  int64_t batch_size_;
  int64_t accumulation_;
  int64_t samples_;
  int64_t batches_;
  int64_t updates_ = 0;
};

}  // namespace cdl::train
