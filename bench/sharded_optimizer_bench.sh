#!/usr/bin/env bash
# sharded_optimizer_bench.sh: memory per rank of --fully_sharded_data_parallel against the
# replicated optimizer, in one run. The same training (Conv5_FC3, Adam, one epoch, batch 1) runs
# on RANKS ranks with the replicated optimizer, then sharded; each rank's peak resident memory is
# taken by GNU time (%M). Prints both rows per rank, the state share the engine reports, the
# difference per rank (the Adam moments no longer held: 8 bytes x weights x (1 - 1/RANKS)
# expected) and the wall-time ratio sharded / replicated, last.
# Usage: bench/sharded_optimizer_bench.sh [BUILD_DIR=build] [SUBJECTS=8] [SIZE=169x208x179]
#        [RANKS=2]
set -euo pipefail
build=${1:-build}
subjects=${2:-8}
size=${3:-169x208x179}
ranks=${4:-2}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is needed for the peak memory" >&2; exit 2; }
bench_synthetic_set sharded_optimizer_bench "$subjects" "$size"

declare -A seconds
for variant in replicated sharded; do
  extra=()
  [[ "$variant" == sharded ]] && extra=(--fully_sharded_data_parallel)
  start=$(date +%s.%N)
  # Each rank under GNU time, its report named after the rank (Open MPI's OMPI_COMM_WORLD_RANK).
  # shellcheck disable=SC2016  # expanded by the rank's shell
  mpirun --quiet -np "$ranks" sh -c '/usr/bin/time -f "peak_kib %M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' \
    "$work/$variant" "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_$variant" \
    --epochs 1 --batch_size 1 --threads 1 --gpu false --seed 0 --no_cache "${extra[@]}" \
    > "$work/$variant.log" 2>&1 || { cat "$work/$variant.log" >&2; exit 1; }
  seconds[$variant]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
done
echo "sharded_optimizer_bench: Conv5_FC3, Adam, $subjects subjects at 1@$size, 1 epoch, batch 1," \
     "$ranks ranks x 1 thread, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
grep -h "state sharded over" "$work/sharded.log" | sed 's/^\[rank [0-9/]*\] //'
for ((r = 0; r < ranks; ++r)); do
  a=$(sed -nE 's/peak_kib ([0-9]+)/\1/p' "$work/replicated.$r")
  b=$(sed -nE 's/peak_kib ([0-9]+)/\1/p' "$work/sharded.$r")
  awk -v r="$r" -v a="$a" -v b="$b" 'BEGIN { printf "rank %d peak RSS: replicated %.1f MiB, sharded %.1f MiB, difference %.1f MiB (ratio %.3f)\n", r, a / 1024, b / 1024, (a - b) / 1024, b / a }'
done
printf "replicated %8.2f s wall\nsharded    %8.2f s wall\n" "${seconds[replicated]}" "${seconds[sharded]}"
awk -v a="${seconds[replicated]}" -v b="${seconds[sharded]}" \
  'BEGIN { printf "ratio wall time sharded / replicated: %.3f\n", b / a }'
