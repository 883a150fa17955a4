// The MPI runtime of one process: MPI lifetime, topology (world and node-local ranks), the
// control communicator and the factory of the gradient communicator.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cdl/comm/communicator.hpp"
#include "cdl/core/mpi_process.hpp"

namespace cdl::comm {

/// Where ranks are: world and node-local coordinates.
struct Topology {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  ///< rank among the processes of this node
  int local_size = 1;  ///< processes on this node
  int node = 0;        ///< world rank of this node's first process: one number per node
  std::string host;
  int cpus = 1;            ///< CPUs this rank may run on (its affinity mask at start-up)
  int cpus_shared_by = 1;  ///< ranks of this node running on those CPUs, itself included
};

/// Number of LibTorch intra-op threads a rank should use: its share of the CPUs it may run on
/// (all of them when the launcher bound it to cores of its own; the node's CPUs divided among
/// the ranks when they are unbound), at least 1. Counting the node's cores instead would put
/// N / ranks threads on the single core that `mpirun -np 2` binds each rank to by default.
int fair_thread_count(const Topology& topology);

/// The MPI runtime of the engine: MPI's lifetime (core/mpi_process.hpp, thread level MULTIPLE),
/// where ranks are, and the communicators. Works under mpirun/srun and as a plain single process
/// (MPI singleton).
class Runtime {
 public:
  /// Collective over MPI_COMM_WORLD.
  Runtime(int* argc, char*** argv);
  /// Collective over `parent`'s ranks: a view of the ranks of `parent` that passed the same
  /// `group` number, as a job of their own (its control communicator, rank and size are the
  /// group's). The node-local coordinates stay those of the whole job: the ranks of other groups
  /// share the node's cores, memory and GPUs. MPI's lifetime stays with `parent`, which must
  /// outlive the view. Random search runs its trainings on such views.
  Runtime(Runtime& parent, int group);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Topology& topology() const { return topology_; }

  /// The control communicator (MPI over all ranks): decisions, gathers, small messages.
  Communicator& control() { return *control_; }

  /// Collective over all ranks: the control communicator of this rank's group (MPI over the
  /// ranks of the same `group` number, ordered by world rank).
  std::unique_ptr<Communicator> make_group_control(int group);

  /// Collective over all ranks: builds the communicator that reduces gradients among the ranks of
  /// `group` (an MPI communicator from make_group_control), or of the whole job when `group` is
  /// null. `requested` is MPI, NCCL, serial (only for one rank per group) or nothing (auto:
  /// NCCL when it was compiled in and `on_cuda` is true, MPI otherwise). Throws ConfigError
  /// (same on every rank) when the request cannot be met, listing the compiled-in back ends.
  std::unique_ptr<Communicator> make_gradient_communicator(std::optional<Backend> requested,
                                                           bool on_cuda, int cuda_device,
                                                           Communicator* group = nullptr);

  /// Ends every rank of the job with `code` (MPI_Abort when there are several). Never returns.
  [[noreturn]] void abort(int code);

 private:
  std::optional<mpi::Process> process_;  // first: MPI starts before, ends after, the members below
  Topology topology_;
  std::unique_ptr<Communicator> control_;
};

/// Names of the back ends compiled into this build, e.g. "serial, mpi, nccl".
std::string compiled_backends();

}  // namespace cdl::comm
