// Implementation of the MPI runtime and the gradient communicator factory: the only place that
// knows whether NCCL was compiled in.
#include "cdl/comm/runtime.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <torch/cuda.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/comm/serial_communicator.hpp"
#include "cdl/config.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/node_memory.hpp"
#if CDL_WITH_NCCL
#include "cdl/comm/nccl_communicator.hpp"
#endif

namespace cdl::comm {
namespace {

/// Collective over `node`: how many of the node's ranks run on CPUs of this rank's affinity mask
/// (the masks gathered over the node; padded to the longest).
int ranks_sharing_my_cpus(MPI_Comm node, const std::vector<uint64_t>& mine, int local_rank,
                          int local_size) {
  int words = static_cast<int>(mine.size());
  MPI_Allreduce(MPI_IN_PLACE, &words, 1, MPI_INT, MPI_MAX, node);
  std::vector<uint64_t> padded(mine);
  padded.resize(static_cast<size_t>(words), 0);
  std::vector<uint64_t> all(static_cast<size_t>(words) * static_cast<size_t>(local_size));
  MPI_Allgather(padded.data(), words, MPI_UINT64_T, all.data(), words, MPI_UINT64_T, node);
  std::vector<std::vector<uint64_t>> masks;
  for (int r = 0; r < local_size; ++r) {
    masks.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(r) * words,
                       all.begin() + static_cast<std::ptrdiff_t>(r + 1) * words);
  }
  return ranks_sharing_cpus(masks, local_rank);
}

Topology discover_topology() {
  Topology topology;
  MPI_Comm_rank(MPI_COMM_WORLD, &topology.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &topology.world_size);
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, topology.rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &topology.local_rank);
  MPI_Comm_size(node, &topology.local_size);
  topology.node = topology.rank;
  MPI_Bcast(&topology.node, 1, MPI_INT, 0, node);
  const auto mask = usable_cpu_mask();
  topology.cpus = count_cpus(mask);
  topology.cpus_shared_by =
      ranks_sharing_my_cpus(node, mask, topology.local_rank, topology.local_size);
  MPI_Comm_free(&node);
  topology.host = host_name();
  return topology;
}

}  // namespace

std::string compiled_backends() {
  return CDL_WITH_NCCL ? "serial, mpi, nccl" : "serial, mpi";
}

// MULTIPLE: gradient buckets are reduced on a background thread during backward
// (comm/background_reducer.hpp); with less, they are reduced after backward.
Runtime::Runtime(int* argc, char*** argv) {
  process_.emplace(mpi::ThreadLevel::kMultiple, argc, argv);
  topology_ = discover_topology();
  control_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  log::set_rank(topology_.rank, topology_.world_size);
}

Runtime::Runtime(Runtime& parent, int group) : topology_(parent.topology_) {
  control_ = parent.control_->split(group, parent.topology_.rank);
  topology_.rank = control_->rank();
  topology_.world_size = control_->size();
}

Runtime::~Runtime() {
  control_.reset();  // before MPI ends with process_
}

std::unique_ptr<Communicator> Runtime::make_group_control(int group) {
  return control_->split(group, topology_.rank);
}

std::unique_ptr<Communicator> Runtime::make_gradient_communicator(std::optional<Backend> requested,
                                                                  bool on_cuda, int cuda_device,
                                                                  Communicator* group) {
  Communicator& ranks = group != nullptr ? *group : *control_;
  // A communicator of its own (MPI_Comm_split duplicates): gradient traffic never mixes with
  // control messages.
  const auto mpi_over_ranks = [&] { return ranks.split(0, ranks.rank()); };
  if (requested == Backend::kSerial) {
    // Decided on every rank together: some groups may hold one rank and others more.
    if (control_->any_of(ranks.size() != 1)) {
      CDL_THROW(ConfigError,
                "--comm_backend serial needs one rank per group of ranks, the job has ",
                topology_.world_size, " rank(s)", group != nullptr ? " in groups" : "",
                "; hint: use auto or mpi");
    }
    return std::make_unique<SerialCommunicator>();
  }
  const bool want_nccl = requested == Backend::kNccl || (!requested && on_cuda && CDL_WITH_NCCL);
  if (!want_nccl) return mpi_over_ranks();
#if CDL_WITH_NCCL
  if (!on_cuda) {
    CDL_THROW(ConfigError,
              "--comm_backend nccl needs the model on a CUDA device; "
              "hint: use --gpu true, or --comm_backend mpi on CPUs");
  }
  // NCCL needs one GPU per rank; decide on every rank together, before NCCL is touched.
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (control_->any_of(topology_.local_size > gpus)) {
    if (!requested) {
      log::info(
          "more ranks per node than GPUs: gradients go through MPI (staged through host "
          "memory), not NCCL");
      return mpi_over_ranks();
    }
    CDL_THROW(
        ConfigError,
        "--comm_backend nccl needs one GPU per rank, but a node runs more ranks "
        "than it has GPUs (this node, ",
        topology_.host, ": ", topology_.local_size, " rank(s), ", gpus,
        " GPU(s)); hint: start at most one rank per GPU (e.g. srun "
        "--ntasks-per-node=<GPUs per node>), or use --comm_backend mpi to let ranks share a GPU");
  }
  auto& mpi = static_cast<MpiCommunicator&>(ranks);
  return std::make_unique<NcclCommunicator>(mpi, cuda_device);
#else
  CDL_THROW(ConfigError,
            "--comm_backend nccl was requested but this build has no NCCL (compiled "
            "in: ",
            compiled_backends(), "); hint: rebuild with -DWITH_CUDA=ON -DWITH_NCCL=ON");
#endif
}

int fair_thread_count(const Topology& topology) {
  return std::max(1, topology.cpus / std::max(1, topology.cpus_shared_by));
}

void Runtime::abort(int code) {
  mpi::abort_other_ranks(code);
  std::_Exit(code);
}

}  // namespace cdl::comm
