// The MPI back end: collectives on CPU tensors over a private duplicate of an MPI communicator.
#pragma once

#include <mpi.h>

#include "cdl/comm/communicator.hpp"

namespace cdl::comm {

/// A Communicator over MPI. Owns an `MPI_Comm_dup` of the communicator it is given, so its
/// traffic never collides with anyone else's. Works on contiguous CPU tensors of float32,
/// float64, int32, int64, uint8 and bool.
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
  std::unique_ptr<Communicator> split(int color, int key) override;

  /// The underlying (duplicated) MPI communicator.
  MPI_Comm handle() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

/// Throws CommError with MPI's own error text when `code` is not MPI_SUCCESS.
void check_mpi(int code, const char* call);

}  // namespace cdl::comm

/// Runs an MPI call and throws CommError naming the call if it fails.
#define CDL_CHECK_MPI(call) ::cdl::comm::check_mpi((call), #call)
