// The single-rank communicator: every collective is the identity. Lets the trainer run the same
// code without MPI and keeps unit tests free of mpiexec.
#pragma once

#include "cdl/comm/communicator.hpp"

namespace cdl::comm {

/// A group of exactly one rank.
class SerialCommunicator final : public Communicator {
 public:
  Backend backend() const override { return Backend::kSerial; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void broadcast(torch::Tensor& tensor, int root) override;
  torch::Tensor gather_rows(const torch::Tensor& local, int root) override;
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) override;
};

}  // namespace cdl::comm
