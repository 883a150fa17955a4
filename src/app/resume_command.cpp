// Implementation of `clinicadl-hpc resume`: the options of the MAPS with the command line's
// changes, then the training job of the splits that did not finish.
#include "resume_command.hpp"

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/experiment/resume_plan.hpp"
#include "cdl/experiment/training_job.hpp"
#include "cdl/maps/maps_config.hpp"
#include "collective_command.hpp"
#include "command_line.hpp"

namespace cdl::app {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N clinicadl-hpc resume MAPS_DIR [options]\n"
    "Continues the training of MAPS_DIR: splits with a training state (split-<k>/tmp/) continue\n"
    "where it was written, finished splits are kept, other requested splits train from scratch.\n"
    "The options of the training are those of MAPS_DIR/maps.json; these may be changed:\n"
    "  --split K [K ...]          splits to consider (default: those of maps.json)\n"
    "  --gpu auto|true|false      device (e.g. continue a GPU training on CPUs)\n"
    "  --comm_backend B           gradient back end: auto, mpi, nccl or serial\n"
    "  --threads N                LibTorch threads per rank (0: the rank's share of the node)\n"
    "  --stage_data DIR           node-local folder to copy the HDF5 file(s) to first\n"
    "  --checkpoint_steps N       also write the training state every N weight updates\n"
    "  --accumulation_steps A     micro-batches per rank and update: keep\n"
    "                             ranks x A as in the run that wrote the state to continue\n"
    "                             on another number of ranks with the same virtual batch\n";

/// The train options resume may change (read and checked by the train option table).
const std::vector<std::string> kChangeable{"split",
                                           "gpu",
                                           "comm_backend",
                                           "threads",
                                           "stage_data",
                                           "checkpoint_steps",
                                           "accumulation_steps"};

/// The training options of the MAPS, with the changes of the command line, validated.
config::TrainConfig resume_config(const std::vector<std::string>& args) {
  const auto line = parse_command_line(args, train_options(kChangeable), 1, kUsage);
  auto c = maps::read_maps_config(line.positional.at(0));
  config::apply_train_options(c, train_option_values(line, kChangeable), "resume");
  config::resolve_and_validate(c);
  return c;
}

}  // namespace

int run_resume(const std::vector<std::string>& args, int* argc, char*** argv) {
  config::TrainConfig config;
  const int status = check_before_mpi([&] { config = resume_config(args); });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(
      runtime, "clinicadl-hpc resume " + config.maps_dir, /*stoppable=*/true, [&] {
        const auto plan = experiment::plan_resume(config, runtime.control());
        if (plan.empty()) {
          if (runtime.control().is_main()) {
            log::info("every split of ", config.maps_dir, " has finished; nothing to resume");
          }
          return;
        }
        experiment::run_training_job(config, runtime, plan, /*new_maps=*/false);
      });
}

}  // namespace cdl::app
