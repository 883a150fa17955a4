#!/usr/bin/env bash
# Training throughput on one GPU against the eager PyTorch baseline of the same network, batch and
# GPU (issue 7; design section 8: one run, ratios printed last).
#   bench/gpu_train_bench.sh [BUILD_DIR=build-gpu] [SIZE=169x208x179] [SUBJECTS=40] [EPOCHS=3]
# Same synthetic data for every run; Conv5_FC3, Adam lr 1e-4, seed 0, one rank:
#   ours fp32 (batch 4 and 16) and ours --amp (bf16 autocast + channels_last_3d), against
#   ../shared/gpu/baseline.py (BASELINE: path of another copy) in fp32 and bf16 + channels_last.
# Ours: the trainer's own line "throughput X samples/s after the first epoch", which times the
# training passes after the warm-up epoch (cuDNN autotuning), like the baseline's timed passes
# after its warm-up pass; the data-wait share comes from the same line.
# GPU=false runs everything on the CPU (a dry run of this script on small sizes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-build-gpu}
size=${2:-169x208x179}
subjects=${3:-40}
epochs=${4:-3}
gpu=${GPU:-true}
baseline=${BASELINE:-$root/../shared/gpu/baseline.py}
bin="$build/src/clinicadl-hpc"
caps2h5="$build/data_tools/caps2h5"
for exe in "$bin" "$caps2h5"; do
  [[ -x "$exe" ]] || { echo "$exe not found (build clinicadl-hpc and caps2h5 first)" >&2; exit 2; }
done
[[ -f "$baseline" ]] || { echo "baseline $baseline not found (set BASELINE=...)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_train_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$caps2h5" synthetic "$work/caps" --subjects "$subjects" --size "$size" --seed 0 > /dev/null
"$caps2h5" convert "$work/caps" "$work/data.h5" --no-progress > /dev/null
"$caps2h5" split "$work/caps/labels.tsv" --n_test 8 --seed 0 --output_dir "$work/split" > /dev/null

declare -A rate wait
train() {  # NAME BATCH [OPTIONS...]
  local name=$1 batch=$2; shift 2
  if ! "$bin" train classification "$work/data.h5" "$work/split" "$work/maps_$name" --overwrite \
      --architecture Conv5_FC3 --batch_size "$batch" --epochs "$epochs" --learning_rate 1e-4 \
      --seed 0 --gpu "$gpu" "$@" > "$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2; echo "training run '$name' failed" >&2; exit 1
  fi
  local line
  line=$(grep -E 'throughput [0-9.eE+-]+ samples/s' "$work/$name.log" | tail -1)
  rate[$name]=$(sed -E 's/.*throughput ([0-9.eE+-]+) samples\/s.*/\1/' <<< "$line")
  wait[$name]=$(sed -E 's/.*data wait ([0-9.eE+-]+)%.*/\1/' <<< "$line")
}
for batch in 4 16; do
  train "fp32_b$batch" "$batch"
  train "amp_b$batch" "$batch" --amp
done

device=cuda; [[ $gpu == true ]] || device=cpu
python3 "$baseline" --device "$device" --size "$size" > "$work/baseline.log" 2>&1 \
  || { cat "$work/baseline.log" >&2; echo "baseline failed" >&2; exit 1; }
eager() {  # KIND BATCH: images/s of a baseline line
  awk -v k="$1" -v b="batch=$2" '$1 == k && $2 == b && $3 != "cudnn_benchmark=1" {
    for (i = 3; i <= NF; ++i) if ($i ~ /^images_per_s=/) { split($i, a, "="); print a[2]; exit } }' \
    "$work/baseline.log"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }

echo "gpu_train_bench: Conv5_FC3 at 1@$size, $subjects subjects, $epochs epochs, device $device"
grep -m1 BASELINE_INFO "$work/baseline.log" || true
for batch in 4 16; do
  printf "batch %2s  ours fp32 %7.2f img/s (data wait %4.1f%%)  eager fp32 %7s | ours amp %7.2f (data wait %4.1f%%)  eager bf16+cl %7s\n" \
    "$batch" "${rate[fp32_b$batch]}" "${wait[fp32_b$batch]}" "$(eager BASELINE "$batch")" \
    "${rate[amp_b$batch]}" "${wait[amp_b$batch]}" "$(eager BASELINE_AMP "$batch")"
done
for batch in 4 16; do
  echo "ratio ours/eager batch $batch: fp32 $(ratio "${rate[fp32_b$batch]}" "$(eager BASELINE "$batch")"), amp $(ratio "${rate[amp_b$batch]}" "$(eager BASELINE_AMP "$batch")")"
done
