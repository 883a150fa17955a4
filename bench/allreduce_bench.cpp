// All-reduce benchmark (design section 8): the time of GradientSync::reduce_gradients(kSum) on
// Conv5_FC3's gradients for 1@169x208x179 images against a raw MPI_Allreduce of the same byte count
// on one float buffer, measured in the same run. Prints both times and the ratio (ours / raw) last.
//   mpirun -np 2 allreduce_bench [REPETITIONS=10] [ARCHITECTURE=Conv5_FC3]
//   [INPUT_SIZE=1@169x208x179]
// Only rank 0 prints. A ratio near 1 means the bucketing (several calls instead of one; the
// gradients are views of the buckets, so nothing is copied) costs little next to the reduction.
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
#include "cdl/train/gradient_sync.hpp"

namespace {

/// Command-line settings of the benchmark.
struct Settings {
  int repetitions = 10;
  std::string architecture = "Conv5_FC3";
  std::string input_size = "1@169x208x179";
};

/// Reads the optional positional arguments (repetitions, architecture, input size).
Settings parse_settings(int argc, char** argv) {
  Settings settings;
  if (argc > 1) settings.repetitions = std::max(1, std::stoi(argv[1]));
  if (argc > 2) settings.architecture = argv[2];
  if (argc > 3) settings.input_size = argv[3];
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

  if (world.rank() != 0) return;
  std::printf("allreduce_bench: %s %s, %d ranks, %.1f MB per update in %zu buckets, median of %d\n",
              settings.architecture.c_str(), settings.input_size.c_str(), world.size(),
              static_cast<double>(bytes) / 1e6, sync.bucket_count(), settings.repetitions);
  std::printf("GradientSync::reduce_gradients   %9.4f s  %8.1f MB/s\n", ours, bytes / 1e6 / ours);
  std::printf("raw MPI_Allreduce (one buffer)   %9.4f s  %8.1f MB/s\n", raw, bytes / 1e6 / raw);
  std::printf("ratio allreduce (ours / raw): %.2f\n", ours / raw);
}

}  // namespace

/// Initialises MPI, runs the benchmark, and aborts every rank on any error.
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  try {
    run(parse_settings(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "allreduce_bench: %s\n", error.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return 0;
}
