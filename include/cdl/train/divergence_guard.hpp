// DivergenceGuard: stops a training at its first non-finite loss, naming where it happened,
// instead of letting NaN weights run on until a later step fails in an unrelated way.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace cdl::train {

/// Watches the mean loss of every micro-batch. The check runs one micro-batch late, so a GPU is
/// never made to wait for the value (by then it has been computed). Not collective: a NaN on one
/// rank reaches every rank's weights through the gradient average, and the first rank that sees
/// it throws, which ends the whole job (MPI_Abort).
class DivergenceGuard {
 public:
  explicit DivergenceGuard(int rank) : rank_(rank) {}

  /// Remembers the loss of micro-batch `index` of `epoch` and checks the one watched before.
  /// Throws TrainingError (exit status 3) on a NaN or infinite loss.
  void watch(const torch::Tensor& mean_loss, int64_t epoch, int64_t index);

  /// Checks the last watched loss (call at the end of each epoch).
  void flush();

 private:
  int rank_;
  torch::Tensor pending_;
  int64_t epoch_ = 0;
  int64_t index_ = 0;
};

}  // namespace cdl::train
