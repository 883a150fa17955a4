// The energy counters a node exposes: Intel/AMD RAPL through Linux's powercap (package and DRAM
// domains; the whole node, all processes) and NVIDIA's NVML (one GPU's total energy). An
// EnergyMeter samples them in the background, so counter wrap-arounds between readings are
// counted, and tells what it could not read and why: nothing is estimated.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cdl {

/// Energy used since a meter started, in joules; unset where no counter was readable.
struct EnergyUse {
  std::optional<double> cpu_joules;  ///< RAPL package domains (the node's sockets)
  std::optional<double> ram_joules;  ///< RAPL DRAM domains
  std::optional<double> gpu_joules;  ///< the meter's GPU through NVML
  double seconds = 0.0;              ///< wall time covered
};

/// One wrapping energy counter (a powercap energy_uj file, or NVML's millijoule total).
struct EnergyCounter {
  std::string path;          ///< powercap file read ("" for the GPU)
  double max_range = 0.0;    ///< value at which it wraps to 0 (0: never wraps)
  double last = 0.0;         ///< last value read
  double accumulated = 0.0;  ///< energy counted since the start, in the counter's unit
};

class EnergyMeter {
 public:
  /// Starts counting the RAPL domains under `powercap_root` (normally /sys/class/powercap) and,
  /// when `gpu` is not empty, that GPU through NVML (libnvidia-ml.so.1, loaded at run time): an
  /// NVML index or a UUID (nvml_device_of_cuda_device). Samples every `sample_seconds` on a
  /// background thread.
  EnergyMeter(const std::string& powercap_root, const std::string& gpu,
              double sample_seconds = 20.0);
  ~EnergyMeter();
  EnergyMeter(const EnergyMeter&) = delete;
  EnergyMeter& operator=(const EnergyMeter&) = delete;

  /// The energy used since the start (a final sample is taken now).
  EnergyUse read();

  /// Why the CPU (RAPL) counters could not be read; "" when they could.
  const std::string& cpu_problem() const { return cpu_problem_; }
  /// Why the GPU counter could not be read; "" when it could or no GPU was asked for.
  const std::string& gpu_problem() const { return gpu_problem_; }

 private:
  void sample();  // under mutex_
  void run(double sample_seconds);

  std::vector<EnergyCounter> packages_, drams_;
  std::optional<EnergyCounter> gpu_;
  std::string cpu_problem_, gpu_problem_;
  struct Nvml;
  std::unique_ptr<Nvml> nvml_;
  double start_ = 0.0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread sampler_;
};

/// The NVML name of CUDA device `cuda_index`: its entry of CUDA_VISIBLE_DEVICES (an index or a
/// UUID, as schedulers set it) or, without that variable, the index itself (NVML and CUDA then
/// count the same devices; with several GPU models, set CUDA_DEVICE_ORDER=PCI_BUS_ID).
std::string nvml_device_of_cuda_device(int cuda_index);

/// The powercap folder read by EnergyMeter: $CDL_POWERCAP_ROOT when set (containers that mount
/// sysfs elsewhere), else /sys/class/powercap.
std::string powercap_root();

}  // namespace cdl
