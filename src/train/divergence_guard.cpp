// Implementation of the divergence guard.
#include "cdl/train/divergence_guard.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

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
  if (std::isfinite(value) || diverged()) return;
  std::ostringstream where;
  where << "the loss is " << value << " at epoch " << epoch_ << ", micro-batch " << index_
        << " (rank " << rank_ << ")";
  message_ = where.str();
}

void DivergenceGuard::throw_if(bool anywhere) const {
  if (!anywhere) return;
  CDL_THROW(TrainingError, "the training diverged: ",
            diverged() ? message_ : "another rank of the group saw a loss that is not finite",
            "; training stopped, the best models saved so far are kept.\n  hint: lower "
            "--learning_rate, check the images for NaN or infinite values (caps2h5 validate), or "
            "try without --amp");
}

void DivergenceGuard::check(comm::Communicator& group) {
  flush();
  throw_if(group.any_of(diverged()));
}

}  // namespace cdl::train
