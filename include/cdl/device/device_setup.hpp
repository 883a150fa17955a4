// One device set-up for every command that computes (train, resume, predict): the rank's device
// from --gpu and its node-local rank, LibTorch's threads, the device libraries (cuDNN autotuning,
// or deterministic algorithms) and the compute options (precision, memory layout, transforms).
#pragma once

#include <torch/types.h>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/device/compute.hpp"

namespace cdl::device {

/// The device a rank computes on, and its CUDA index.
struct Placement {
  torch::Device device = torch::kCPU;
  int cuda_index = 0;
};

/// The device of this rank for `config.gpu` (auto: CUDA when visible), which it resolves to
/// on or off; the GPU is the node-local rank modulo the node's GPUs. Throws ConfigError
/// for --gpu true without a CUDA device. Not collective.
Placement choose_device(config::TrainConfig& config, int local_rank);

/// What a rank computes with.
struct DeviceSetup {
  Placement placement;
  ComputeOptions compute;
};

/// Sets up this rank's computing: LibTorch's intra-op threads (config.threads, else its share of
/// the CPUs it may run on: comm::fair_thread_count), the device (choose_device), the device
/// libraries (cuDNN autotuning, or deterministic algorithms everywhere under --deterministic)
/// and the compute options; logs the threads and the precision chosen, and warns when
/// --threads asks for more threads than the rank has CPUs. Not collective, but every rank
/// reaches the same choices.
DeviceSetup set_up_device(config::TrainConfig& config, const comm::Topology& topology);

}  // namespace cdl::device
