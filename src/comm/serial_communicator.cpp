// Implementation of the single-rank communicator.
#include "cdl/comm/serial_communicator.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"

namespace cdl::comm {
namespace {
void check_root(int root) {
  if (root != 0)
    CDL_THROW(CommError, "serial communicator: root ", root, " does not exist (size 1)");
}
}  // namespace

void SerialCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  if (op == ReduceOp::kAvg && !tensor.is_floating_point()) {
    CDL_THROW(CommError, "all_reduce kAvg needs a floating-point tensor, got ", tensor.dtype());
  }
}

void SerialCommunicator::broadcast(torch::Tensor& tensor, int root) {
  check_root(root);
}

torch::Tensor SerialCommunicator::gather_rows(const torch::Tensor& local, int root) {
  check_root(root);
  return local.clone();
}

std::unique_ptr<Communicator> SerialCommunicator::split(int color, int key) {
  return std::make_unique<SerialCommunicator>();
}

}  // namespace cdl::comm
