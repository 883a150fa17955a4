// Implementation of `clinicadl-hpc resume`.
#include "resume_command.hpp"

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/train/maps_layout.hpp"
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
    "  --checkpoint_steps N       also write the training state every N weight updates\n";

struct ResumeArguments {
  std::string maps_dir;
  std::vector<std::string> split, gpu, comm_backend, threads, checkpoint_steps;
};

/// The values following option `args[i]` (up to the next option).
std::vector<std::string> option_values(const std::vector<std::string>& args, size_t& i) {
  std::vector<std::string> values;
  while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) values.push_back(args[++i]);
  return values;
}

ResumeArguments parse_resume_arguments(const std::vector<std::string>& args) {
  ResumeArguments parsed;
  std::vector<std::string> problems;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--help" || arg == "-h") throw config::HelpRequested(kUsage);
    if (arg.rfind("--", 0) != 0) {
      if (parsed.maps_dir.empty()) {
        parsed.maps_dir = arg;
      } else {
        problems.push_back("unexpected argument '" + arg + "' (MAPS_DIR is '" + parsed.maps_dir +
                           "')");
      }
      continue;
    }
    const auto values = option_values(args, i);
    std::vector<std::string>* target = arg == "--split"              ? &parsed.split
                                       : arg == "--gpu"              ? &parsed.gpu
                                       : arg == "--comm_backend"     ? &parsed.comm_backend
                                       : arg == "--threads"          ? &parsed.threads
                                       : arg == "--checkpoint_steps" ? &parsed.checkpoint_steps
                                                                     : nullptr;
    if (target == nullptr) {
      problems.push_back("unknown option '" + arg +
                         "'; resume takes --split, --gpu, --comm_backend, --threads and "
                         "--checkpoint_steps (the other options are those of maps.json)");
    } else if (values.empty() || (target != &parsed.split && values.size() != 1)) {
      problems.push_back(arg + " takes " +
                         (target == &parsed.split ? "one or more values" : "one value") + ", got " +
                         std::to_string(values.size()));
    } else {
      *target = values;
    }
  }
  if (parsed.maps_dir.empty()) problems.push_back("MAPS_DIR is missing");
  if (!problems.empty()) {
    std::string message =
        std::to_string(problems.size()) + " problem(s) with the resume arguments:";
    for (const auto& p : problems) message += "\n  - " + p;
    throw ConfigError(message + "\n" + kUsage);
  }
  return parsed;
}

int64_t integer_value(const std::string& option, const std::string& text) {
  try {
    size_t used = 0;
    const int64_t value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  CDL_THROW(ConfigError, "--", option, " '", text, "' is invalid; expected an integer");
}

/// The training options of the MAPS, with the overrides of the command line.
config::TrainConfig resume_config(const ResumeArguments& args) {
  const train::MapsLayout layout(args.maps_dir);
  if (!fs::is_regular_file(layout.maps_json())) {
    CDL_THROW(ConfigError, "'", args.maps_dir, "' is not a MAPS folder: '", layout.maps_json(),
              "' does not exist\n  hint: give the MAPS_DIR of an earlier `clinicadl-hpc train`");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_text_file(layout.maps_json()));
  } catch (const nlohmann::json::exception& error) {
    CDL_THROW(ConfigError, "'", layout.maps_json(), "' is not valid JSON: ", error.what());
  }
  auto c = config::config_from_maps_json(json, layout.maps_json());
  c.maps_dir = args.maps_dir;
  c.overwrite = false;
  c.config_file.clear();
  if (!args.split.empty()) {
    c.split.clear();
    for (const auto& text : args.split) c.split.push_back(integer_value("split", text));
  }
  if (!args.gpu.empty()) c.gpu = args.gpu.front();
  if (!args.comm_backend.empty()) c.comm_backend = args.comm_backend.front();
  if (!args.threads.empty()) c.threads = integer_value("threads", args.threads.front());
  if (!args.checkpoint_steps.empty()) {
    c.checkpoint_steps = integer_value("checkpoint_steps", args.checkpoint_steps.front());
  }
  config::resolve_and_validate(c);
  return c;
}

enum class SplitStatus { kStopped, kFinished, kAbsent };

/// ClinicaDL's classification (reference 7.7): a split with tmp/ stopped (we resume it when
/// it holds a training state), one without tmp/ but with a best-* folder finished.
SplitStatus split_status(const train::MapsLayout& layout, int split) {
  if (fs::is_regular_file(layout.training_state(split))) return SplitStatus::kStopped;
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
      const auto status = split_status(layout, static_cast<int>(split));
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
  try {
    config = resume_config(parse_resume_arguments(args));
  } catch (const config::HelpRequested& help) {
    if (launcher_rank() == 0) std::cout << help.what();
    return 0;
  } catch (const ConfigError& error) {
    if (launcher_rank() == 0) std::cerr << "ERROR: " << error.what() << std::endl;
    return error.exit_code();
  }
  comm::Runtime runtime(argc, argv);
  return run_collectively(runtime, config.maps_dir, [&] {
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
