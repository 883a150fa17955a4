// The experiment level: runs the units of an ExperimentPlan, each on its rank group with that
// group's communicators, and in multi-network mode merges the networks' results into the split's
// prediction TSVs (part level, and image level by soft voting) on world rank 0.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/device/compute.hpp"
#include "cdl/experiment/experiment_plan.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/train/trainer.hpp"

namespace cdl::experiment {

/// What every rank brings to an experiment.
struct ExperimentContext {
  const config::TrainConfig* config = nullptr;
  comm::Communicator* world = nullptr;      ///< MPI over every rank: the multi-network merge
  comm::Communicator* control = nullptr;    ///< MPI over this rank's group
  comm::Communicator* gradients = nullptr;  ///< MPI or NCCL over this rank's group
  device::ComputeOptions compute;
  maps::MapsLayout layout{""};
  std::shared_ptr<const data::DataSource> source;
  int64_t cache_bytes = 0;  ///< image cache budget of this rank
  /// Splits continued by `clinicadl-hpc resume`: their units with a training state continue
  /// from it, their multi-network units whose best models exist already are only evaluated again
  /// (for the merge), the others train from scratch. Units of other splits train from scratch.
  std::set<int> resumed_splits;
  /// Collective over `world`: called by every rank once, when its group's first unit has set up
  /// (the new MAPS takes its final name then). May be empty.
  std::function<void()> on_start;
};

/// What one unit reports.
struct UnitSummary {
  WorkUnit unit;
  train::SplitSummary summary;
};

/// Collective over ctx.world: runs the units of this rank's group (plan.units_of_group) one after
/// another with the group's communicators; in multi-network mode then gathers every network's
/// best-model evaluations on world rank 0, which writes each split's part-level TSVs (every
/// network's rows; metrics per network, tagged with the part id as ClinicaDL does) and the
/// image-level soft-voted TSVs, and removes each split's tmp/. Returns the summaries of the
/// group's units. An error on any rank ends the job (the caller aborts).
std::vector<UnitSummary> run_experiment(const ExperimentPlan& plan, ExperimentContext& context);

}  // namespace cdl::experiment
