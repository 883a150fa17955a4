// EnergyReport (--emissions_calculator): the energy one training used on its ranks' nodes and
// GPUs, measured by the hardware counters (core/energy_counters.hpp), and its estimated
// emissions, written as a CodeCarbon emissions.csv row. A node's RAPL counters cover the whole
// node (CodeCarbon's "machine" mode): counted once per node, whatever its ranks.
#pragma once

#include <memory>
#include <string>

#include "cdl/comm/communicator.hpp"
#include "cdl/core/energy_counters.hpp"

namespace cdl::train {

class EnergyReport {
 public:
  /// Starts measuring this rank's node and, when `gpu` is not empty, its GPU (an NVML name,
  /// nvml_device_of_cuda_device).
  explicit EnergyReport(const std::string& gpu);

  /// Collective over `ranks`: the energy since the start, summed over the ranks' distinct nodes
  /// (CPU, RAM) and GPUs. The main rank appends the row to the emissions.csv at `path` and
  /// returns the log line; without any readable counter it writes nothing and says why.
  /// `carbon_intensity` in g CO2eq per kWh.
  std::string finish(comm::Communicator& ranks, const std::string& path, const std::string& project,
                     const std::string& run_id, double carbon_intensity);

 private:
  std::unique_ptr<EnergyMeter> meter_;
};

/// The carbon intensity used for the estimate, g CO2eq per kWh: $CDL_CARBON_INTENSITY when set
/// (the grid of the cluster's site), else 475, the world average CodeCarbon falls back to.
double carbon_intensity();

}  // namespace cdl::train
