// Implementation of flat-bucket gradient averaging.
#include "cdl/train/gradient_sync.hpp"

#include <torch/torch.h>

#include <chrono>
#include <map>

namespace cdl::train {
namespace {

/// Concatenates `tensors` (flattened) into one contiguous tensor.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.reshape({-1}));
  return torch::cat(views);
}

/// Copies consecutive slices of `flat` back into `tensors`.
void unflatten_into(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors) {
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

}  // namespace

GradientSync::GradientSync(torch::nn::Module& module, comm::Communicator& comm,
                           int64_t bucket_bytes)
    : comm_(comm) {
  auto parameters = module.parameters();
  Bucket current;
  int64_t current_bytes = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (!it->requires_grad()) continue;
    const int64_t bytes = it->numel() * it->element_size();
    const bool fits = current.parameters.empty() ||
                      (current_bytes + bytes <= bucket_bytes &&
                       current.parameters.front().scalar_type() == it->scalar_type());
    if (!fits) {
      buckets_.push_back(std::move(current));
      current = Bucket{};
      current_bytes = 0;
    }
    current.parameters.push_back(*it);
    current_bytes += bytes;
  }
  if (!current.parameters.empty()) buckets_.push_back(std::move(current));
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    int64_t elements = 0;
    for (const auto& p : bucket.parameters) elements += p.numel();
    bucket.flat = torch::zeros({elements}, bucket.parameters.front().options());
    int64_t offset = 0;
    for (auto& p : bucket.parameters) {
      bucket.views.push_back(bucket.flat.narrow(0, offset, p.numel()).view(p.sizes()));
      if (p.grad().defined()) bucket.views.back().copy_(p.grad());
      p.mutable_grad() = bucket.views.back();
      offset += p.numel();
    }
  }
}

void GradientSync::attach_views(Bucket& bucket) {
  for (size_t i = 0; i < bucket.parameters.size(); ++i) {
    auto& p = bucket.parameters[i];
    const auto& view = bucket.views[i];
    if (p.grad().defined() && p.grad().data_ptr() == view.data_ptr()) continue;
    // Something replaced the gradient (e.g. a zero_grad that sets it to none): take its values
    // back into the bucket and make the bucket view the gradient again.
    if (p.grad().defined()) {
      view.copy_(p.grad());
    } else {
      view.zero_();
    }
    p.mutable_grad() = view;
  }
}

void GradientSync::zero_gradients() {
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    bucket.flat.zero_();
    attach_views(bucket);
  }
}

void GradientSync::broadcast_state(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (auto& p : module.parameters()) by_dtype[p.scalar_type()].push_back(p);
  for (auto& b : module.buffers()) by_dtype[b.scalar_type()].push_back(b);
  for (auto& [dtype, tensors] : by_dtype) {
    auto flat = flatten(tensors);
    comm_.broadcast(flat, 0);
    unflatten_into(flat, tensors);
  }
}

void GradientSync::average_buffers(torch::nn::Module& module) {
  if (comm_.size() == 1) return;
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (auto& b : module.buffers()) {
    if (b.is_floating_point()) by_dtype[b.scalar_type()].push_back(b);
  }
  for (auto& [dtype, tensors] : by_dtype) {
    auto flat = flatten(tensors);
    comm_.all_reduce(flat, comm::ReduceOp::kAvg);
    unflatten_into(flat, tensors);
  }
}

void GradientSync::reduce_gradients(comm::ReduceOp op) {
  if (comm_.size() == 1) return;
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    attach_views(bucket);  // the gradients are the bucket: no copy in or out
    comm_.all_reduce(bucket.flat, op);
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void GradientSync::accumulate_exactly() {
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    if (!bucket.exact.defined()) bucket.exact = torch::zeros_like(bucket.flat, torch::kFloat64);
    int64_t offset = 0;
    for (auto& p : bucket.parameters) {
      if (p.grad().defined()) {
        bucket.exact.narrow(0, offset, p.numel()).add_(p.grad().reshape({-1}).to(torch::kFloat64));
        p.mutable_grad().zero_();
      }
      offset += p.numel();
    }
  }
}

void GradientSync::reduce_exact_gradients() {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    if (!bucket.exact.defined()) bucket.exact = torch::zeros_like(bucket.flat, torch::kFloat64);
    if (comm_.size() > 1) comm_.all_reduce(bucket.exact, comm::ReduceOp::kSum);
    int64_t offset = 0;
    for (auto& p : bucket.parameters) {
      auto sum = bucket.exact.narrow(0, offset, p.numel()).view_as(p).to(p.scalar_type());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(sum);
      } else {
        p.mutable_grad() = sum;
      }
      offset += p.numel();
    }
    bucket.exact.zero_();
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t GradientSync::bytes_per_update() const {
  int64_t bytes = 0;
  for (const auto& bucket : buckets_) bytes += bucket.flat.numel() * bucket.flat.element_size();
  return bytes;
}

}  // namespace cdl::train
