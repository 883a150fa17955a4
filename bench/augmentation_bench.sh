#!/usr/bin/env bash
# augmentation_bench.sh: what --data_augmentation costs an epoch (issue: every ClinicaDL option).
# The augmentations run on each rank's I/O thread while the training thread computes, so they
# cost nothing while the I/O thread keeps ahead of the training and a core is free for it. The
# same training (Conv5_FC3, 1 LibTorch thread per rank, CPU) runs without augmentation, with
# ClinicaDL's own four (Noise Erasing CropPad Smoothing) and with all ten, at RANKS ranks and at
# 1 rank, in one run; the script prints each run's steady epoch throughput (after the first
# epoch), its data-wait share and the ratios against no augmentation at the same rank count (per
# epoch, then whole job), the all-ten ratio at RANKS ranks last. On a node with as many cores as
# ranks the I/O threads compete with training for the cores; the 1-rank runs show the overlap
# when a core is left for the I/O thread: they run unbound (--bind-to none), since Open MPI binds
# a rank to one core by default, which would put the lone rank's I/O thread on its training
# thread's core and leave the other idle. The RANKS runs keep the default binding (a core each).
# Usage: bench/augmentation_bench.sh [BUILD_DIR=build] [SUBJECTS=24] [SIZE=96x112x96] [EPOCHS=3]
#        [RANKS=2]
set -euo pipefail
build=${1:-build}
subjects=${2:-24}
size=${3:-96x112x96}
epochs=${4:-3}
ranks=${5:-2}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
bench_synthetic_set augmentation_bench "$subjects" "$size"

declare -A wall steady wait
run() {  # NAME RANKS AUGMENTATIONS...
  local name="$1" np="$2"; shift 2
  local log="$work/$name.log" start
  start=$(date +%s.%N)
  local binding=()
  [[ "$np" -eq 1 ]] && binding=(--bind-to none)
  mpirun --quiet "${binding[@]}" -np "$np" "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_$name" \
    --batch_size 2 --epochs "$epochs" --threads 1 --gpu false --seed 0 \
    ${1:+--data_augmentation "$@"} > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
  wall[$name]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  steady[$name]=$(sed -nE 's/.*throughput ([0-9.e+]+) samples\/s.*/\1/p' "$log" | tail -1)
  wait[$name]=$(sed -nE 's/.*data wait ([0-9.e+-]+)% of training time.*/\1/p' "$log" | tail -1)
}
for np in 1 "$ranks"; do
  run "none_$np" "$np"
  run "clinicadl_$np" "$np" Noise Erasing CropPad Smoothing
  run "all_$np" "$np" Noise Erasing CropPad Smoothing Motion Ghosting Spike BiasField RandomBlur RandomSwap
done
echo "augmentation_bench: Conv5_FC3, $subjects subjects at 1@$size, $epochs epochs, 1 thread per" \
     "rank, batch 2 per rank, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for np in 1 "$ranks"; do
  for set in none clinicadl all; do
    name="${set}_$np"
    printf "%d rank(s) %-9s %8.2f samples/s after the first epoch, data wait %6.2f%%, %7.2f s wall\n" \
      "$np" "$set" "${steady[$name]}" "${wait[$name]}" "${wall[$name]}"
  done
done
for np in 1 "$ranks"; do
  for set in clinicadl all; do
    awk -v n="$set" -v r="$np" -v s="${steady[${set}_$np]}" -v s0="${steady[none_$np]}" \
        -v w="${wall[${set}_$np]}" -v w0="${wall[none_$np]}" 'BEGIN {
      printf "ratio epoch time %s / none at %d rank(s): %.3f per epoch (throughput), %.3f whole job\n",
             n, r, s0 / s, w / w0 }'
  done
done
