// GradientSync: reduces gradients over the ranks of a communicator through a few flat buckets
// (never one reduction per parameter), and gives every rank rank 0's initial weights. The
// gradients live in the buckets (each parameter's .grad is a view of its bucket, as PyTorch DDP's
// gradient_as_bucket_view), so a reduction copies nothing in or out. Armed before the last
// backward pass of a weight update, it starts each bucket's reduction on a background thread as
// soon as backward has accumulated the bucket's last gradient (buckets in order, the order
// backward produces them), so that communication overlaps the rest of backward.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cdl/comm/background_reducer.hpp"
#include "cdl/comm/communicator.hpp"

namespace cdl::train {

/// Flat-bucket gradient averaging for replicated data parallelism.
class GradientSync {
 public:
  /// Buckets the trainable parameters of `module`, in reverse registration order (the order in
  /// which backward produces them), into flat buffers of at most `bucket_bytes` (a larger
  /// parameter gets a bucket of its own), and makes each parameter's gradient a view of its
  /// bucket (existing gradient values are kept). Not collective.
  /// With several ranks and a communicator that reduces_in_background(), also hooks every
  /// parameter's gradient accumulator (reduce_during_next_backward()).
  GradientSync(torch::nn::Module& module, comm::Communicator& comm,
               int64_t bucket_bytes = 25 * 1024 * 1024);
  /// Removes the hooks.
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

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
  /// (missing gradients count as zeros). A no-op with one rank. After
  /// reduce_during_next_backward(), starts the buckets backward left (a parameter without
  /// gradient holds its bucket back) and waits for all; `op` must be the armed one.
  void reduce_gradients(comm::ReduceOp op);

  /// Arms the next backward pass (the last one before reduce_gradients(op)): each bucket is
  /// reduced on a background thread once backward has accumulated all its gradients and every
  /// earlier bucket has started, so all ranks start the same reductions in the same order. Does
  /// nothing (reduce_gradients() then reduces after backward, as unarmed) with one rank or when
  /// the communicator cannot reduce in the background (NCCL; MPI without MPI_THREAD_MULTIPLE).
  /// Not collective.
  void reduce_during_next_backward(comm::ReduceOp op);

  /// Whether reduce_during_next_backward() overlaps (several ranks, a background-capable
  /// communicator, overlap not disabled).
  bool overlaps() const { return reducer_ != nullptr && overlap_enabled_; }
  /// Disables (or enables again) the overlap: every reduction then runs in reduce_gradients().
  void set_overlap(bool enabled) { overlap_enabled_ = enabled; }
  /// Buckets whose reduction has started since the last arming (all of them once
  /// reduce_gradients() returned).
  size_t buckets_started() const { return next_bucket_; }

  /// For --fully_sharded_data_parallel: pads every bucket to a multiple of the ranks (the
  /// gradients stay views of its start) and makes reduce_gradients() reduce-scatter the buckets
  /// when it reduces after backward: each rank then holds the reduction of its own block only
  /// (comm::Communicator::reduce_scatter; the other blocks are zero). Reductions overlapped with
  /// backward and exact sums stay all-reduces (every block reduced), and so do those of a rank
  /// without a micro-batch in an update where the others overlap (its calls must meet
  /// theirs). Not collective.
  void shard_reductions();

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
  /// The trainable parameters of bucket `b`, in the order of its flat gradient buffer.
  const std::vector<torch::Tensor>& bucket_parameters(size_t b) const {
    return buckets_.at(b).parameters;
  }
  /// The flat gradient buffer of bucket `b` (its parameters' gradients are views of it, end to
  /// end, each in its parameter's shape with contiguous strides; after shard_reductions(), zero
  /// padding follows them).
  const torch::Tensor& bucket_gradients(size_t b) const { return buckets_.at(b).flat; }
  /// Total bytes reduced per weight update.
  int64_t bytes_per_update() const;
  /// Wall-clock seconds this thread spent in reduce_gradients() since construction: the
  /// communication that backward did not hide (all of it without overlap).
  double seconds() const { return seconds_; }
  /// Wall-clock seconds spent inside gradient all-reduce calls, on either thread.
  double reduction_seconds() const;

 private:
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    torch::Tensor flat;                // the gradients of `parameters`, end to end
    std::vector<torch::Tensor> views;  // views of `flat` shaped like the parameters: their .grad
    torch::Tensor exact;  // float64 sums of accumulate_exactly(), allocated on first use
  };

  struct Hook;  // a parameter's gradient accumulator and our hook's key (gradient_sync.cpp)
  class ReadyHook;

  /// Makes every parameter's gradient its bucket view again, keeping its values.
  static void attach_views(Bucket& bucket);
  /// Hooks every parameter's gradient accumulator: gradient_accumulated(its bucket).
  void install_hooks();
  /// Called by the hooks: one more gradient of `bucket` is complete.
  void gradient_accumulated(size_t bucket);
  /// Starts, in order, the buckets from next_bucket_ on that have all their gradients.
  void start_ready_buckets();

  comm::Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::unique_ptr<comm::BackgroundReducer> reducer_;  // when overlapping is possible
  std::vector<Hook> hooks_;
  bool overlap_enabled_ = true;
  bool reduce_scatter_ = false;  // shard_reductions()
  bool armed_ = false;
  comm::ReduceOp armed_op_ = comm::ReduceOp::kSum;
  std::vector<int64_t> missing_;  // per bucket: gradients backward has still to accumulate
  size_t next_bucket_ = 0;        // first bucket not started
  double seconds_ = 0.0;
  double synchronous_reduction_seconds_ = 0.0;
};

}  // namespace cdl::train
