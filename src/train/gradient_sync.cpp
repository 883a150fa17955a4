// Implementation of flat-bucket gradient averaging.
#include "cdl/train/gradient_sync.hpp"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "cdl/core/error.hpp"

namespace cdl::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

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

struct GradientSync::Hook {
  // std::shared_ptr<Node> in LibTorch 1.13, c10::intrusive_ptr<Node> in 2.x.
  decltype(torch::autograd::impl::grad_accumulator(
      std::declval<const torch::Tensor&>())) accumulator;
  uintptr_t key = 0;
};

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
  bool on_host = true;
  for (const auto& bucket : buckets_) on_host = on_host && bucket.flat.is_cpu();
  if (comm_.size() > 1 && on_host && !buckets_.empty() && comm_.reduces_in_background()) {
    reducer_ = std::make_unique<comm::BackgroundReducer>(comm_);
    install_hooks();
  }
}

/// Runs after a parameter's gradient accumulator has added this backward pass's gradient into
/// the parameter's .grad (the bucket view).
class GradientSync::ReadyHook final : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(GradientSync& sync, size_t bucket) : sync_(sync), bucket_(bucket) {}
  torch::autograd::variable_list operator()(
      const torch::autograd::variable_list& outputs,
      const torch::autograd::variable_list& /*inputs*/) override {
    sync_.gradient_accumulated(bucket_);
    return outputs;
  }

 private:
  GradientSync& sync_;
  size_t bucket_;
};

void GradientSync::install_hooks() {
  for (size_t b = 0; b < buckets_.size(); ++b) {
    for (const auto& p : buckets_[b].parameters) {
      // The accumulator lives as long as a graph or we hold it: keep it, or the hook would be
      // lost with it (PyTorch DDP's reducer does the same).
      auto accumulator = torch::autograd::impl::grad_accumulator(p);
      CDL_CHECK(accumulator != nullptr, "GradientSync: a trainable parameter has no accumulator");
      Hook hook;
      hook.key = accumulator->add_post_hook(std::make_unique<ReadyHook>(*this, b));
      hook.accumulator = std::move(accumulator);
      hooks_.push_back(std::move(hook));
    }
  }
  missing_.assign(buckets_.size(), 0);
}

GradientSync::~GradientSync() {
  for (auto& hook : hooks_) hook.accumulator->del_post_hook(hook.key);
}

void GradientSync::reduce_during_next_backward(comm::ReduceOp op) {
  if (!overlaps()) return;
  CDL_CHECK(!armed_, "GradientSync: armed twice without reduce_gradients in between");
  torch::NoGradGuard no_grad;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    attach_views(buckets_[b]);  // backward must accumulate into the buckets
    missing_[b] = static_cast<int64_t>(buckets_[b].parameters.size());
  }
  armed_ = true;
  armed_op_ = op;
  next_bucket_ = 0;
}

void GradientSync::gradient_accumulated(size_t bucket) {
  if (!armed_ || missing_[bucket] == 0) return;
  if (--missing_[bucket] == 0) start_ready_buckets();
}

void GradientSync::start_ready_buckets() {
  const auto op = armed_op_ == comm::ReduceOp::kAvg ? comm::ReduceOp::kSum : armed_op_;
  while (next_bucket_ < buckets_.size() && missing_[next_bucket_] == 0) {
    reducer_->submit(buckets_[next_bucket_].flat, op);
    ++next_bucket_;
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

void GradientSync::shard_reductions() {
  torch::NoGradGuard no_grad;
  const int64_t ranks = comm_.size();
  for (auto& bucket : buckets_) {
    const int64_t length = bucket.flat.numel();
    const int64_t padded = (length + ranks - 1) / ranks * ranks;
    if (padded != length) {
      auto flat = torch::zeros({padded}, bucket.flat.options());
      flat.narrow(0, 0, length).copy_(bucket.flat);
      bucket.flat = flat;
      int64_t offset = 0;
      for (size_t i = 0; i < bucket.parameters.size(); ++i) {
        auto& p = bucket.parameters[i];
        bucket.views[i] = flat.narrow(0, offset, p.numel()).view(p.sizes());
        p.mutable_grad() = bucket.views[i];
        offset += p.numel();
      }
    }
    bucket.exact = torch::Tensor();  // made again, of the padded size, when first used
  }
  reduce_scatter_ = true;
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
  if (armed_) {
    CDL_CHECK(op == armed_op_, "GradientSync: reduce_gradients with another operation than armed");
    std::fill(missing_.begin(), missing_.end(), 0);  // what backward did not produce is zero
    start_ready_buckets();
    armed_ = false;
    reducer_->wait();
    if (op == comm::ReduceOp::kAvg) {
      for (auto& bucket : buckets_) bucket.flat.div_(comm_.size());
    }
  } else {
    const auto reduce_start = std::chrono::steady_clock::now();
    for (auto& bucket : buckets_) {
      attach_views(bucket);  // the gradients are the bucket: no copy in or out
      // Where the other ranks may be overlapping their reductions with backward, this rank
      // (which had no micro-batch in this update) meets them in the same all-reduces.
      if (reduce_scatter_ && !overlaps()) {
        comm_.reduce_scatter(bucket.flat, op);  // only this rank's block is needed
      } else {
        comm_.all_reduce(bucket.flat, op);
      }
    }
    synchronous_reduction_seconds_ += seconds_since(reduce_start);
  }
  seconds_ += seconds_since(start);
}

double GradientSync::reduction_seconds() const {
  return synchronous_reduction_seconds_ + (reducer_ ? reducer_->busy_seconds() : 0.0);
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
  const double seconds = seconds_since(start);
  seconds_ += seconds;
  synchronous_reduction_seconds_ += seconds;
}

int64_t GradientSync::bytes_per_update() const {
  int64_t bytes = 0;
  for (const auto& bucket : buckets_) bytes += bucket.flat.numel() * bucket.flat.element_size();
  return bytes;
}

}  // namespace cdl::train
