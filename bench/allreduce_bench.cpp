// All-reduce benchmark (design section 8), in two parts, both on Conv5_FC3's gradients for
// 1@169x208x179 images (about 170 MB of float32):
// 1. GradientSync::reduce_gradients(kSum) against a raw MPI_Allreduce of the same byte count on
//    one float buffer; ratio ours / raw. Near 1: the bucketing (several calls instead of one; the
//    gradients are views of the buckets, so nothing is copied) costs little.
// 2. Training steps (forward, backward, gradient reduction; BATCH random images per rank, the
//    first block fused as the trainer runs it) with the buckets reduced on the background thread
//    while backward runs, and with the overlap off (reduced after backward). For each: the step
//    time and the exposed communication (the time the step waited for reductions) as a share of
//    the step; then the ratio of step times.
//   mpirun -np 2 allreduce_bench [REPETITIONS=10] [ARCHITECTURE=Conv5_FC3]
//   [INPUT_SIZE=1@169x208x179] [STEPS=3] [BATCH=2] [THREADS=1]
// STEPS=0 skips part 2. Only rank 0 prints.
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/core/input_size.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/model/network.hpp"
#include "cdl/train/gradient_sync.hpp"

namespace {

/// Command-line settings of the benchmark.
struct Settings {
  int repetitions = 10;
  std::string architecture = "Conv5_FC3";
  std::string input_size = "1@169x208x179";
  int steps = 3;
  int64_t batch = 2;
  int threads = 1;
};

/// Reads the optional positional arguments (repetitions, architecture, input size).
Settings parse_settings(int argc, char** argv) {
  Settings settings;
  if (argc > 1) settings.repetitions = std::max(1, std::stoi(argv[1]));
  if (argc > 2) settings.architecture = argv[2];
  if (argc > 3) settings.input_size = argv[3];
  if (argc > 4) settings.steps = std::max(0, std::stoi(argv[4]));
  if (argc > 5) settings.batch = std::max(1, std::stoi(argv[5]));
  if (argc > 6) settings.threads = std::max(1, std::stoi(argv[6]));
  return settings;
}

/// Gives every trainable parameter a gradient of ones times (rank + 1), in place (the gradients
/// are GradientSync's bucket views).
void fill_gradients(torch::nn::Module& module, int rank) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) {
    if (!parameter.requires_grad()) continue;
    if (parameter.grad().defined()) {
      parameter.mutable_grad().fill_(rank + 1.0);
    } else {
      parameter.mutable_grad() = torch::full_like(parameter, rank + 1.0);
    }
  }
}

/// Collective: the median over `repetitions` of the slowest rank's wall time of `step`, with one
/// untimed warm-up call first. Every rank starts each repetition together (barrier).
template <typename Step>
double median_seconds(int repetitions, Step step) {
  step();
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    step();
    double local = MPI_Wtime() - start, slowest = 0.0;
    MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    times.push_back(slowest);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// Median step time and the median share of it spent waiting for gradient reductions.
struct StepTimes {
  double step = 0.0, exposed = 0.0;
};

/// Collective: `steps` training steps (after one warm-up) of `network` on random batches, with
/// the bucket reductions overlapping backward or not; medians of the slowest rank.
StepTimes time_steps(cdl::model::Network& network, cdl::comm::Communicator& world,
                     const Settings& settings, bool overlap) {
  const auto sample_shape = cdl::parse_input_size(settings.input_size).sample_shape();
  std::vector<int64_t> shape{settings.batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  const auto inputs = torch::rand(shape);
  const auto labels = torch::randint(0, 2, {settings.batch}, torch::kInt64);
  cdl::train::GradientSync sync(network, world);
  sync.set_overlap(overlap);
  std::vector<double> steps, exposed;
  for (int i = 0; i <= settings.steps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime(), waited_before = sync.seconds();
    sync.reduce_during_next_backward(cdl::comm::ReduceOp::kSum);
    torch::nll_loss(torch::log_softmax(network.forward(inputs), 1), labels).backward();
    sync.reduce_gradients(cdl::comm::ReduceOp::kSum);
    sync.zero_gradients();
    double local[2] = {MPI_Wtime() - start, sync.seconds() - waited_before}, slowest[2] = {0, 0};
    MPI_Allreduce(local, slowest, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (i == 0) continue;  // warm-up
    steps.push_back(slowest[0]);
    exposed.push_back(slowest[1]);
  }
  std::sort(steps.begin(), steps.end());
  std::sort(exposed.begin(), exposed.end());
  return {steps[steps.size() / 2], exposed[exposed.size() / 2]};
}

/// Collective: part 2, printed on rank 0.
void run_training_steps(const Settings& settings, cdl::comm::MpiCommunicator& world) {
  torch::set_num_threads(settings.threads);
  torch::manual_seed(world.rank());
  cdl::model::NetworkOptions options;
  options.input_size = cdl::parse_input_size(settings.input_size);
  auto network = cdl::model::builtin_registry().create(settings.architecture, options);
  if (auto cnn = std::dynamic_pointer_cast<cdl::model::Cnn>(network)) {
    cnn->use_training_fusion(false);  // as the trainer
  }
  network->train();
  const auto overlapped = time_steps(*network, world, settings, true);
  const auto after = time_steps(*network, world, settings, false);
  if (world.rank() != 0) return;
  std::printf("training steps: batch %lld per rank, %d thread(s) per rank, median of %d\n",
              static_cast<long long>(settings.batch), settings.threads, settings.steps);
  const auto line = [](const char* name, const StepTimes& t) {
    std::printf("%-36s step %8.3f s, exposed communication %7.3f s = %5.1f %% of the step\n", name,
                t.step, t.exposed, 100.0 * t.exposed / t.step);
  };
  line("buckets reduced during backward", overlapped);
  line("buckets reduced after backward", after);
  std::printf("ratio step (after / during backward): %.2f\n", after.step / overlapped.step);
}

/// Collective: runs both contenders and prints the result on rank 0.
void run(const Settings& settings) {
  cdl::comm::MpiCommunicator world(MPI_COMM_WORLD);
  cdl::model::NetworkOptions options;
  options.input_size = cdl::parse_input_size(settings.input_size);
  auto network = cdl::model::builtin_registry().create(settings.architecture, options);
  fill_gradients(*network, world.rank());

  cdl::train::GradientSync sync(*network, world);
  const int64_t bytes = sync.bytes_per_update();
  // What a weight update does: the sum of the ranks' share-weighted gradients, in place.
  const double ours = median_seconds(settings.repetitions,
                                     [&] { sync.reduce_gradients(cdl::comm::ReduceOp::kSum); });

  std::vector<float> buffer(static_cast<size_t>(bytes) / sizeof(float), 1.0f);
  const double raw = median_seconds(settings.repetitions, [&] {
    MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(buffer.size()), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  });

  MPI_Barrier(MPI_COMM_WORLD);
  if (world.rank() != 0) return;
  std::printf("allreduce_bench: %s %s, %d ranks, %.1f MB per update in %zu buckets, median of %d\n",
              settings.architecture.c_str(), settings.input_size.c_str(), world.size(),
              static_cast<double>(bytes) / 1e6, sync.bucket_count(), settings.repetitions);
  std::printf("GradientSync::reduce_gradients   %9.4f s  %8.1f MB/s\n", ours, bytes / 1e6 / ours);
  std::printf("raw MPI_Allreduce (one buffer)   %9.4f s  %8.1f MB/s\n", raw, bytes / 1e6 / raw);
  std::printf("ratio allreduce (ours / raw): %.2f\n", ours / raw);
}

/// Collective: both parts.
void run_all(const Settings& settings) {
  run(settings);
  cdl::comm::MpiCommunicator world(MPI_COMM_WORLD);
  if (settings.steps > 0) run_training_steps(settings, world);
}

}  // namespace

/// Initialises MPI, runs the benchmark, and aborts every rank on any error.
int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);  // as clinicadl-hpc
  try {
    run_all(parse_settings(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "allreduce_bench: %s\n", error.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return 0;
}
