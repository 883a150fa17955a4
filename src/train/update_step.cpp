// Implementation of gradient accumulation with rank-averaged updates.
#include "cdl/train/update_step.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "cdl/core/error.hpp"

namespace cdl::train {

UpdateStep::UpdateStep(torch::optim::Optimizer& optimizer, GradientSync& sync, int64_t batch_size,
                       int64_t accumulation_steps, int64_t samples_per_epoch, GradScaler* scaler)
    : optimizer_(optimizer),
      sync_(sync),
      scaler_(scaler != nullptr && scaler->enabled() ? scaler : nullptr),
      batch_size_(batch_size),
      accumulation_(accumulation_steps),
      samples_(samples_per_epoch),
      batches_((samples_per_epoch + batch_size - 1) / batch_size) {
  CDL_CHECK(batch_size > 0 && accumulation_steps > 0 && samples_per_epoch > 0,
            "UpdateStep needs positive batch size, accumulation and sample count");
}

int64_t UpdateStep::micro_batch_samples(int64_t index) const {
  return std::min(samples_, (index + 1) * batch_size_) - index * batch_size_;
}

int64_t UpdateStep::virtual_batch_samples(int64_t index) const {
  const int64_t group = index / accumulation_;
  const int64_t span = accumulation_ * batch_size_;
  return std::min(samples_, (group + 1) * span) - group * span;
}

bool UpdateStep::accumulate(const torch::Tensor& mean_loss, int64_t index) {
  CDL_CHECK(index >= 0 && index < batches_, "micro-batch ", index, " outside the epoch");
  const double share = static_cast<double>(micro_batch_samples(index)) /
                       static_cast<double>(virtual_batch_samples(index));
  const torch::Tensor weighted = mean_loss * share;
  (scaler_ != nullptr ? scaler_->scale(weighted) : weighted).backward();
  const bool boundary = (index + 1) % accumulation_ == 0 || index + 1 == batches_;
  if (!boundary) return false;
  sync_.average_gradients();
  bool finite = true;
  if (scaler_ != nullptr) {
    std::vector<torch::Tensor> parameters;
    for (const auto& group : optimizer_.param_groups()) {
      parameters.insert(parameters.end(), group.params().begin(), group.params().end());
    }
    finite = scaler_->unscale_and_check(parameters);
    scaler_->update(finite);
  }
  if (finite) optimizer_.step();
  optimizer_.zero_grad();
  ++updates_;
  return true;
}

}  // namespace cdl::train
