// Implementation of rank-count independent BatchNorm running statistics.
#include "cdl/train/running_statistics.hpp"

#include <torch/nn/modules/batchnorm.h>
#include <torch/torch.h>

#include <cmath>

#include "cdl/core/error.hpp"

namespace cdl::train {
namespace {

/// The momentum and buffers of `module` when it is a BatchNorm layer with running statistics.
template <typename BatchNorm>
bool add_layer(torch::nn::Module& module, std::vector<torch::Tensor>& buffers, double& momentum) {
  auto* layer = module.as<BatchNorm>();
  if (layer == nullptr || !layer->options.track_running_stats()) return false;
  if (!layer->options.momentum().has_value()) {
    CDL_THROW(ConfigError,
              "a BatchNorm layer with a cumulative average (momentum None) cannot "
              "keep rank-independent running statistics; expected a momentum");
  }
  momentum = *layer->options.momentum();
  buffers = {layer->running_mean, layer->running_var, layer->num_batches_tracked};
  return true;
}

}  // namespace

RunningStatistics::RunningStatistics(torch::nn::Module& module) {
  for (const auto& child : module.modules(/*include_self=*/true)) {
    std::vector<torch::Tensor> buffers;
    double momentum = 0.1;
    if (add_layer<torch::nn::BatchNorm1dImpl>(*child, buffers, momentum) ||
        add_layer<torch::nn::BatchNorm2dImpl>(*child, buffers, momentum) ||
        add_layer<torch::nn::BatchNorm3dImpl>(*child, buffers, momentum)) {
      Layer layer;
      layer.mean = buffers[0];
      layer.var = buffers[1];
      layer.tracked = buffers[2];
      layer.momentum = momentum;
      layers_.push_back(layer);
    }
  }
}

void RunningStatistics::begin_update() {
  torch::NoGradGuard no_grad;
  for (auto& layer : layers_) {
    layer.start_mean = layer.mean.clone();
    layer.start_var = layer.var.clone();
    layer.start_tracked = layer.tracked.clone();
    // Sums in float64: they hardly depend on which rank adds which term.
    layer.sum_mean = torch::zeros_like(layer.mean, torch::kFloat64);
    layer.sum_var = torch::zeros_like(layer.var, torch::kFloat64);
  }
}

void RunningStatistics::before_micro_batch() {
  torch::NoGradGuard no_grad;
  for (auto& layer : layers_) {
    layer.mean.zero_();
    layer.var.zero_();
  }
}

void RunningStatistics::after_micro_batch(int64_t position, int64_t count) {
  torch::NoGradGuard no_grad;
  for (auto& layer : layers_) {
    const double decay = std::pow(1.0 - layer.momentum, static_cast<double>(count - 1 - position));
    layer.sum_mean.add_(layer.mean.to(torch::kFloat64), decay);
    layer.sum_var.add_(layer.var.to(torch::kFloat64), decay);
  }
}

void RunningStatistics::finish_update(comm::Communicator& comm, int64_t count) {
  if (layers_.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sums;
  for (const auto& layer : layers_) {
    sums.push_back(layer.sum_mean.reshape({-1}));
    sums.push_back(layer.sum_var.reshape({-1}));
  }
  auto flat = torch::cat(sums);
  if (comm.size() > 1) comm.all_reduce(flat, comm::ReduceOp::kSum);
  int64_t offset = 0;
  for (auto& layer : layers_) {
    const double keep = std::pow(1.0 - layer.momentum, static_cast<double>(count));
    const int64_t n = layer.mean.numel();
    const auto start_mean = layer.start_mean.to(torch::kFloat64) * keep;
    const auto start_var = layer.start_var.to(torch::kFloat64) * keep;
    layer.mean.copy_(start_mean + flat.narrow(0, offset, n).view_as(layer.mean));
    layer.var.copy_(start_var + flat.narrow(0, offset + n, n).view_as(layer.var));
    layer.tracked.copy_(layer.start_tracked + count);
    offset += 2 * n;
  }
}

}  // namespace cdl::train
