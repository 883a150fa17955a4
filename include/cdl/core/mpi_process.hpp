// MPI process start-up, shared by clinicadl-hpc (comm/runtime.hpp) and caps2h5: who launched this
// process, MPI's lifetime, and ending every rank of a job at once. LibTorch-free.
#pragma once

namespace cdl::mpi {

/// The MPI thread level a program asks for.
enum class ThreadLevel {
  kFunneled,  ///< MPI is called from the thread that started it (caps2h5)
  kMultiple,  ///< MPI is called from several threads (gradient buckets reduced during backward)
};

/// RAII owner of MPI for one process. Initialises MPI at `level` unless it is already
/// initialised, and finalises it on destruction if it initialised it. Works under mpirun/srun
/// and as a plain single process (MPI singleton).
class Process {
 public:
  /// Collective over MPI_COMM_WORLD. `argc`/`argv` may be null.
  explicit Process(ThreadLevel level, int* argc = nullptr, char*** argv = nullptr);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int rank() const { return rank_; }  ///< rank in MPI_COMM_WORLD
  int size() const { return size_; }  ///< ranks in MPI_COMM_WORLD

 private:
  bool owns_mpi_ = false;
  int rank_ = 0;
  int size_ = 1;
};

/// True when the environment shows an MPI or batch-system launcher (OMPI_COMM_WORLD_SIZE,
/// PMI_SIZE, PMIX_RANK, ...): the process is one rank of a job, even before MPI starts.
bool launched_by_mpi();

/// The rank the launcher gave this process (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK,
/// SLURM_PROCID), or 0; readable before MPI starts (who prints a usage message).
int launcher_rank();

/// Ends every rank of the job with `code` when MPI runs with more than one rank (MPI_Abort);
/// does nothing otherwise, so that the caller returns `code` itself.
void abort_other_ranks(int code);

}  // namespace cdl::mpi
