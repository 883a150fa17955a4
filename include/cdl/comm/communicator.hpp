// The Communicator interface: one API for the serial, MPI and NCCL back ends.
// MPI always carries control traffic; gradients may go through NCCL on CUDA tensors.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace cdl::comm {

/// Which library moves the bytes.
enum class Backend { kSerial, kMpi, kNccl };

/// Element-wise reduction of all_reduce.
enum class ReduceOp { kSum, kAvg, kMax, kMin };

/// Returns "serial", "mpi" or "nccl".
std::string backend_name(Backend backend);

/// A group of ranks that exchange tensors. Non-copyable; every collective is blocking and must
/// be called by all ranks of the group in the same order with tensors of the same shape and dtype.
class Communicator {
 public:
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  virtual ~Communicator() = default;

  /// The back end of this communicator.
  virtual Backend backend() const = 0;
  /// Rank of this process in the group (0-based).
  virtual int rank() const = 0;
  /// Number of ranks in the group.
  virtual int size() const = 0;
  /// True on rank 0, the rank that evaluates, decides and writes.
  bool is_main() const { return rank() == 0; }

  /// Collective: reduces `tensor` (contiguous) element-wise over all ranks, in place.
  /// kAvg divides the sum by size() (floating-point tensors only).
  virtual void all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;

  /// Collective: copies `tensor` of rank `root` into `tensor` of every rank, in place.
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;

  /// Collective: concatenates along dim 0 the `local` tensors of all ranks, in rank order, on
  /// `root`; ranks may hold different row counts (even zero). Other ranks get an undefined
  /// tensor. All ranks must pass the same dtype and the same trailing shape.
  virtual torch::Tensor gather_rows(const torch::Tensor& local, int root) = 0;

  /// Collective: the `local` tensors of all ranks (contiguous, the same numel, dtype and device
  /// on every rank) end to end in rank order in `gathered` (contiguous, size() x local.numel()
  /// elements), on every rank. `local` may be this rank's block of `gathered` itself (in place).
  /// The default goes through all_reduce of a zero-filled buffer (exact: each element is one
  /// rank's value plus zeros); MPI overrides it with MPI_Allgather.
  virtual void all_gather(const torch::Tensor& local, torch::Tensor& gathered);

  /// Collective: reduce-scatter in place. `tensor` (contiguous, size() x n elements, the same on
  /// every rank) is cut into size() blocks of n; afterwards this rank's block [rank() n,
  /// rank() n + n) holds the reduction `op` of that block over the ranks, and the other blocks
  /// are zero. The default reduces the whole tensor (all_reduce) and zeroes the other blocks; MPI
  /// overrides it with MPI_Reduce_scatter_block, which moves n values per rank instead of all.
  virtual void reduce_scatter(torch::Tensor& tensor, ReduceOp op);

  /// Collective: returns when every rank has entered it.
  virtual void barrier() = 0;

  /// Collective: splits the group into sub-groups of equal `color`, ranked by `key`.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  /// Whether all_reduce of host tensors may run on a second thread while this thread goes on
  /// using other communicators (comm/background_reducer.hpp). MPI: when initialised with
  /// MPI_THREAD_MULTIPLE. Not collective.
  virtual bool reduces_in_background() const { return false; }

  /// Collective: copies the string of `root` to every rank.
  void broadcast_string(std::string& text, int root);

  /// Collective: true on every rank when `value` is true on every rank.
  bool all_of(bool value);

  /// Collective: true on every rank when `value` is true on at least one rank.
  bool any_of(bool value);

  /// Collective: the `problem` of the lowest rank whose `problem` is not empty, on every rank
  /// ("" when no rank has one). A check that only some ranks make (a node's first rank) then
  /// fails on every rank with the same message.
  std::string first_problem(const std::string& problem);

  /// Collective: a name every rank of this communicator shares and no other run has (rank 0's
  /// process id and clock), for the files of this run (claims, staged copies).
  std::string job_token();
};

}  // namespace cdl::comm
