// Implementation of the training run shared by `train` and `resume`.
#include "training_run.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/stop_request.hpp"
#include "cdl/model/mixed_precision.hpp"
#include "cdl/train/experiment.hpp"
#include "cdl/train/maps_claim.hpp"
#include "cdl/train/maps_writer.hpp"
#include "cdl/train/trainer.hpp"

namespace cdl::app {
namespace {

/// Bytes of images a rank may keep in memory: none with --no_cache or --memory_saving (images
/// are then read from the HDF5 file, by the I/O thread, at every epoch).
int64_t cache_budget(const config::TrainConfig& c, const comm::Topology& topology) {
  if (!c.cache || c.memory_saving) return 0;
  const int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  return memory / (2 * std::max(1, topology.local_size));  // half the node, shared by its ranks
}

void print_summary(const train::WorkUnit& unit, const train::SplitSummary& summary,
                   const std::string& maps_dir) {
  std::ostringstream metrics;
  for (const auto& [name, value] : summary.final_validation) metrics << " " << name << "=" << value;
  const std::string name = "split " + std::to_string(unit.split) +
                           (unit.network >= 0 ? " network " + std::to_string(unit.network) : "");
  log::info(name, " finished after ", summary.epochs_run, " epoch(s)",
            summary.stopped_early ? " (early stopping)" : "", "; final validation:", metrics.str());
  log::info(name, " throughput ", summary.steady_images_per_second, " samples/s",
            summary.epochs_run > 1 ? " after the first epoch (" : " (", summary.images_per_second,
            " over all epochs; ",
            summary.samples_are_parts ? "samples are parts: patches, ROIs or "
                                        "slices"
                                      : "samples are images",
            "), data wait ", 100.0 * summary.data_wait_fraction,
            "% of training time, gradient all-reduce ", summary.allreduce_seconds, " s (",
            summary.exposed_allreduce_seconds, " s not hidden by backward, ",
            100.0 * summary.exposed_allreduce_fraction, "% of training time); MAPS: ", maps_dir);
}

}  // namespace

namespace {

/// The experiment of a run: its units and rank groups. Throws ConfigError (alike on every rank)
/// for --multi_network on data with a single part per image.
train::ExperimentPlan plan_experiment(const config::TrainConfig& c, const train::SplitData& first,
                                      const std::vector<int64_t>& splits, int world_size) {
  train::ExperimentOptions options;
  options.splits = splits;
  options.multi_network = c.multi_network;
  options.split_parallel = c.split_parallel;
  options.world_size = world_size;
  if (c.multi_network) {
    options.networks = first.train->parts_per_image();
    if (options.networks < 2) {
      CDL_THROW(ConfigError, "--multi_network trains one network per part, but --mode ", c.mode,
                " gives one part per image here; expected at least two (more ROIs in "
                "--roi_list, or patch/slice mode)");
    }
  }
  return train::ExperimentPlan(options);
}

}  // namespace

void run_training(config::TrainConfig& c, comm::Runtime& runtime, const std::vector<SplitRun>& plan,
                  bool new_maps) {
  const auto& topology = runtime.topology();
  torch::set_num_threads(c.threads > 0 ? static_cast<int>(c.threads) : runtime.fair_thread_count());
  const auto placement = choose_device(c, topology);
  train::configure_device_libraries(placement.device, c.deterministic);
  if (c.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  const auto compute =
      train::resolve_compute(placement.device, c.amp, c.channels_last, c.normalize);
  if (compute.amp && placement.device.is_cpu()) {
    log::info(
        "mixed precision: autocast in bfloat16 on cpu for layers reading feature maps of at "
        "least ",
        model::kMinBfloat16Extent,
        " voxels per axis (smaller ones and the fully connected head in float32)");
  } else if (compute.amp) {
    log::info("mixed precision: autocast in ",
              compute.amp_dtype == torch::kHalf ? "float16 with loss scaling" : "bfloat16", " on ",
              placement.device.str(), compute.channels_last ? ", channels_last_3d" : "");
  } else if (compute.amp_declined_on_cpu) {
    log::info(
        "--amp: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16), so the run "
        "trains in float32 (emulated bfloat16 would be slower)");
  }
  if (c.memory_saving) {
    log::info(
        "--memory_saving: the first two convolution blocks fused, one sample at a time in slabs; "
        "no image cache (images are read from ",
        c.data_path, " at every epoch)");
  }
  auto source = std::make_shared<const data::DataSource>(data::DataSource::open(c.data_path));
  std::vector<int64_t> splits;
  std::set<int> resumed;
  for (const auto& run : plan) {
    splits.push_back(run.split);
    if (run.resume) resumed.insert(static_cast<int>(run.split));
  }
  // Every split's tables and sets are checked before anything is written: a k-fold whose last
  // split is broken fails now, not after the first splits trained.
  std::vector<train::SplitData> checked;  // tables only (no image cache): reused below
  for (const auto split : splits) {
    checked.push_back(train::load_split(c, source, static_cast<int>(split), 0));
  }
  const auto& first = checked.front();
  const auto experiment = plan_experiment(c, first, splits, topology.world_size);
  auto group = runtime.make_group_control(experiment.group_of_rank(topology.rank));
  auto gradients = runtime.make_gradient_communicator(c.comm_backend, placement.device.is_cuda(),
                                                      placement.cuda_index, group.get());
  std::unique_ptr<train::MapsClaim> claim;      // main rank, resume: this job alone writes the MAPS
  std::unique_ptr<train::MapsStaging> staging;  // main rank, new MAPS: under a temporary name first
  auto& world = runtime.control();
  if (world.is_main()) {
    if (new_maps) {
      auto json = train::maps_json(c, first, source->first()->preprocessing_json(),
                                   topology.world_size, comm::backend_name(gradients->backend()));
      auto network = train::build_network(c, first);
      staging = std::make_unique<train::MapsStaging>(c.maps_dir, c.overwrite);
      train::create_maps(train::MapsLayout(staging->root()), json, *network,
                         InputSize::from_sample_shape(first.train->input_shape()), c.maps_dir);
    } else {
      claim = std::make_unique<train::MapsClaim>(c.maps_dir, false);
    }
    const train::MapsLayout current(staging ? staging->root() : c.maps_dir);
    for (size_t i = 0; i < splits.size(); ++i) {
      const int split = static_cast<int>(splits[i]);
      if (resumed.count(split) > 0) continue;
      cdl::remove_tree(current.split_dir(split));  // restarted: starts clean
      train::write_split_groups(current, split, checked[i], c);
    }
  }
  world.barrier();
  train::ExperimentContext context;
  context.config = &c;
  context.world = &world;
  context.control = group.get();
  context.gradients = gradients.get();
  context.compute = compute;
  context.layout = train::MapsLayout(c.maps_dir);
  context.source = source;
  context.cache_bytes = cache_budget(c, topology);
  context.resumed_splits = resumed;
  // Every group's first unit calls this once its set-up succeeded: when all did, the new MAPS
  // takes its final name (before any group writes into it).
  context.on_start = [&world, &staging] {
    world.barrier();
    if (staging) staging->promote();
    world.barrier();
  };
  const auto summaries = train::run_experiment(experiment, context);
  log::set_speaks(group->is_main());
  for (const auto& [unit, summary] : summaries) print_summary(unit, summary, c.maps_dir);
  log::set_speaks(false);
}

Placement choose_device(config::TrainConfig& c, const comm::Topology& topology) {
  const bool cuda = torch::cuda::is_available();
  if (c.gpu == "true" && !cuda) {
    CDL_THROW(ConfigError,
              "--gpu true but no CUDA device is visible (or LibTorch is CPU-only); "
              "hint: --gpu false");
  }
  c.gpu = (c.gpu == "true" || (c.gpu == "auto" && cuda)) ? "true" : "false";
  if (c.gpu == "false") return {};
  const int index = topology.local_rank % static_cast<int>(torch::cuda::device_count());
  return {torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index)), index};
}

config::TrainConfig read_maps_config(const std::string& maps_dir) {
  const train::MapsLayout layout(maps_dir);
  if (!std::filesystem::is_regular_file(layout.maps_json())) {
    auto staged = std::filesystem::path(maps_dir).lexically_normal();
    if (staged.filename().empty()) staged = staged.parent_path();
    staged += ".partial";
    CDL_THROW(ConfigError, "'", maps_dir, "' is not a MAPS folder: '", layout.maps_json(),
              "' does not exist\n  hint: ",
              std::filesystem::exists(staged)
                  ? "'" + staged.string() +
                        "' is a MAPS whose training never started (its set-up " +
                        "failed or was killed): run the same `clinicadl-hpc train` again"
                  : std::string("give the MAPS_DIR of an earlier `clinicadl-hpc train`"));
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_text_file(layout.maps_json()));
  } catch (const nlohmann::json::exception& error) {
    CDL_THROW(ConfigError, "'", layout.maps_json(), "' is not valid JSON: ", error.what());
  }
  auto c = config::config_from_maps_json(json, layout.maps_json());
  c.maps_dir = maps_dir;
  c.overwrite = false;
  c.config_file.clear();
  return c;
}

std::vector<int64_t> requested_splits(const config::TrainConfig& c) {
  if (!c.split.empty()) return c.split;
  std::vector<int64_t> splits;
  for (int64_t k = 0; k < std::max<int64_t>(1, c.n_splits); ++k) splits.push_back(k);
  return splits;
}

int check_before_mpi(const std::function<void()>& check) {
  try {
    check();
  } catch (const config::HelpRequested& help) {
    if (launcher_rank() == 0) std::cout << help.what();
    return 0;
  } catch (const ConfigError& error) {
    if (launcher_rank() == 0) std::cerr << "ERROR: " << error.what() << std::endl;
    return error.exit_code();
  }
  return kGoOn;
}

int run_collectively(comm::Runtime& runtime, const std::string& maps_dir, bool stoppable,
                     const std::function<void()>& body) {
  if (stoppable) install_stop_handlers();
  try {
    body();
  } catch (const Interrupted& stopped) {
    // Every rank took this path at the same step, after the state was written: a clean exit.
    if (runtime.control().is_main()) {
      log::info(stopped.what(), ". Continue with: clinicadl-hpc resume ", maps_dir);
    }
    return stopped.exit_code();
  } catch (const Error& error) {
    return end_with_error(runtime, error.what(), error.exit_code(),
                          dynamic_cast<const ConfigError*>(&error) != nullptr);
  } catch (const std::exception& error) {
    return end_with_error(runtime, error.what(), 1, false);
  }
  return 0;
}

int end_with_error(comm::Runtime& runtime, const std::string& message, int code, bool same_on_all) {
  const auto& topology = runtime.topology();
  if (topology.world_size == 1) {
    log::error(message);
    return code;
  }
  if (same_on_all && topology.rank != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  log::error(message, " (on ", topology.host, ")");
  runtime.abort(code);
}

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

}  // namespace cdl::app
