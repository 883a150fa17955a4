// The NCCL back end: all_reduce and broadcast of CUDA tensors through NCCL; the control
// operations (gathers, barriers) go through the MPI communicator it was built from.
// Compiled only with -DWITH_NCCL=ON.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "cdl/comm/communicator.hpp"

namespace cdl::comm {

class MpiCommunicator;

/// A Communicator over NCCL for tensors on one CUDA device per rank.
class NcclCommunicator final : public Communicator {
 public:
  /// Collective over `control`: rank 0 creates the NCCL unique id and broadcasts it over MPI.
  NcclCommunicator(MpiCommunicator& control, int cuda_device);
  ~NcclCommunicator() override;

  Backend backend() const override { return Backend::kNccl; }
  int rank() const override;
  int size() const override;
  /// Collective: CUDA tensors through NCCL (float32/float64/float16/int32/int64/uint8).
  void all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  /// Collective: CUDA tensors through NCCL.
  void broadcast(torch::Tensor& tensor, int root) override;
  /// Collective: ncclReduceScatter in place (this rank's block receives), the rest zeroed.
  void reduce_scatter(torch::Tensor& tensor, ReduceOp op) override;
  /// Collective: ncclAllGather (in place when `local` is this rank's block of `gathered`).
  void all_gather(const torch::Tensor& local, torch::Tensor& gathered) override;
  /// Collective: delegated to MPI (CPU tensors).
  torch::Tensor gather_rows(const torch::Tensor& local, int root) override;
  /// Collective: delegated to MPI.
  void barrier() override;
  /// Not supported: split the MPI communicator and build a new NcclCommunicator from it.
  std::unique_ptr<Communicator> split(int color, int key) override;

 private:
  /// Waits for LibTorch's queued work on the device, so NCCL reads finished values.
  void wait_for_torch() const;
  /// Waits for NCCL's stream and throws CommError if the communicator reported an error.
  void finish(const char* op);

  MpiCommunicator& control_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool failed_ = false;
};

}  // namespace cdl::comm
