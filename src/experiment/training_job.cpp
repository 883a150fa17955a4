// Implementation of the training job shared by `train` and `resume`.
#include "cdl/experiment/training_job.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/node_memory.hpp"
#include "cdl/data/augmentation.hpp"
#include "cdl/device/device_setup.hpp"
#include "cdl/experiment/data_staging.hpp"
#include "cdl/experiment/experiment.hpp"
#include "cdl/experiment/split_loading.hpp"
#include "cdl/maps/maps_claim.hpp"
#include "cdl/maps/maps_writer.hpp"
#include "cdl/train/trainer.hpp"
#include "cdl/train/transfer.hpp"

namespace cdl::experiment {
namespace {

/// Bytes of images a rank may keep in memory: none with --no_cache or --memory_saving (images
/// are then read from the HDF5 file, by the I/O thread, at every epoch).
int64_t cache_budget(const config::TrainConfig& c, const comm::Topology& topology) {
  if (!c.cache || c.memory_saving) return 0;
  return node_memory_bytes() /
         (2 * std::max(1, topology.local_size));  // half the node, shared by its ranks
}

void print_summary(const WorkUnit& unit, const train::SplitSummary& summary,
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

/// The experiment of a run: its units and rank groups. Throws ConfigError (alike on every rank)
/// for --multi_network on data with a single part per image.
ExperimentPlan plan_experiment(const config::TrainConfig& c, const data::SplitData& first,
                               const std::vector<int64_t>& splits, int world_size) {
  ExperimentOptions options;
  options.splits = splits;
  options.multi_network = c.multi_network;
  options.split_parallel = c.split_parallel;
  options.world_size = world_size;
  if (c.multi_network) {
    options.networks = first.train->parts_per_image();
    if (options.networks < 2) {
      CDL_THROW(ConfigError, "--multi_network trains one network per part, but --mode ",
                data::mode_name(c.mode),
                " gives one part per image here; expected at least two (more ROIs in "
                "--roi_list, or patch/slice mode)");
    }
  }
  return ExperimentPlan(options);
}

/// The requested splits, those continued from a training state, and every split's sets (tables
/// only, no image cache), all checked before anything is written: a k-fold whose last split is
/// broken fails now, not after the first splits trained.
struct CheckedSplits {
  std::vector<int64_t> splits;
  std::set<int> resumed;
  std::vector<data::SplitData> sets;  ///< one per entry of `splits`
};

CheckedSplits check_splits(const config::TrainConfig& c,
                           const std::shared_ptr<const data::DataSource>& source,
                           const std::vector<SplitRun>& plan) {
  CheckedSplits checked;
  for (const auto& run : plan) {
    checked.splits.push_back(run.split);
    if (run.resume) checked.resumed.insert(static_cast<int>(run.split));
    checked.sets.push_back(load_split(c, source, static_cast<int>(run.split), 0));
  }
  return checked;
}

/// Bytes one training step of `network` needs at the least on a rank: a batch of inputs and
/// the layer outputs kept for backward (in the compute precision), and the weights and their
/// gradients in float32. Optimizer state, the image cache and LibTorch's workspaces come on top.
struct LeastStepMemory {
  double activations = 0;
  double parameters = 0;
  double total() const { return activations + parameters; }
};

LeastStepMemory least_step_memory(const config::TrainConfig& c, model::Network& network,
                                  const InputSize& input, const device::DeviceSetup& setup) {
  const bool on_cpu = !setup.placement.device.is_cuda();
  const auto records = model::trace_layers(network, input);
  const double value_bytes = setup.compute.amp ? 2.0 : 4.0;
  LeastStepMemory least;
  least.activations =
      static_cast<double>(c.batch_size) * value_bytes *
      static_cast<double>(model::kept_values_per_sample(network, records, input, on_cpu));
  least.parameters = 2.0 * 4.0 * static_cast<double>(model::count_parameters(network));
  return least;
}

/// Collective: refuses the job on every rank, before any image is cached or any MAPS written,
/// when one training step on CPUs needs more memory than this node has available for each of
/// its ranks (a huge image or batch would otherwise end in the kernel's out-of-memory killer).
/// The main rank traces `network` (built there; no activation is allocated) and sends the figures.
/// On GPUs the activations live in device memory, where LibTorch's allocator reports a shortage.
void check_step_fits_node_memory(const config::TrainConfig& c, model::Network* network,
                                 const InputSize& input, const device::DeviceSetup& setup,
                                 comm::Communicator& world, const comm::Topology& topology) {
  auto figures = torch::zeros({2}, torch::kFloat64);
  if (world.is_main()) {
    const auto least = least_step_memory(c, *network, input, setup);
    figures[0] = least.activations;
    figures[1] = least.parameters;
  }
  world.broadcast(figures, 0);
  if (setup.placement.device.is_cuda()) return;
  const LeastStepMemory least{figures[0].item<double>(), figures[1].item<double>()};
  const double available = static_cast<double>(available_memory_bytes());
  const double per_rank = available / std::max(1, topology.local_size);
  if (least.total() <= per_rank) return;
  CDL_THROW(ConfigError, "one training step of ", c.architecture, " on inputs of ",
            input.to_string(), " in batches of ", c.batch_size, " needs at least ",
            format_memory_size(least.total()), " per rank (", format_memory_size(least.activations),
            " for the inputs and the layer outputs kept "
            "for backward, ",
            format_memory_size(least.parameters),
            " for the weights and their "
            "gradients), more than the ",
            format_memory_size(per_rank), " available ",
            topology.local_size > 1
                ? "to each of the " + std::to_string(topology.local_size) + " ranks on " +
                      topology.host + " (" + format_memory_size(available) + " in all)"
                : "on " + topology.host,
            "; expected a smaller --batch_size (with --accumulation_steps to keep the same virtual "
            "batch)",
            c.memory_saving ? "" : ", --memory_saving", " or fewer ranks per node");
}

/// The back end --comm_backend asks for; nothing for auto (the runtime picks).
std::optional<comm::Backend> requested_backend(config::CommBackend choice) {
  switch (choice) {
    case config::CommBackend::kMpi:
      return comm::Backend::kMpi;
    case config::CommBackend::kNccl:
      return comm::Backend::kNccl;
    case config::CommBackend::kSerial:
      return comm::Backend::kSerial;
    case config::CommBackend::kAuto:
      break;
  }
  return std::nullopt;
}

/// Throws ConfigError (alike on every rank, before anything is written) for an unknown
/// --data_augmentation name, or one of TorchIO's 3D transforms on 2D samples (slices).
void check_augmentations(const config::TrainConfig& c, const data::SplitData& first) {
  const bool two_d = first.train->input_shape().size() == 3;  // [C, H, W]
  for (const auto augmentation : data::parse_augmentations(c.data_augmentation)) {
    if (two_d && data::needs_3d(augmentation)) {
      CDL_THROW(ConfigError, "--data_augmentation ", data::augmentation_name(augmentation),
                " is one of TorchIO's 3D transforms, but the samples are 2D (--mode ",
                data::mode_name(c.mode), "); expected Noise, Erasing, CropPad or Smoothing");
    }
  }
}

/// What the main rank holds while the job writes the MAPS: the claim of an existing MAPS
/// (resume), or the staging folder of a new one.
struct MapsHold {
  std::unique_ptr<maps::MapsClaim> claim;
  std::unique_ptr<maps::MapsStaging> staging;
};

/// Main rank: creates the new MAPS under its staging name (or claims the existing one) and
/// writes the groups/ tables of every split trained from scratch, after removing its old folder.
MapsHold prepare_maps(const config::TrainConfig& c, const CheckedSplits& checked,
                      const data::DataSource& source, int world_size,
                      const std::string& gradient_backend, bool new_maps, model::Network& network) {
  MapsHold hold;
  const auto& first = checked.sets.front();
  if (new_maps) {
    auto json = maps::maps_json(c, first, source.first()->preprocessing_json(), world_size,
                                gradient_backend);
    hold.staging = std::make_unique<maps::MapsStaging>(c.maps_dir, c.overwrite);
    maps::create_maps(maps::MapsLayout(hold.staging->root()), json, network,
                      InputSize::from_sample_shape(first.train->input_shape()), c.maps_dir);
  } else {
    hold.claim = std::make_unique<maps::MapsClaim>(c.maps_dir, false);
  }
  const maps::MapsLayout current(hold.staging ? hold.staging->root() : c.maps_dir);
  for (size_t i = 0; i < checked.splits.size(); ++i) {
    const int split = static_cast<int>(checked.splits[i]);
    if (checked.resumed.count(split) > 0) continue;
    cdl::remove_tree(current.split_dir(split));  // restarted: starts clean
    maps::write_split_groups(current, split, checked.sets[i], c);
  }
  return hold;
}

}  // namespace

void run_training_job(config::TrainConfig& c, comm::Runtime& runtime,
                      const std::vector<SplitRun>& plan, bool new_maps) {
  const auto& topology = runtime.topology();
  const auto setup = device::set_up_device(c, topology);
  if (c.memory_saving) {
    log::info(
        "--memory_saving: the first two convolution blocks fused whatever the input size, one "
        "sample at a time in slabs; no image cache (images are read from ",
        c.data_path, " at every epoch)");
  }
  std::unique_ptr<StagedData> staged;  // declared first: outlives every reader of its copies
  auto source = std::make_shared<const data::DataSource>(data::DataSource::open(c.data_path));
  if (!c.stage_data.empty()) {
    staged = StagedData::stage(*source, c.stage_data, runtime.control(), topology);
    source = staged->source();
  }
  const auto checked = check_splits(c, source, plan);
  check_augmentations(c, checked.sets.front());
  const auto experiment =
      plan_experiment(c, checked.sets.front(), checked.splits, topology.world_size);
  auto group = runtime.make_group_control(experiment.group_of_rank(topology.rank));
  auto gradients = runtime.make_gradient_communicator(requested_backend(c.comm_backend),
                                                      setup.placement.device.is_cuda(),
                                                      setup.placement.cuda_index, group.get());
  auto& world = runtime.control();
  // Built on the main rank only (traced for the memory bound and information.log); an input it
  // refuses (a RandomArchitecture too large for the node) is refused on every rank alike, so that a
  // random search can go on with its next run.
  model::NetworkPtr network;
  std::string refused;
  if (world.is_main()) {
    try {
      network = train::build_network(c, checked.sets.front());
    } catch (const ConfigError& error) {
      refused = error.what();
    }
  }
  world.broadcast_string(refused, 0);
  if (!refused.empty()) throw ConfigError(refused);
  check_step_fits_node_memory(
      c, network.get(), InputSize::from_sample_shape(checked.sets.front().train->input_shape()),
      setup, world, topology);
  MapsHold hold;
  if (world.is_main()) {
    hold = prepare_maps(c, checked, *source, topology.world_size,
                        comm::backend_name(gradients->backend()), new_maps, *network);
  }
  network.reset();  // the trainers build their own: no second copy of the weights meanwhile
  world.barrier();
  ExperimentContext context;
  context.config = &c;
  context.world = &world;
  context.control = group.get();
  context.gradients = gradients.get();
  context.compute = setup.compute;
  context.layout = maps::MapsLayout(c.maps_dir);
  context.source = source;
  context.cache_bytes = cache_budget(c, topology);
  context.resumed_splits = checked.resumed;
  // Every group's first unit calls this once its set-up succeeded: when all did, the new MAPS
  // takes its final name (before any group writes into it).
  context.on_start = [&world, &hold] {
    world.barrier();
    if (hold.staging) hold.staging->promote();
    world.barrier();
  };
  const auto summaries = run_experiment(experiment, context);
  log::set_speaks(group->is_main());
  for (const auto& [unit, summary] : summaries) print_summary(unit, summary, c.maps_dir);
  log::set_speaks(false);
}

void check_new_training(config::TrainConfig& c) {
  config::resolve_and_validate(c);
  maps::check_maps_destination(
      c.maps_dir, c.overwrite,
      {c.data_path, c.tsv_path, c.config_file, c.transfer_path, c.stage_data});
  for (const auto split : requested_splits(c)) {
    train::check_transfer_source(c, static_cast<int>(split));
  }
}

std::vector<int64_t> requested_splits(const config::TrainConfig& c) {
  if (!c.split.empty()) return c.split;
  std::vector<int64_t> splits;
  for (int64_t k = 0; k < std::max<int64_t>(1, c.n_splits); ++k) splits.push_back(k);
  return splits;
}

}  // namespace cdl::experiment
