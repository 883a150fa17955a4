# Shared environment of every batch script in jobs/ (sourced, never executed).
# Expects: JOB_NAME, JOB_ID (set by the calling script from the scheduler's variables).
# Provides: CDL_ROOT (repository root), CDL_BIN, CDL_CAPS2H5 (the executables), RUN_DIR
#   (runs/${JOB_NAME}_${JOB_ID}/, created here), cdl_log_cmd (echo a command line, then run it).
# Site-specific lines (modules, network interfaces) are commented examples: uncomment and adapt.
# shellcheck shell=bash

: "${JOB_NAME:?set JOB_NAME (the calling script derives it from the scheduler)}"
: "${JOB_ID:?set JOB_ID (the calling script derives it from the scheduler)}"

# --- Modules (examples; names differ per site) -------------------------------------------------
# module purge
# module load gcc/12 openmpi/4.1 hdf5/1.12 cuda/12.1 nccl/2.18
# module load libtorch/2.1     # or: export LD_LIBRARY_PATH=/path/to/libtorch/lib:$LD_LIBRARY_PATH

# --- Where the code is -------------------------------------------------------------------------
# Batch systems run a copy of the script from a spool folder, so BASH_SOURCE is useless there:
# the scripts are submitted from the repository root (SLURM_SUBMIT_DIR / PBS_O_WORKDIR), or
# CDL_ROOT says where it is.
: "${CDL_ROOT:=${SLURM_SUBMIT_DIR:-${PBS_O_WORKDIR:-$PWD}}}"
: "${CDL_BUILD_DIR:=$CDL_ROOT/build}"
: "${CDL_BIN:=$CDL_BUILD_DIR/src/clinicadl-hpc}"
: "${CDL_CAPS2H5:=$CDL_BUILD_DIR/data_tools/caps2h5}"
export CDL_ROOT CDL_BUILD_DIR CDL_BIN CDL_CAPS2H5

# --- Threads -----------------------------------------------------------------------------------
# One rank per GPU; each rank gets the CPUs the scheduler gave its task. clinicadl-hpc --threads 0
# (the default) already uses the rank's share of the node; OMP_NUM_THREADS keeps OpenMP code in
# libraries (HDF5 filters, MKL) from oversubscribing the node.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-${NCPUS_PER_RANK:-1}}}"

# --- Files -------------------------------------------------------------------------------------
# HDF5 locks files with flock(), which Lustre and some NFS mounts refuse or make slow. The engine
# only reads the .h5 during training, so locking is not needed; caps2h5 writes to name.tmp and
# renames at the end.
export HDF5_USE_FILE_LOCKING=FALSE

# --- NCCL / network knobs (commented out: the defaults are usually right) -----------------------
# export NCCL_DEBUG=INFO              # print NCCL's transport choice (IB, sockets, NVLink) per rank
# export NCCL_DEBUG_SUBSYS=INIT,NET   # narrow NCCL_DEBUG output to initialisation and network
# export NCCL_SOCKET_IFNAME=ib0       # interface NCCL bootstraps on (e.g. ib0, hsn0); avoids docker0/lo
# export NCCL_IB_DISABLE=1            # force TCP sockets: for nodes without InfiniBand or to debug IB
# export UCX_TLS=rc,sm,self           # Open MPI over UCX: restrict transports if UCX picks a slow one
# export UCX_NET_DEVICES=mlx5_0:1     # Open MPI over UCX: pin the HCA port used by MPI traffic

# --- Run directory -----------------------------------------------------------------------------
# Every job writes its log, a copy of its config and (by default) its MAPS folder here.
RUN_DIR="$CDL_ROOT/runs/${JOB_NAME}_${JOB_ID}"
mkdir -p "$RUN_DIR"
export RUN_DIR

# Echoes "$@" (shell-quoted, with the time) to stdout, then runs it.
cdl_log_cmd() {
  printf '[%s] +' "$(date -u +%FT%TZ)"
  printf ' %q' "$@"
  printf '\n'
  "$@"
}

# Exit status of clinicadl-hpc when it stopped on a signal after saving its training state.
CDL_EXIT_STOPPED=4

# Runs "$@" (a launcher line: srun or mpirun ... clinicadl-hpc train|resume) in the background and
# forwards SIGUSR1 and SIGTERM received by this batch shell to it as SIGUSR1: mpirun and srun pass
# SIGUSR1 on to the ranks, which save their training state at the next weight update and exit
# with status 4 (CDL_EXIT_STOPPED). Returns the launcher's exit status.
cdl_run_stoppable() {
  printf '[%s] +' "$(date -u +%FT%TZ)"
  printf ' %q' "$@"
  printf '\n'
  "$@" &
  local pid=$! status=0
  # shellcheck disable=SC2064  # pid is fixed now on purpose
  trap "echo \"[\$(date -u +%FT%TZ)] stop requested: the ranks save their state and stop\"; kill -USR1 $pid 2>/dev/null" USR1 TERM
  wait "$pid" || status=$?
  while kill -0 "$pid" 2>/dev/null; do  # wait returns early when a trapped signal arrives
    status=0
    wait "$pid" || status=$?
  done
  trap - USR1 TERM
  return "$status"
}

# The subcommand that continues MAPS_DIR ("resume MAPS_DIR") when an earlier run of this job
# created it (a requeued job), else the given train command line.
# STAGE_DATA (optional): a node-local folder (e.g. "$TMPDIR") given as --stage_data to train and
# to resume alike (the folder belongs to the allocation, so maps.json does not record it).
cdl_train_or_resume() {  # maps_dir train-args...
  local maps="$1"; shift
  local stage=()
  if [[ -n "${STAGE_DATA:-}" ]]; then stage=(--stage_data "$STAGE_DATA"); fi
  if [[ -f "$maps/maps.json" ]]; then
    echo "resume MAPS $maps (it exists: this job was requeued or restarted)" >&2
    printf '%s\0' resume "$maps" "${stage[@]}"
  else
    printf '%s\0' train "$@" "${stage[@]}"
  fi
}

# Fails early with a clear message when an executable is missing.
cdl_require_exe() {
  [[ -x "$1" ]] || { echo "error: $1 is not an executable; build it (jobs/local/build.sh) or set CDL_BUILD_DIR" >&2; exit 2; }
}

# Where the job runs, for the log.
echo "job ${JOB_NAME}_${JOB_ID} on $(hostname) at $(date -u +%FT%TZ); run dir $RUN_DIR"
