// Implementation of dynamic loss scaling.
#include "cdl/model/grad_scaler.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"

namespace cdl::model {

GradScaler::GradScaler(bool enabled, double initial_scale, double growth_factor,
                       double backoff_factor, int64_t growth_interval)
    : enabled_(enabled),
      scale_(initial_scale),
      growth_factor_(growth_factor),
      backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {
  CDL_CHECK(initial_scale > 0 && growth_factor > 1 && backoff_factor > 0 && backoff_factor < 1 &&
                growth_interval > 0,
            "GradScaler: scale > 0, growth > 1, 0 < backoff < 1 and interval > 0 expected");
}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool GradScaler::unscale_and_check(const std::vector<torch::Tensor>& parameters) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> finite_flags;
  for (const auto& p : parameters) {
    auto grad = p.grad();
    if (!grad.defined()) continue;
    if (enabled_) grad.mul_(1.0 / scale_);
    finite_flags.push_back(torch::isfinite(grad).all());
  }
  if (finite_flags.empty()) return true;
  return torch::stack(finite_flags).all().item<bool>();  // one synchronisation per step
}

void GradScaler::update(bool finite) {
  if (!finite) ++skipped_;
  if (!enabled_) return;
  if (!finite) {
    scale_ *= backoff_factor_;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ == growth_interval_) {
    scale_ *= growth_factor_;
    growth_tracker_ = 0;
  }
}

void GradScaler::restore(double scale, int64_t growth_tracker) {
  CDL_CHECK(scale > 0 && growth_tracker >= 0, "GradScaler: bad checkpointed state (scale ", scale,
            ", growth tracker ", growth_tracker, ")");
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

}  // namespace cdl::model
