// Implementation of gradient accumulation with rank-averaged updates.
#include "cdl/train/update_step.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "cdl/core/error.hpp"

namespace cdl::train {

UpdateStep::UpdateStep(torch::optim::Optimizer& optimizer, GradientSync& sync,
                       model::GradScaler* scaler, bool exact_sums, ShardedOptimizer* sharded)
    : optimizer_(optimizer),
      sync_(sync),
      scaler_(scaler != nullptr && scaler->enabled() ? scaler : nullptr),
      exact_sums_(exact_sums),
      sharded_(sharded) {}

void UpdateStep::backward(const torch::Tensor& mean_loss, int64_t micro_batch_samples,
                          int64_t virtual_batch_samples, bool last_micro_batch) {
  CDL_CHECK(micro_batch_samples > 0 && virtual_batch_samples >= micro_batch_samples,
            "micro-batch of ", micro_batch_samples, " samples in a virtual batch of ",
            virtual_batch_samples);
  const double share =
      static_cast<double>(micro_batch_samples) / static_cast<double>(virtual_batch_samples);
  const torch::Tensor weighted = mean_loss * share;
  if (last_micro_batch && !exact_sums_) sync_.reduce_during_next_backward(comm::ReduceOp::kSum);
  (scaler_ != nullptr ? scaler_->scale(weighted) : weighted).backward();
  if (exact_sums_) sync_.accumulate_exactly();
}

void UpdateStep::reduce_gradients() {
  if (exact_sums_) {
    sync_.reduce_exact_gradients();
  } else {
    sync_.reduce_gradients(comm::ReduceOp::kSum);
  }
}

void UpdateStep::apply_update() {
  bool finite = true;
  if (scaler_ != nullptr) {
    std::vector<torch::Tensor> parameters;
    for (const auto& group : optimizer_.param_groups()) {
      parameters.insert(parameters.end(), group.params().begin(), group.params().end());
    }
    finite = scaler_->unscale_and_check(parameters);
    scaler_->update(finite);
  }
  if (finite) {
    if (sharded_ != nullptr) {
      sharded_->step();  // collective: every rank takes the same decision
    } else {
      optimizer_.step();
    }
  }
  sync_.zero_gradients();
  ++updates_;
}

}  // namespace cdl::train
