#!/usr/bin/env bash
# LibTorch threads per rank follow the CPUs the launcher left each rank (its affinity mask), not
# the node's core count: a process pinned to one CPU runs 1 thread (counting the node's cores it
# ran one per core, all on that CPU); two unbound ranks split the node's CPUs; two ranks bound to
# a core each keep theirs; --threads beyond the rank's CPUs is warned about. The training
# loader's I/O threads (--n_proc) take the CPUs of that share that LibTorch's threads leave.
# Usage: cpu_share.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"; shift 5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
command -v taskset > /dev/null || { echo "SKIP: taskset (util-linux) is not installed"; exit 77; }
cpus=$(nproc)
[[ "$cpus" -ge 2 ]] || { echo "SKIP: one CPU here, nothing to share"; exit 77; }
rm -rf "$work" && mkdir -p "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

train() {  # NAME LAUNCHER... -- EXTRA OPTIONS...
  local name="$1"; shift
  local launcher=()
  while [[ "$1" != "--" ]]; do launcher+=("$1"); shift; done
  shift
  "${launcher[@]}" "$bin" train classification "$data" "$splits" "$work/maps_$name" --epochs 1 \
    --batch_size 4 "$@" > "$work/$name.log" 2>&1 ||
    { tail -5 "$work/$name.log"; fail "training $name"; }
}
expect() {  # NAME TEXT
  grep -qF -- "$2" "$work/$1.log" ||
    fail "$1: expected '$2' in the log, got: $(grep -E 'threads per rank|--threads' "$work/$1.log")"
}

first=$(taskset -cp $$ | sed -E 's/.*: ([0-9]+).*/\1/')
train pinned taskset -c "$first" --
expect pinned "LibTorch threads per rank: 1 (rank 0: its 1 CPU(s) shared by 1 rank(s) of the node's $cpus)"
expect pinned "I/O threads per rank: 1 (--n_proc 2; none of rank 0's 1 CPU(s) beside its 1 LibTorch thread(s): the I/O thread shares theirs)"
train spare taskset -c "0-$((cpus - 1))" -- --threads 1 --n_proc 3
expect spare "I/O threads per rank: $((cpus - 1 < 3 ? cpus - 1 : 3)) (--n_proc 3"
train unbound "$mpiexec" -n 2 "$@" --bind-to none --
expect unbound "LibTorch threads per rank: $((cpus / 2)) (rank 0: its $cpus CPU(s) shared by 2 rank(s))"
train bound "$mpiexec" -n 2 "$@" --bind-to core --
expect bound "LibTorch threads per rank: 1 (rank 0: its 1 CPU(s) shared by 1 rank(s) of the node's $cpus)"
train asked taskset -c "$first" -- --threads 2
expect asked "--threads 2 but rank 0 may run on 1 CPU(s)"
expect asked "LibTorch threads per rank: 2 (--threads)"
[[ "$failures" -eq 0 ]] && echo "cpu share: pinned, spare, unbound, bound and --threads runs as expected"
exit $((failures > 0))
