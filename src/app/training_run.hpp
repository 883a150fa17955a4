// What `train` and `resume` share once their options are known: the device and communicator set-up,
// the MAPS claim, one SplitTrainer per split (new, restarted or resumed), and how errors and stop
// requests end the job on every rank.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/train_config.hpp"

namespace cdl::app {

/// One split to train: from scratch, or continued from its training state.
struct SplitRun {
  int64_t split = 0;
  bool resume = false;
};

/// The device a rank computes on, and its CUDA index.
struct Placement {
  torch::Device device = torch::kCPU;
  int cuda_index = 0;
};

/// The device of this rank for `config.gpu` (auto: CUDA when visible), which it resolves to
/// "true" or "false"; the GPU is chosen by the node-local rank. Throws ConfigError for --gpu true
/// without a CUDA device.
Placement choose_device(config::TrainConfig& config, const comm::Topology& topology);

/// The options of an existing MAPS (its maps.json), with maps_dir set; not validated. Throws
/// ConfigError when `maps_dir` holds no readable maps.json.
config::TrainConfig read_maps_config(const std::string& maps_dir);

/// The splits a configuration asks for: --split, else 0..n_splits-1 (0 alone without k-fold).
std::vector<int64_t> requested_splits(const config::TrainConfig& config);

/// Collective: trains the splits of `plan` in order into config.maps_dir. With `new_maps`, the
/// MAPS is created (maps.json, environment.txt, information.log); else it exists (resume), and a
/// split trained from scratch loses its old folder first.
void run_training(config::TrainConfig& config, comm::Runtime& runtime,
                  const std::vector<SplitRun>& plan, bool new_maps);

/// Status returned by check_before_mpi when the command goes on.
inline constexpr int kGoOn = -1;

/// Runs `check` (option parsing and validation) on every rank before MPI starts. Every rank
/// reaches the same verdict from the same arguments, so the launcher's rank 0 alone prints:
/// --help gives its text and 0, a ConfigError its message and status 2, on every rank. Returns
/// kGoOn when `check` succeeded.
int check_before_mpi(const std::function<void()>& check);

/// Runs `body` on every rank and turns what it throws into the job's exit status: a stop request
/// (Interrupted) returns kInterruptedExitCode on every rank after telling how to resume
/// `maps_dir`; any other error ends the whole job (see end_with_error). With `stoppable` (train,
/// resume), SIGTERM/SIGUSR1/SIGUSR2 become stop requests that the trainer honours at the next
/// weight update; otherwise they keep their default action.
int run_collectively(comm::Runtime& runtime, const std::string& maps_dir, bool stoppable,
                     const std::function<void()>& body);

/// Reports an error raised after MPI started and ends the job. One process: a plain message and
/// exit status (no MPI_Abort banner). Several: MPI_Abort, so that no rank waits forever in a
/// collective; an input error (ConfigError) is found alike by every rank, so the other ranks
/// give rank 0 a moment to print it once, and print it themselves only if rank 0 did not.
int end_with_error(comm::Runtime& runtime, const std::string& message, int code, bool same_on_all);

/// The rank the launcher gave this process (OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID), or 0.
int launcher_rank();

}  // namespace cdl::app
