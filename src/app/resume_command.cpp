// Implementation of `clinicadl-hpc resume`.
#include "resume_command.hpp"

#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/train/maps_layout.hpp"
#include "command_line.hpp"
#include "training_run.hpp"

namespace cdl::app {
namespace fs = std::filesystem;
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
    "  --checkpoint_steps N       also write the training state every N weight updates\n"
    "  --accumulation_steps A     micro-batches per rank and update: keep\n"
    "                             ranks x A as in the run that wrote the state to continue\n"
    "                             on another number of ranks with the same virtual batch\n";

const std::map<std::string, Arity> kResumeOptions{
    {"--split", Arity::kMany},           {"--gpu", Arity::kOne},
    {"--comm_backend", Arity::kOne},     {"--threads", Arity::kOne},
    {"--checkpoint_steps", Arity::kOne}, {"--accumulation_steps", Arity::kOne}};

/// The training options of the MAPS, with the overrides of the command line.
config::TrainConfig resume_config(const CommandLine& args) {
  const std::string maps_dir = args.positional.at(0);
  auto c = read_maps_config(maps_dir);
  c.maps_dir = maps_dir;
  c.overwrite = false;
  c.config_file.clear();
  if (args.has("--split")) {
    c.split.clear();
    for (const auto& text : args.options.at("--split")) {
      c.split.push_back(integer_option("--split", text));
    }
  }
  c.gpu = args.value("--gpu", c.gpu);
  c.comm_backend = args.value("--comm_backend", c.comm_backend);
  if (args.has("--threads")) c.threads = integer_option("--threads", args.value("--threads"));
  if (args.has("--checkpoint_steps")) {
    c.checkpoint_steps = integer_option("--checkpoint_steps", args.value("--checkpoint_steps"));
  }
  if (args.has("--accumulation_steps")) {
    c.accumulation_steps =
        integer_option("--accumulation_steps", args.value("--accumulation_steps"));
  }
  config::resolve_and_validate(c);
  return c;
}

enum class SplitStatus { kStopped, kFinished, kAbsent };

/// ClinicaDL's classification (reference 7.7): a split with tmp/ stopped (we resume it when
/// it holds a training state), one without tmp/ but with a best-* folder finished. Multi-network:
/// tmp/ stays until every network finished and the results are merged, so a split with tmp/
/// stopped (the experiment then decides network by network).
SplitStatus split_status(const train::MapsLayout& layout, int split, bool multi_network) {
  if (fs::is_regular_file(layout.training_state(split))) return SplitStatus::kStopped;
  if (multi_network && fs::is_directory(layout.tmp_dir(split))) return SplitStatus::kStopped;
  if (fs::exists(layout.tmp_dir(split)) || !fs::is_directory(layout.split_dir(split))) {
    return SplitStatus::kAbsent;  // stopped before its first state, or never started
  }
  for (const auto& entry : fs::directory_iterator(layout.split_dir(split))) {
    if (entry.is_directory() && entry.path().filename().string().rfind("best-", 0) == 0) {
      return SplitStatus::kFinished;
    }
  }
  return SplitStatus::kAbsent;
}

/// Collective: the main rank classifies the splits (it alone looks at the MAPS) and every rank
/// gets the same plan.
std::vector<SplitRun> plan_resume(const config::TrainConfig& c, comm::Runtime& runtime) {
  std::string encoded;
  if (runtime.control().is_main()) {
    const train::MapsLayout layout(c.maps_dir);
    std::ostringstream out;
    for (const auto split : requested_splits(c)) {
      const auto status = split_status(layout, static_cast<int>(split), c.multi_network);
      if (status == SplitStatus::kFinished) {
        log::info("split ", split, " has finished: kept as it is");
        continue;
      }
      log::info("split ", split,
                status == SplitStatus::kStopped ? ": continues from its training state"
                                                : ": has no training state, trains from scratch");
      out << split << (status == SplitStatus::kStopped ? " 1 " : " 0 ");
    }
    encoded = out.str();
  }
  runtime.control().broadcast_string(encoded, 0);
  std::istringstream in(encoded);
  std::vector<SplitRun> plan;
  SplitRun run;
  int resume = 0;
  while (in >> run.split >> resume) {
    run.resume = resume == 1;
    plan.push_back(run);
  }
  return plan;
}

}  // namespace

int run_resume(const std::vector<std::string>& args, int* argc, char*** argv) {
  config::TrainConfig config;
  const int status = check_before_mpi(
      [&] { config = resume_config(parse_command_line(args, kResumeOptions, 1, kUsage)); });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(runtime, config.maps_dir, /*stoppable=*/true, [&] {
    const auto plan = plan_resume(config, runtime);
    if (plan.empty()) {
      if (runtime.control().is_main()) {
        log::info("every split of ", config.maps_dir, " has finished; nothing to resume");
      }
      return;
    }
    run_training(config, runtime, plan, /*new_maps=*/false);
  });
}

}  // namespace cdl::app
