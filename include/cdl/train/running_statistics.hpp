// RunningStatistics: BatchNorm running statistics that do not depend on how the micro-batches of
// a weight update are shared by the ranks. Alone, a BatchNorm layer updates its running mean and
// variance once per micro-batch, r <- (1 - m) r + m x_t; spread over ranks, each rank would see
// only its micro-batches. After the K micro-batches t = 0..K-1 of an update the sequential result
// is r_K = (1 - m)^K r_0 + sum_t m (1 - m)^(K-1-t) x_t: each rank adds the terms of the
// micro-batches it ran, one all-reduce sums them, and every rank ends with the 1-rank value.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <vector>

#include "cdl/comm/communicator.hpp"

namespace cdl::train {

/// Tracks the BatchNorm layers (1-d, 2-d and 3-d, with running statistics and a momentum) of a
/// module across one weight update at a time.
class RunningStatistics {
 public:
  /// Finds the layers of `module`. Throws ConfigError for a layer with a cumulative (momentum
  /// None) average, which this scheme does not reproduce. Not collective.
  explicit RunningStatistics(torch::nn::Module& module);

  /// True when the module has no tracked BatchNorm layer.
  bool empty() const { return layers_.empty(); }

  /// Remembers the statistics r_0 at the start of an update and clears the sums.
  void begin_update();
  /// Before the forward pass of a micro-batch: zeroes the running statistics so that the pass
  /// leaves m x_t in them.
  void before_micro_batch();
  /// After that forward pass: adds (1 - m)^(count-1-position) m x_t to the sums, where
  /// `position` is the micro-batch's place among the `count` micro-batches of the update (all
  /// ranks together).
  void after_micro_batch(int64_t position, int64_t count);
  /// Collective over `comm`: sums the terms of all ranks and sets every layer's statistics to
  /// (1 - m)^count r_0 + sum, and its batch counter to the one of a sequential run.
  void finish_update(comm::Communicator& comm, int64_t count);

 private:
  struct Layer {
    torch::Tensor mean, var, tracked;  // the layer's buffers
    double momentum = 0.1;
    torch::Tensor start_mean, start_var, sum_mean, sum_var;
    torch::Tensor start_tracked;  // on the buffers' device: no host sync per update
  };
  std::vector<Layer> layers_;
};

}  // namespace cdl::train
