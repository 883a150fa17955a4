#!/usr/bin/env bash
# unit_scheduling_bench.sh: static against dynamic hand-out of units to rank groups (issue:
# cluster scale). One multi-network training (8 patch networks, early stopping with patience 1,
# so that networks stop after different numbers of epochs) runs on RANKS ranks of one thread
# (RANKS groups) with --unit_scheduling static, then dynamic, in one run. The script prints both
# wall times, each network's epochs, the makespan each schedule gives in unit-epochs (static: the
# largest sum over a group's units u = g mod G; ideal: the total / G) and the measured ratio
# dynamic / static, last.
# Usage: bench/unit_scheduling_bench.sh [BUILD_DIR=build] [SUBJECTS=32] [SIZE=80x96x80]
#        [EPOCHS=12] [RANKS=2]
set -euo pipefail
build=${1:-build}
subjects=${2:-32}
size=${3:-80x96x80}
epochs=${4:-12}
ranks=${5:-2}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
bench_synthetic_set unit_scheduling_bench "$subjects" "$size"
patch=$(bench_half_patch "$size")

declare -A seconds
for scheduling in static dynamic; do
  log="$work/$scheduling.log"
  start=$(date +%s.%N)
  mpirun --quiet -np "$ranks" "$bin" train classification "$work/data.h5" "$work/splits" \
    "$work/maps_$scheduling" --multi_network --mode patch --patch_size "$patch" \
    --stride_size "$patch" --batch_size 4 --epochs "$epochs" --patience 1 --learning_rate 1e-3 \
    --threads 1 --gpu false --seed 0 --unit_scheduling "$scheduling" > "$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  seconds[$scheduling]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
done
epochs_of=$(sed -nE 's/.*network ([0-9]+) finished after ([0-9]+) epoch.*/\1 \2/p' "$work/dynamic.log" | sort -n)
echo "unit_scheduling_bench: 8 patch networks (${patch}^3) of $subjects subjects at 1@$size, up to" \
     "$epochs epochs, patience 1, $ranks ranks x 1 thread, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "epochs per network: $(echo "$epochs_of" | awk '{ printf "%s:%s ", $1, $2 }')"
echo "$epochs_of" | awk -v g="$ranks" '{ total += $2; load[$1 % g] += $2 }
  END { for (k in load) if (load[k] > worst) worst = load[k];
        printf "makespan in unit-epochs: static %d, ideal %.1f (total %d over %d groups)\n", worst, total / g, total, g }'
printf "static  %8.2f s wall\ndynamic %8.2f s wall\n" "${seconds[static]}" "${seconds[dynamic]}"
awk -v s="${seconds[static]}" -v d="${seconds[dynamic]}" \
  'BEGIN { printf "ratio wall time dynamic / static: %.3f\n", d / s }'
