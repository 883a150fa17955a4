// A training job from its resolved options to its finished MAPS, shared by `train` and `resume`:
// the device, the data, every requested split checked before anything is written, the units and
// rank groups, the communicators, the MAPS (staged under a temporary name when new), then the
// experiment and its summary.
#pragma once

#include <cstdint>
#include <vector>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"

namespace cdl::experiment {

/// One split to train: from scratch, or continued from its training state.
struct SplitRun {
  int64_t split = 0;
  bool resume = false;
};

/// The splits a configuration asks for: --split, else 0..n_splits-1 (0 alone without k-fold).
std::vector<int64_t> requested_splits(const config::TrainConfig& config);

/// Not collective, deterministic (every rank reaches the same verdict): resolves and validates
/// the options of a new training, checks its MAPS destination (never replacing what this program
/// did not write) and the transfer source of every requested split. Throws ConfigError.
void check_new_training(config::TrainConfig& config);

/// Collective: trains the splits of `plan` into config.maps_dir. With `new_maps`, the MAPS is
/// created (maps.json, environment.txt, information.log; staged as MAPS_DIR.partial until the
/// first unit starts); else it exists (resume), and a split trained from scratch loses its old
/// folder first. Resolves config.gpu (device/device_setup.hpp).
void run_training_job(config::TrainConfig& config, comm::Runtime& runtime,
                      const std::vector<SplitRun>& plan, bool new_maps);

}  // namespace cdl::experiment
