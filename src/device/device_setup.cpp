// Implementation of the device set-up shared by train, resume and predict.
#include "cdl/device/device_setup.hpp"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <thread>

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/model/mixed_precision.hpp"

namespace cdl::device {
namespace {

/// One line saying in which precision the run computes, and why when --amp was declined.
void log_precision(const ComputeOptions& compute) {
  if (compute.amp && compute.device.is_cpu()) {
    log::info("mixed precision: autocast in bfloat16 on cpu for layers reading feature maps of at ",
              "least ", model::kMinBfloat16Extent,
              " voxels per axis (smaller ones and the fully connected head in float32)");
  } else if (compute.amp) {
    log::info("mixed precision: autocast in ",
              compute.amp_dtype == torch::kHalf ? "float16 with loss scaling" : "bfloat16", " on ",
              compute.device.str(), compute.channels_last ? ", channels_last_3d" : "");
  } else if (compute.amp_declined_on_cpu) {
    log::info("--amp: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16), so the run ",
              "trains in float32 (emulated bfloat16 would be slower)");
  }
}

/// LibTorch's intra-op threads: --threads, else the rank's share of its CPUs. Says how many and
/// why on the main rank; warns there when --threads exceeds the CPUs the rank may run on (the
/// threads would take turns on them).
void set_thread_count(int64_t requested, const comm::Topology& topology) {
  const int fair = comm::fair_thread_count(topology);
  const int threads = requested > 0 ? static_cast<int>(requested) : fair;
  torch::set_num_threads(threads);
  if (topology.rank != 0) return;
  const auto node_cpus = static_cast<int>(std::thread::hardware_concurrency());
  std::string cpus = std::to_string(topology.cpus) + " CPU(s) shared by " +
                     std::to_string(topology.cpus_shared_by) + " rank(s)";
  if (node_cpus > topology.cpus) cpus += " of the node's " + std::to_string(node_cpus);
  if (requested > 0 && threads > topology.cpus) {
    log::warn("--threads ", threads, " but rank 0 may run on ", topology.cpus,
              " CPU(s) (its affinity mask, from the launcher's binding): its threads will take "
              "turns; ask the launcher for more cores per rank (srun --cpus-per-task, mpirun "
              "--map-by ...:PE=N) or lower --threads");
  }
  log::info("LibTorch threads per rank: ", threads,
            requested > 0 ? " (--threads)" : " (rank 0: its " + cpus + ")");
}

/// The training loader's I/O threads: --n_proc (ClinicaDL's loader workers), at least one and at
/// most the CPUs of the rank's share that computing leaves free: all of them when a GPU computes,
/// those beyond LibTorch's threads on a CPU. An I/O thread that takes a core from a LibTorch
/// thread stalls every parallel operation at its barrier, which costs more than it brings (a
/// third of the epoch with two I/O threads beside one LibTorch thread on two cores). Said on the
/// main rank.
int io_thread_count(int64_t n_proc, const comm::Topology& topology, bool on_gpu) {
  const int share = comm::fair_thread_count(topology);
  const int compute = on_gpu ? 0 : torch::get_num_threads();
  const int free_cpus = std::max(0, share - compute);
  const int threads = static_cast<int>(std::clamp<int64_t>(n_proc, 1, std::max(1, free_cpus)));
  if (topology.rank == 0) {
    std::string why = "--n_proc " + std::to_string(n_proc);
    const std::string beside = " rank 0's " + std::to_string(share) + " CPU(s) beside its " +
                               std::to_string(compute) + " LibTorch thread(s)";
    if (on_gpu && threads < n_proc) {
      why += ", capped at rank 0's share of " + std::to_string(share) + " CPU(s)";
    } else if (free_cpus == 0) {
      why += "; none of" + beside + ": the I/O thread shares theirs";
    } else if (threads < n_proc) {
      why += ", capped at the " + std::to_string(free_cpus) + " left of" + beside;
    }
    log::info("I/O threads per rank: ", threads, " (", why, ")");
  }
  return threads;
}

}  // namespace

Placement choose_device(config::TrainConfig& c, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (c.gpu == config::Toggle::kOn && !cuda) {
    CDL_THROW(ConfigError,
              "--gpu true but no CUDA device is visible (or LibTorch is CPU-only); "
              "hint: --gpu false");
  }
  if (c.gpu == config::Toggle::kAuto) c.gpu = cuda ? config::Toggle::kOn : config::Toggle::kOff;
  if (c.gpu == config::Toggle::kOff) return {};
  const int index = local_rank % static_cast<int>(torch::cuda::device_count());
  return {torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)), index};
}

DeviceSetup set_up_device(config::TrainConfig& c, const comm::Topology& topology) {
  set_thread_count(c.threads, topology);
  DeviceSetup setup;
  setup.placement = choose_device(c, topology.local_rank);
  configure_device_libraries(setup.placement.device, c.deterministic);
  if (c.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  setup.compute = resolve_compute(setup.placement.device, c.amp, c.channels_last, c.normalize);
  setup.compute.io_threads = io_thread_count(c.n_proc, topology, setup.placement.device.is_cuda());
  // Size reduction needs the whole normalised image on the host, and augmentations (on the I/O
  // thread) come after the normalisation: every sample transform then stays on the host.
  if (c.size_reduction || !c.data_augmentation.empty()) {
    setup.compute.transform_on_device = false;
  }
  log_precision(setup.compute);
  return setup;
}

}  // namespace cdl::device
