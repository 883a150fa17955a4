// BackgroundReducer: in-place all-reduces of one communicator, run one after another on a thread
// of their own while the thread that submitted them goes on computing. GradientSync
// (train/gradient_sync.hpp) hands it each gradient bucket as soon as backward has produced it.
//
// Why a thread and not MPI_Iallreduce: MPI moves the bytes of a non-blocking collective only while
// some thread of the rank is inside an MPI call (Open MPI's coll/libnbc and its rendezvous
// protocol for large messages), and backward makes no MPI calls for seconds at a time. A thread
// that sits in the blocking call progresses the reduction as soon as the peers arrive; Horovod's
// background loop and LBANN's progress engine do the same. It needs MPI_THREAD_MULTIPLE
// (Communicator::reduces_in_background()).
#pragma once

#include <torch/types.h>

#include <memory>

#include "cdl/comm/communicator.hpp"

namespace cdl::comm {

/// A FIFO of all_reduce calls executed by one background thread.
class BackgroundReducer {
 public:
  /// `comm` must say reduces_in_background() and outlive this object. The thread starts here.
  explicit BackgroundReducer(Communicator& comm);
  /// Stops and joins the thread when nothing is queued. With reductions still queued or running
  /// (this rank threw between submit() and wait(), and the job is about to be aborted), the
  /// thread is detached instead, so that the error path never waits for peers that may never
  /// come.
  ~BackgroundReducer();
  BackgroundReducer(const BackgroundReducer&) = delete;
  BackgroundReducer& operator=(const BackgroundReducer&) = delete;

  /// Collective (all ranks submit the same tensors' shapes in the same order; the calls meet on
  /// the background threads): queues an in-place all_reduce of `tensor` (contiguous, on the host)
  /// with `op` (kSum, kMax or kMin: kAvg would divide on the background thread, which must run no
  /// tensor operations) and returns at once. The caller leaves `tensor` alone until wait().
  void submit(const torch::Tensor& tensor, ReduceOp op);

  /// Returns when every submitted reduction has finished; rethrows the first error met on the
  /// thread (the reductions queued after it are skipped).
  void wait();

  /// Reductions submitted and not yet finished.
  int64_t pending() const;

  /// Wall-clock seconds the thread spent inside all_reduce since construction.
  double busy_seconds() const;

 private:
  struct State;
  static void run(const std::shared_ptr<State>& state, Communicator& comm);

  std::shared_ptr<State> state_;  // shared with the thread (which may outlive this object)
};

}  // namespace cdl::comm
