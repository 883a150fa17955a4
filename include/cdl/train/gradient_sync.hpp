// GradientSync: reduces gradients over the ranks of a communicator through a few flat buckets
// (never one reduction per parameter), and gives every rank rank 0's initial weights. The
// gradients live in the buckets (each parameter's .grad is a view of its bucket, as PyTorch DDP's
// gradient_as_bucket_view), so a reduction copies nothing in or out.
#pragma once

#include <torch/nn/module.h>

#include <vector>

#include "cdl/comm/communicator.hpp"

namespace cdl::train {

/// Flat-bucket gradient averaging for replicated data parallelism.
class GradientSync {
 public:
  /// Buckets the trainable parameters of `module`, in reverse registration order (the order in
  /// which backward produces them), into flat buffers of at most `bucket_bytes` (a larger
  /// parameter gets a bucket of its own), and makes each parameter's gradient a view of its
  /// bucket (existing gradient values are kept). Not collective.
  GradientSync(torch::nn::Module& module, comm::Communicator& comm,
               int64_t bucket_bytes = 25 * 1024 * 1024);

  /// Collective: copies rank 0's parameters and buffers (BatchNorm statistics) to every rank, one
  /// flat broadcast per dtype.
  void broadcast_state(torch::nn::Module& module);

  /// Collective: replaces every floating-point buffer of `module` (BatchNorm running statistics)
  /// by its mean over the ranks, so that every rank evaluates with the same statistics. Integer
  /// buffers (num_batches_tracked) are identical on all ranks already.
  void average_buffers(torch::nn::Module& module);

  /// Collective: replaces every gradient by its mean over the ranks (missing gradients count as
  /// zeros). A no-op with one rank.
  void average_gradients() { reduce_gradients(comm::ReduceOp::kAvg); }

  /// Collective: replaces every gradient by its reduction `op` (kSum or kAvg) over the ranks
  /// (missing gradients count as zeros). A no-op with one rank.
  void reduce_gradients(comm::ReduceOp op);

  /// Sets every gradient to zero in place (the bucket views stay the gradients; use this, not the
  /// optimizer's zero_grad, which may replace them by undefined tensors).
  void zero_gradients();

  /// Adds the current gradients into float64 sums (one per bucket) and zeroes them. Used by
  /// --deterministic runs: a sum in float64 hardly depends on how the terms are grouped, so the
  /// result no longer depends on which rank ran which micro-batch (float32 sums differ in the
  /// last bits, which Adam turns into visible differences for near-zero gradients).
  void accumulate_exactly();

  /// Collective: sums the float64 sums of accumulate_exactly() over the ranks, writes them into
  /// the gradients (rounded once to the parameters' type) and clears them.
  void reduce_exact_gradients();

  /// Number of flat buckets (reductions per weight update).
  size_t bucket_count() const { return buckets_.size(); }
  /// Total bytes reduced per weight update.
  int64_t bytes_per_update() const;
  /// Wall-clock seconds spent in reduce_gradients() since construction.
  double seconds() const { return seconds_; }

 private:
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    torch::Tensor flat;                // the gradients of `parameters`, end to end
    std::vector<torch::Tensor> views;  // views of `flat` shaped like the parameters: their .grad
    torch::Tensor exact;  // float64 sums of accumulate_exactly(), allocated on first use
  };

  /// Makes every parameter's gradient its bucket view again, keeping its values.
  static void attach_views(Bucket& bucket);

  comm::Communicator& comm_;
  std::vector<Bucket> buckets_;
  double seconds_ = 0.0;
};

}  // namespace cdl::train
