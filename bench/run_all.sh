#!/usr/bin/env bash
# Runs every benchmark of bench/ in one go and ends with a summary of their ratios
# (design section 8). Never part of the test suite.
#   bench/run_all.sh [BUILD_DIR=build]
# Needs BUILD_DIR/src/clinicadl-hpc and BUILD_DIR/data_tools/caps2h5; allreduce_bench is taken
# from BUILD_DIR/bench/ (or ALLREDUCE_BENCH=path) and skipped when absent. Sizes are the small
# defaults of each script; pass bigger ones by running the scripts one by one.
# Sets the Open MPI variables that allow running as root and oversubscribing a small machine
# (local runs only; batch jobs never need them).
set -euo pipefail
build=${1:-build}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
allreduce_bench=${ALLREDUCE_BENCH:-$build/bench/allreduce_bench}
log=$(mktemp "${TMPDIR:-/tmp}/bench_all.XXXXXX")
trap 'rm -f "$log"' EXIT

# Runs a benchmark, shows its output, and keeps it for the summary.
run() {
  echo "== $*"
  "$@" 2>&1 | tee -a "$log"
  echo
}

echo "bench/run_all.sh on $(hostname), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
run bash "$here/convert_bench.sh" "$build"
# ALLREDUCE_BENCH= (empty) keeps train_bench from running allreduce_bench: it runs once, below.
run env ALLREDUCE_BENCH= bash "$here/train_bench.sh" "$build"
if [[ -x "$allreduce_bench" ]]; then
  run mpirun -np 2 "$allreduce_bench" 10
else
  echo "== allreduce_bench not built at $allreduce_bench: skipped (ninja -C $build allreduce_bench)"
fi

run bash "$here/multi_network_bench.sh" "$build"
if [[ -x "$HOME/.cache/clinicadl-hpc/clinicadl_venv/bin/clinicadl" ]]; then
  run bash "$here/clinicadl_bench.sh" "$build"
else
  echo "== clinicadl_bench skipped: ClinicaDL is not installed (run tests/interop/clinicadl_predict.sh once)"
fi

echo "== summary of the ratios (see bench/README.md)"
echo "   convert: gzip time / caps2h5 time, > 1 = caps2h5 faster than plain gunzip"
echo "   train: 2-rank images/s / 1-rank images/s on the same 2 cores, > 1 = data parallel wins"
echo "   threads: 1-thread images/s / 2-thread images/s of one process, > 1 = the 2nd thread hurts"
echo "   allreduce: GradientSync time / raw MPI_Allreduce time of the same bytes, 1 = no overhead"
echo "   multi-network: 1-rank wall time / N-rank wall time of 8 networks, goal >= 0.9 x N"
echo "   clinicadl: ClinicaDL 1.6.1 / ours, time and peak memory, > 1 = we are faster / smaller"
grep -E '^ratio' "$log"
