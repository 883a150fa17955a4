#!/usr/bin/env bash
# augmentation_bench.sh: what --data_augmentation costs an epoch (issue: every ClinicaDL option).
# The augmentations run on each rank's I/O thread while the training thread computes, so they
# cost nothing while the I/O thread keeps ahead of the training and a core is free for it. The
# same training (Conv5_FC3, 1 LibTorch thread per rank, CPU) runs without augmentation, with
# ClinicaDL's own four (Noise Erasing CropPad Smoothing) and with all ten, at 1 rank and at RANKS
# ranks, REPS times in turn (none, four, ten, none, ...), so that a drift of the machine's speed
# touches the three alike. It prints each run's steady epoch throughput (after the first epoch)
# and data-wait share, then per rank count the ratios against no augmentation of the same
# repetition (per epoch, then whole job): their median, with min and max.
# To show where they hide, it also takes each run's CPU time (all ranks, from the shell's
# children times) and prints the CPU seconds the augmentations added and the share of them that
# did not lengthen the job: 1 - RANKS x (extra wall seconds) / (extra CPU seconds), 1 when they
# ran entirely on CPU time the training left idle, 0 when every CPU second of theirs delayed it.
# The 1-rank runs show the overlap when a core is left for the I/O thread: they run unbound
# (--bind-to none), since Open MPI binds a rank to one core by default, which would put the lone
# rank's I/O thread on its training thread's core and leave the other idle. The RANKS runs keep
# the default binding (a core each): on a node with as many cores as ranks their I/O threads
# share the training's cores.
# Usage: bench/augmentation_bench.sh [BUILD_DIR=build] [SUBJECTS=24] [SIZE=96x112x96] [EPOCHS=3]
#        [RANKS=2] [REPS=3]
set -euo pipefail
build=${1:-build}
subjects=${2:-24}
size=${3:-96x112x96}
epochs=${4:-3}
ranks=${5:-2}
reps=${6:-3}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
bench_synthetic_set augmentation_bench "$subjects" "$size"

declare -A augmentations=(
  [none]=""
  [clinicadl]="Noise Erasing CropPad Smoothing"
  [all]="Noise Erasing CropPad Smoothing Motion Ghosting Spike BiasField RandomBlur RandomSwap")
results="$work/results.tsv"  # set ranks rep steady_rate data_wait wall cpu
children_cpu() {  # sets cpu_now: CPU seconds (user + system) of this shell's finished children
  times > "$work/times.txt"  # in this shell: a subshell's children are not this shell's
  cpu_now=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; ++i) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
                           printf "%.2f", t }' "$work/times.txt")
}
run() {  # SET RANKS REP
  local set="$1" np="$2" rep="$3" log="$work/$1_$2_$3.log" start binding=() steady wait wall
  local cpu_start cpu cpu_now
  [[ "$np" -eq 1 ]] && binding=(--bind-to none)
  children_cpu
  cpu_start=$cpu_now
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # the augmentation names are words on purpose
  mpirun --quiet "${binding[@]}" -np "$np" "$bin" train classification "$work/data.h5" \
    "$work/splits" "$work/maps_${set}_${np}_${rep}" --batch_size 2 --epochs "$epochs" --threads 1 \
    --gpu false --seed 0 ${augmentations[$set]:+--data_augmentation ${augmentations[$set]}} \
    > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  children_cpu
  cpu=$(awk -v a="$cpu_start" -v b="$cpu_now" 'BEGIN { printf "%.2f", b - a }')
  steady=$(sed -nE 's/.*throughput ([0-9.e+]+) samples\/s.*/\1/p' "$log" | tail -1)
  wait=$(sed -nE 's/.*data wait ([0-9.e+-]+)% of training time.*/\1/p' "$log" | tail -1)
  printf "%d rank(s) %-9s rep %d: %8.2f samples/s after the first epoch, data wait %6.2f%%, %7.2f s wall, %7.2f s CPU\n" \
    "$np" "$set" "$rep" "$steady" "$wait" "$wall" "$cpu"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$set" "$np" "$rep" "$steady" "$wait" "$wall" "$cpu" >> "$results"
}
echo "augmentation_bench: Conv5_FC3, $subjects subjects at 1@$size, $epochs epochs, 1 thread per" \
     "rank, batch 2 per rank, $reps repetitions, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for np in 1 "$ranks"; do
  for rep in $(seq "$reps"); do
    for set in none clinicadl all; do run "$set" "$np" "$rep"; done
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
runs = {(s, int(n), int(r)): (float(rate), float(wall), float(cpu))
        for s, n, r, rate, _, wall, cpu in rows}
for np in sorted({n for _, n, _ in runs}):
    for name in ("clinicadl", "all"):
        reps = sorted(r for s, n, r in runs if s == name and n == np)
        epoch = [runs["none", np, r][0] / runs[name, np, r][0] for r in reps]
        job = [runs[name, np, r][1] / runs["none", np, r][1] for r in reps]
        print(f"ratio epoch time {name} / none at {np} rank(s): {statistics.median(epoch):.3f} per"
              f" epoch (min {min(epoch):.3f}, max {max(epoch):.3f}), {statistics.median(job):.3f}"
              f" whole job (min {min(job):.3f}, max {max(job):.3f})")
        extra_cpu = [runs[name, np, r][2] - runs["none", np, r][2] for r in reps]
        hidden = [1 - np * (runs[name, np, r][1] - runs["none", np, r][1]) / extra
                  for r, extra in zip(reps, extra_cpu) if extra > 0]
        if hidden:
            print(f"  {name} at {np} rank(s): {statistics.median(extra_cpu):.1f} CPU s added, of which"
                  f" {statistics.median(hidden):.0%} hidden (min {min(hidden):.0%},"
                  f" max {max(hidden):.0%}): CPU time the training left idle")
PY
