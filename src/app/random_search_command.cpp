// Implementation of `clinicadl-hpc random-search`.
#include "random_search_command.hpp"

#include <cstdlib>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/random_search.hpp"
#include "cdl/core/error.hpp"
#include "cdl/experiment/random_search_job.hpp"
#include "collective_command.hpp"
#include "command_line.hpp"

namespace cdl::app {
namespace {

const char* const kUsage =
    "Usage: mpirun -np N clinicadl-hpc random-search LAUNCH_DIR NAME [--n_runs R] [--overwrite]\n"
    "       mpirun -np N clinicadl-hpc random-search LAUNCH_DIR NAME --resume\n"
    "  LAUNCH_DIR holds random_search.toml ([Random_Search]: network_task, caps_directory (the\n"
    "  .h5 of caps2h5), tsv_path, n_convblocks, first_conv_width, n_fcblocks, optional\n"
    "  d_reduction, network_normalization, channels_limit, n_conv, wd_bool, and train options,\n"
    "  fixed or sampled as ClinicaDL samples them; other sections as in train_config.toml).\n"
    "  R runs (default 1) are trained as LAUNCH_DIR/NAME/run-<k>, min(N, R) at a time on groups\n"
    "  of ranks; LAUNCH_DIR/NAME/random_search.tsv sums them up. --resume continues a search\n"
    "  that stopped (time limit, pre-emption) with the random_search.toml it recorded.\n";

int64_t run_count(const CommandLine& line) {
  if (line.has("--resume") && !line.has("--n_runs")) return 0;  // the recorded number
  const std::string text = line.value("--n_runs", "1");
  char* end = nullptr;
  const long long runs = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || runs < 1) {
    CDL_THROW(ConfigError, "--n_runs '", text, "' is invalid; expected a positive integer");
  }
  return runs;
}

}  // namespace

int run_random_search(const std::vector<std::string>& args, int* argc, char*** argv) {
  config::SearchSpace space;
  experiment::SearchRequest request;
  const int status = check_before_mpi([&] {
    const auto line = parse_command_line(
        args,
        {{"--n_runs", Arity::kOne}, {"--overwrite", Arity::kNone}, {"--resume", Arity::kNone}}, 2,
        kUsage);
    request.launch_dir = line.positional.at(0);
    request.name = line.positional.at(1);
    request.runs = run_count(line);
    request.overwrite = line.has("--overwrite");
    request.resume = line.has("--resume");
    if (request.resume && request.overwrite) {
      CDL_THROW(ConfigError, "--resume and --overwrite contradict each other");
    }
    space = request.resume ? experiment::recorded_search(request)
                           : config::read_search_space(request.launch_dir);
    experiment::check_search_destination(request, space);
  });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(
      runtime,
      "clinicadl-hpc random-search " + request.launch_dir + " " + request.name + " --resume",
      /*stoppable=*/true, [&] { experiment::run_random_search(space, request, runtime); });
}

}  // namespace cdl::app
