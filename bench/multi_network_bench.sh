#!/usr/bin/env bash
# multi_network_bench.sh: how --multi_network scales over ranks (issue: experiments across rank
# groups). The same training of 8 patch networks (one per patch) runs at 1, 2 and 4 ranks of one
# LibTorch thread each; the script prints each wall time, the speed-up against 1 rank and the
# parallel efficiency (speed-up / ranks; the goal is >= 0.9 while networks >= ranks), in one run.
# Rank counts above the machine's cores oversubscribe it: their figures then measure the cores,
# not the program (the script says so).
# Usage: bench/multi_network_bench.sh [BUILD_DIR=build] [SUBJECTS=40] [SIZE=96x112x96] [EPOCHS=2]
set -euo pipefail
build=${1:-build}
subjects=${2:-40}
size=${3:-96x112x96}
epochs=${4:-2}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
bench_synthetic_set multi_network_bench "$subjects" "$size"
# Patches of half the image in each direction: 2 x 2 x 2 = 8 networks.
patch=$(bench_half_patch "$size")

declare -A seconds
for ranks in 1 2 4; do
  log="$work/np$ranks.log"
  start=$(date +%s.%N)
  mpirun -np "$ranks" "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps$ranks" \
    --multi_network --mode patch --patch_size "$patch" --stride_size "$patch" --batch_size 4 \
    --epochs "$epochs" --threads 1 --gpu false --seed 0 --deterministic > "$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  seconds[$ranks]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  networks=$(grep -c "network [0-9]* finished" "$log" || true)
done
echo "multi_network_bench: $networks patch networks (${patch}^3), $subjects subjects at 1@$size," \
     "$epochs epoch(s), batch 4, 1 thread per rank, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for ranks in 1 2 4; do
  printf "%d rank(s): %8.2f s wall (start-up, data, training, evaluation, merge)\n" \
    "$ranks" "${seconds[$ranks]}"
done
for ranks in 2 4; do
  awk -v n="$ranks" -v t="${seconds[$ranks]}" -v t1="${seconds[1]}" -v cores="$(nproc)" 'BEGIN {
    printf "ratio multi-network speed-up %d ranks / 1 rank: %.2f (efficiency %.2f)%s\n", n,
           t1 / t, t1 / t / n, (n > cores ? ", more ranks than cores: bounded by the cores" : "") }'
done
