// Implementation of the divergence guard.
#include "cdl/train/divergence_guard.hpp"

#include <torch/torch.h>

#include <cmath>

#include "cdl/core/error.hpp"

namespace cdl::train {

void DivergenceGuard::watch(const torch::Tensor& mean_loss, int64_t epoch, int64_t index) {
  flush();
  pending_ = mean_loss.detach();
  epoch_ = epoch;
  index_ = index;
}

void DivergenceGuard::flush() {
  if (!pending_.defined()) return;
  const double value = pending_.item<double>();
  pending_ = torch::Tensor();
  if (std::isfinite(value)) return;
  CDL_THROW(TrainingError, "the training diverged: the loss is ", value, " at epoch ", epoch_,
            ", micro-batch ", index_, " (rank ", rank_,
            "); training stopped, the best models "
            "saved so far are kept.\n  hint: lower --learning_rate, check the images for NaN or "
            "infinite values (caps2h5 validate), or try without --amp");
}

}  // namespace cdl::train
