// The MPI back end: collectives on CPU tensors over a private duplicate of an MPI communicator.
#pragma once

#include <mpi.h>

#include "cdl/comm/communicator.hpp"

namespace cdl::comm {

/// A Communicator over MPI. Owns an `MPI_Comm_dup` of the communicator it is given, so its
/// traffic never collides with anyone else's. Works on contiguous tensors of float32, float64,
/// int32, int64, uint8 and bool. CUDA tensors are handed to MPI directly when the library says it
/// is CUDA-aware (Open MPI's MPIX_Query_cuda_support), else staged through a page-locked host
/// buffer (so ranks that share a GPU, or clusters without NCCL, still train on GPUs).
class MpiCommunicator final : public Communicator {
 public:
  /// Collective over `parent`: duplicates it.
  explicit MpiCommunicator(MPI_Comm parent);
  ~MpiCommunicator() override;

  Backend backend() const override { return Backend::kMpi; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void broadcast(torch::Tensor& tensor, int root) override;
  torch::Tensor gather_rows(const torch::Tensor& local, int root) override;
  void barrier() override;
  /// MPI_Reduce_scatter_block in place (host tensors; device tensors staged as all_reduce does).
  void reduce_scatter(torch::Tensor& tensor, ReduceOp op) override;
  /// MPI_Allgather on host tensors (or device tensors with CUDA-aware MPI); else the default.
  void all_gather(const torch::Tensor& local, torch::Tensor& gathered) override;
  std::unique_ptr<Communicator> split(int color, int key) override;
  /// True when MPI provides MPI_THREAD_MULTIPLE (clinicadl-hpc asks for it, comm/runtime.hpp).
  bool reduces_in_background() const override;

  /// The underlying (duplicated) MPI communicator.
  MPI_Comm handle() const { return comm_; }

  /// True when MPI reads and writes CUDA device memory itself (no host staging).
  static bool cuda_aware();

 private:
  /// The host tensor MPI works on for `tensor`: the tensor itself on the CPU (or on a GPU with
  /// CUDA-aware MPI), else a page-locked staging copy. `copy_in` fills it from `tensor`.
  torch::Tensor host_view(const torch::Tensor& tensor, bool copy_in);
  /// Copies `host` back into `tensor` when host_view staged it.
  static void copy_back(const torch::Tensor& host, torch::Tensor& tensor);

  torch::Tensor staging_;  ///< reused page-locked buffer for CUDA tensors
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// Throws CommError with MPI's own error text when `code` is not MPI_SUCCESS.
void check_mpi(int code, const char* call);

}  // namespace cdl::comm

/// Runs an MPI call and throws CommError naming the call if it fails.
#define CDL_CHECK_MPI(call) ::cdl::comm::check_mpi((call), #call)
