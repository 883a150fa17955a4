#!/usr/bin/env bash
# Training throughput of data parallelism against one process using the same cores
# (design section 8: one run, ratios, ratio printed last).
#   bench/train_bench.sh [BUILD_DIR=build] [SUBJECTS=24] [SIZE=64x80x64] [EPOCHS=3]
# Same data, network (Conv5_FC3), seed and GLOBAL batch (4 images per weight update) in both runs:
#   (a) 1 rank  x 2 LibTorch threads: clinicadl-hpc train --threads 2 --batch_size 4 (no mpirun)
#   (b) 2 ranks x 1 LibTorch thread:  mpirun -np 2 clinicadl-hpc train --threads 1 --batch_size 2
# Both use 2 cores in all. A reference row (c) 1 rank x 1 thread (--batch_size 4) shows what the
# second thread of (a) brings: on a loaded machine intra-op threads can even slow a process down.
# Images/s and the data-wait fraction come from the trainer's own final line ("throughput X
# samples/s, data wait Y% of training time"), which times the training epochs only (no start-up,
# no evaluation). Runs on CPU (--gpu false). Also runs allreduce_bench when ALLREDUCE_BENCH
# (default BUILD_DIR/bench/allreduce_bench; set but empty: skip) exists. Needs mpirun; as root,
# export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (bench/run_all.sh does).
set -euo pipefail
build=${1:-build}
subjects=${2:-24}
size=${3:-64x80x64}
epochs=${4:-3}
bin="$build/src/clinicadl-hpc"
caps2h5="$build/data_tools/caps2h5"
for exe in "$bin" "$caps2h5"; do
  [[ -x "$exe" ]] || { echo "$exe not found (build targets clinicadl-hpc and caps2h5 first)" >&2; exit 2; }
done
command -v mpirun > /dev/null || { echo "mpirun not found" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/train_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Synthetic CAPS -> HDF5 -> train/validation split (quiet; errors still reach stderr).
make_data() {
  "$caps2h5" synthetic "$work/caps" --subjects "$subjects" --size "$size" --seed 1 > /dev/null
  "$caps2h5" convert "$work/caps" "$work/data.h5" --no-progress > /dev/null
  "$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/splits" > /dev/null
}

# train NAME [LAUNCHER...] -- OPTIONS...: runs one training (launcher words before "--", train
# options after) and sets rate and wait
# from its final log line. The log is kept in $work/<name>.log and shown on failure.
train() {
  local name=$1; shift
  local launcher=()
  while [[ $1 != -- ]]; do launcher+=("$1"); shift; done
  shift
  if ! "${launcher[@]}" "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_$name" \
      --overwrite --gpu false --learning_rate 1e-4 --seed 0 "$@" > "$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2; echo "training run '$name' failed" >&2; exit 1
  fi
  local line
  line=$(grep -E 'throughput [0-9.eE+-]+ samples/s' "$work/$name.log" | tail -1)
  rate=$(sed -E 's/.*throughput ([0-9.eE+-]+) samples\/s.*/\1/' <<< "$line")
  wait=$(sed -E 's/.*data wait ([0-9.eE+-]+)%.*/\1/' <<< "$line")
  [[ -n $rate && -n $wait ]] || { cat "$work/$name.log" >&2; echo "no throughput line in '$name'" >&2; exit 1; }
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

make_data
# Untimed warm-up (page cache, first-touch allocations, lazy library loading).
train warmup -- --threads 2 --batch_size 4 --epochs 1
train serial -- --threads 2 --batch_size 4 --epochs "$epochs"
serial_rate=$rate serial_wait=$wait
train ranks mpirun -np 2 -- --threads 1 --batch_size 2 --epochs "$epochs"
ranks_rate=$rate ranks_wait=$wait
train single -- --threads 1 --batch_size 4 --epochs "$epochs"
single_rate=$rate single_wait=$wait

echo "train_bench: Conv5_FC3, $subjects subjects at 1@$size, $epochs epochs, global batch 4, CPU, $(nproc) cores"
printf "%-38s %8.2f images/s   data wait %5.1f%%\n" \
  "(a) 1 rank  x 2 threads, batch 4" "$serial_rate" "$serial_wait" \
  "(b) 2 ranks x 1 thread,  batch 2/rank" "$ranks_rate" "$ranks_wait" \
  "(c) 1 rank  x 1 thread,  batch 4" "$single_rate" "$single_wait"
allreduce_bench=${ALLREDUCE_BENCH-$build/bench/allreduce_bench}  # set but empty: skip it
if [[ -x "$allreduce_bench" ]]; then
  mpirun -np 2 "$allreduce_bench" 10
elif [[ -n "$allreduce_bench" ]]; then
  echo "(allreduce_bench not built at $allreduce_bench: skipped)"
fi
echo "ratio threads (1 rank x 1 thread) / (1 rank x 2 threads): $(ratio "$single_rate" "$serial_rate")"
echo "ratio train (2 ranks x 1 thread) / (1 rank x 2 threads): $(ratio "$ranks_rate" "$serial_rate")"
