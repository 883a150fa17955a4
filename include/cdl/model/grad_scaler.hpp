// GradScaler: dynamic loss scaling for float16 autocast. The loss is multiplied by a large scale
// before backward so small float16 gradients do not flush to zero; gradients are divided by it
// before the optimizer step, and a step whose gradients overflowed is skipped and the scale
// halved. After `growth_interval` good steps in a row the scale doubles. bfloat16 needs none of
// this (it has float32's range): a disabled scaler is the identity.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace cdl::model {

/// Loss scaling state (PyTorch's torch.amp.GradScaler semantics and defaults).
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double initial_scale = 65536.0, double growth_factor = 2.0,
                      double backoff_factor = 0.5, int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }

  /// `loss` times the current scale (unchanged when disabled).
  torch::Tensor scale(const torch::Tensor& loss) const;

  /// Divides every defined gradient of `parameters` by the scale (when enabled) and returns true
  /// when all of them are finite. Call after the gradients were averaged over the ranks, so every
  /// rank gets the same answer.
  bool unscale_and_check(const std::vector<torch::Tensor>& parameters) const;

  /// Updates the scale after a step: back off when `finite` is false, grow after
  /// `growth_interval` finite steps in a row.
  void update(bool finite);

  /// Current scale factor and number of finite steps since the last change (checkpointed).
  double scale_value() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  /// Restores a checkpointed state.
  void restore(double scale, int64_t growth_tracker);
  /// Steps skipped because their gradients were not finite.
  int64_t skipped_steps() const { return skipped_; }

 private:
  bool enabled_;
  double scale_;
  double growth_factor_;
  double backoff_factor_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace cdl::model
