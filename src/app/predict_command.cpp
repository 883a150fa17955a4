// Implementation of `clinicadl-hpc predict`: its command line, then the predict job.
#include "predict_command.hpp"

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"
#include "cdl/experiment/predict_job.hpp"
#include "cdl/maps/maps_config.hpp"
#include "collective_command.hpp"
#include "command_line.hpp"

namespace cdl::app {
namespace {

constexpr const char* kUsage =
    "Usage: mpirun -np N clinicadl-hpc predict MAPS_DIR DATA_GROUP [options]\n"
    "The best models of MAPS_DIR predict the sessions of DATA_GROUP; results go to\n"
    "MAPS_DIR/split-<k>/best-<metric>/DATA_GROUP/. An existing group (train, validation, or one\n"
    "defined by an earlier predict) is reused; a new one needs --data and --tsv.\n"
    "  --data DATA.h5             images of a new group (caps2h5 convert)\n"
    "  --tsv FILE.tsv             sessions of a new group (participant_id, session_id[, label])\n"
    "  --split K [K ...]          splits whose models predict (default: every trained split)\n"
    "  --selection_metrics M ...  best models used (default: every best-<metric> of the split)\n"
    "  --label COLUMN             label column of the group (default: the training's)\n"
    "  --no_labels                predictions only: no loss, no metrics files\n"
    "  --diagnoses D [D ...]      rows of a new group kept by diagnosis (default: the training's)\n"
    "  --skip_leak_check          allow participants of the training in a new group\n"
    "  --overwrite                redefine an existing group (not train or validation)\n"
    "  --save_tensor              reconstruction: save each input and output as a .pt tensor\n"
    "  --batch_size N, --gpu auto|true|false, --threads N, --amp   computation\n";

/// The train options predict may change (read and checked by the train option table).
const std::vector<std::string> kChangeable{"split", "label",        "diagnoses", "batch_size",
                                           "gpu",   "comm_backend", "threads",   "amp"};

/// Every option predict knows: the changeable train options and its own.
std::map<std::string, Arity> known_options() {
  auto known = train_options(kChangeable);
  known.insert({{"--data", Arity::kOne},
                {"--tsv", Arity::kOne},
                {"--selection_metrics", Arity::kMany},
                {"--no_labels", Arity::kNone},
                {"--skip_leak_check", Arity::kNone},
                {"--overwrite", Arity::kNone},
                {"--save_tensor", Arity::kNone}});
  return known;
}

/// Parses the command line and resolves the plan (every rank alike, before MPI starts).
experiment::PredictPlan make_plan(const std::vector<std::string>& args) {
  const auto line = parse_command_line(args, known_options(), 2, kUsage);
  auto c = maps::read_maps_config(line.positional.at(0));
  config::apply_train_options(c, train_option_values(line, kChangeable), "predict");
  config::resolve_and_validate(c);
  experiment::PredictRequest request;
  request.group = line.positional.at(1);
  request.data_path = line.value("--data");
  request.tsv_path = line.value("--tsv");
  if (line.has("--selection_metrics")) {
    request.selection_metrics = line.options.at("--selection_metrics");
  }
  request.no_labels = line.has("--no_labels");
  request.skip_leak_check = line.has("--skip_leak_check");
  request.overwrite = line.has("--overwrite");
  request.save_tensors = line.has("--save_tensor");
  return experiment::make_predict_plan(std::move(c), request);
}

}  // namespace

int run_predict(const std::vector<std::string>& args, int* argc, char*** argv) {
  experiment::PredictPlan plan;
  const int status = check_before_mpi([&] { plan = make_plan(args); });
  if (status != kGoOn) return status;
  comm::Runtime runtime(argc, argv);
  return run_collectively(runtime, "clinicadl-hpc resume " + plan.config.maps_dir,
                          /*stoppable=*/false, [&] { experiment::run_predict_job(plan, runtime); });
}

}  // namespace cdl::app
