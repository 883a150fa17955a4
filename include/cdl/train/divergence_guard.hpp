// DivergenceGuard: stops a training at its first non-finite loss, naming where it happened,
// instead of letting NaN weights run on until a later step fails in an unrelated way. The ranks
// of a group stop together, at the same step, so that a diverged training ends cleanly on its
// own (random search goes on with its other runs) instead of leaving ranks in a collective.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "cdl/comm/communicator.hpp"

namespace cdl::train {

/// Watches the mean loss of every micro-batch. A loss is read one micro-batch late, so a GPU is
/// never made to wait for the value (by then it has been computed); a non-finite one is
/// remembered, and the group learns of it at its next collective check.
class DivergenceGuard {
 public:
  explicit DivergenceGuard(int rank) : rank_(rank) {}

  /// Remembers the loss of micro-batch `index` of `epoch` and checks the one watched before.
  void watch(const torch::Tensor& mean_loss, int64_t epoch, int64_t index);

  /// Checks the last watched loss now (waits for it).
  void flush();

  /// True when this rank has seen a non-finite loss.
  bool diverged() const { return !message_.empty(); }

  /// Throws TrainingError (exit status 3) when `anywhere` (some rank of the group diverged, as
  /// the caller learnt collectively); the message names the step where this rank saw it.
  void throw_if(bool anywhere) const;

  /// Collective over `group`: flush(), then throws TrainingError on every rank when any rank of
  /// the group has diverged.
  void check(comm::Communicator& group);

 private:
  int rank_;
  torch::Tensor pending_;
  int64_t epoch_ = 0;
  int64_t index_ = 0;
  std::string message_;  // where this rank first saw a non-finite loss
};

}  // namespace cdl::train
