// What `clinicadl-hpc resume` does with each requested split of a MAPS, decided by ClinicaDL's
// rules (reference 7.7) from what the split's folder holds.
#pragma once

#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/experiment/training_job.hpp"
#include "cdl/maps/maps_layout.hpp"

namespace cdl::experiment {

/// Where a split of a MAPS stands.
enum class SplitStatus {
  kStopped,   ///< continues from its training state
  kFinished,  ///< kept as it is
  kAbsent,    ///< never started, or stopped before its first state: trains from scratch
};

/// ClinicaDL's classification: a split with tmp/ stopped (we resume it when it holds a training
/// state), one without tmp/ but with a best-* folder finished. Multi-network: tmp/ stays until
/// every network finished and the results are merged, so a split with tmp/ is stopped (the
/// experiment then decides network by network). Not collective.
SplitStatus split_status(const maps::MapsLayout& layout, int split, bool multi_network);

/// Collective over `control`: the main rank classifies the requested splits of config.maps_dir
/// (it alone looks at the MAPS, and logs each decision) and every rank gets the same plan: the
/// splits to train, each from scratch or resumed; finished splits are left out.
std::vector<SplitRun> plan_resume(const config::TrainConfig& config, comm::Communicator& control);

}  // namespace cdl::experiment
