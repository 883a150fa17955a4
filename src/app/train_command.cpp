// Implementation of `clinicadl-hpc train`.
#include "train_command.hpp"

#include <iostream>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/error.hpp"
#include "cdl/experiment/training_job.hpp"
#include "collective_command.hpp"

namespace cdl::app {

int run_train(const std::vector<std::string>& args, int* argc, char*** argv) {
  config::TrainConfig config;
  const int status = check_before_mpi([&] {
    config = config::parse_train_arguments(args);
    experiment::check_new_training(config);
  });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(runtime, "clinicadl-hpc resume " + config.maps_dir, /*stoppable=*/true,
                          [&] {
                            std::vector<experiment::SplitRun> plan;
                            for (const auto split : experiment::requested_splits(config))
                              plan.push_back({split, false});
                            experiment::run_training_job(config, runtime, plan, /*new_maps=*/true);
                          });
}

}  // namespace cdl::app
