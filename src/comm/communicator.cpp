// Back-end independent helpers of the Communicator interface.
#include "cdl/comm/communicator.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "cdl/core/error.hpp"

namespace cdl::comm {

std::string backend_name(Backend backend) {
  switch (backend) {
    case Backend::kSerial:
      return "serial";
    case Backend::kMpi:
      return "mpi";
    case Backend::kNccl:
      return "nccl";
  }
  return "unknown";
}

void Communicator::broadcast_string(std::string& text, int root) {
  auto length = torch::tensor({static_cast<int64_t>(text.size())}, torch::kInt64);
  broadcast(length, root);
  auto bytes = torch::zeros({length.item<int64_t>()}, torch::kUInt8);
  if (rank() == root && !text.empty()) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  broadcast(bytes, root);
  text.assign(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
}

bool Communicator::all_of(bool value) {
  auto flag = torch::tensor({value ? 1 : 0}, torch::kInt32);
  all_reduce(flag, ReduceOp::kMin);
  return flag.item<int>() == 1;
}

void Communicator::all_gather(const torch::Tensor& local, torch::Tensor& gathered) {
  CDL_CHECK(local.is_contiguous() && gathered.is_contiguous() &&
                gathered.numel() == local.numel() * size() && gathered.dtype() == local.dtype(),
            "all_gather of ", local.numel(), " values per rank into ", gathered.numel(),
            " values over ", size(), " ranks");
  torch::NoGradGuard no_grad;
  const auto own = local.reshape({-1}).clone();  // `local` may lie in `gathered`
  gathered.zero_();
  gathered.narrow(0, static_cast<int64_t>(rank()) * local.numel(), local.numel()).copy_(own);
  all_reduce(gathered, ReduceOp::kSum);
}

void Communicator::reduce_scatter(torch::Tensor& tensor, ReduceOp op) {
  CDL_CHECK(tensor.is_contiguous() && tensor.dim() == 1 && tensor.numel() % size() == 0,
            "reduce_scatter of ", tensor.numel(), " values over ", size(),
            " ranks: expected a contiguous 1-D tensor of a multiple of the ranks");
  all_reduce(tensor, op);
  torch::NoGradGuard no_grad;
  const int64_t n = tensor.numel() / size(), begin = static_cast<int64_t>(rank()) * n;
  tensor.narrow(0, 0, begin).zero_();
  tensor.narrow(0, begin + n, tensor.numel() - begin - n).zero_();
}

std::string Communicator::first_problem(const std::string& problem) {
  auto first = torch::tensor({problem.empty() ? size() : rank()}, torch::kInt32);
  all_reduce(first, ReduceOp::kMin);
  const int root = first.item<int>();
  if (root == size()) return "";
  std::string text = problem;
  broadcast_string(text, root);
  return text;
}

std::string Communicator::job_token() {
  std::string token;
  if (rank() == 0) {
    token = std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  broadcast_string(token, 0);
  return token;
}

bool Communicator::any_of(bool value) {
  auto flag = torch::tensor({value ? 1 : 0}, torch::kInt32);
  all_reduce(flag, ReduceOp::kMax);
  return flag.item<int>() == 1;
}

}  // namespace cdl::comm
