#!/usr/bin/env bash
# Scaling model (bench/scaling_model.py): measures its inputs on this machine, checks its
# predictions against measured runs, and prints the GPU and CPU-node tables.
#   bench/scaling_model.sh [BIN_DIR=build] [OUT_DIR=new folder] [SUBJECTS=16] [SIZE=128x160x128]
#                          [EPOCHS=3] [REPS=3]
# BIN_DIR holds clinicadl-hpc, caps2h5 and allreduce_bench, flat or as a build folder
# (src/, data_tools/, bench/): copy them out of a build folder that is being rebuilt.
# Steps (each timed measurement waits for a 1-minute load below 0.8 and records /proc/loadavg):
#   1. alpha/beta: allreduce_bench's raw MPI_Allreduce (one buffer of each Conv5_FC3 gradient
#      size: inputs 64x80x64, 96x112x96, 128x160x128, 169x208x179), 2 ranks through shared
#      memory and 2 ranks on 2 emulated nodes (TCP between network namespaces; root only);
#      REPS runs each, median; fit of t = 2(P-1) alpha + 2(P-1)/P n beta.
#   2. calibration: REPS 1-rank runs on SUBJECTS/2 images (1 thread, batch 2), the median one
#      taken, the same with --profiler for the shares of the phases, and at 2 ranks for the
#      busy-node factor.
#   3. check: REPS x (1 rank, 2 ranks, 2 emulated nodes) on SUBJECTS images, steady epoch times
#      (epochs after the first, training.tsv) against the model's predictions.
#   4. the tables (800 + 200 images of 169x208x179, batch 4 per rank) and the recommendation.
# Results stay in OUT_DIR: allreduce.tsv, fits.json, calibration.json, runs.tsv, check.txt,
# table.txt, the logs. Emulated nodes need root; without it step 1 and 3 skip them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/bench_lib.sh
source "$here/bench_lib.sh"
bin_dir=${1:-build}
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/scaling_model.XXXXXX")}
subjects=${3:-16}
size=${4:-128x160x128}
epochs=${5:-3}
reps=${6:-3}
batch=2
model="python3 $here/scaling_model.py"

find_bin() {  # NAME SUBDIR: BIN_DIR/NAME or BIN_DIR/SUBDIR/NAME
  if [[ -x "$bin_dir/$1" ]]; then echo "$bin_dir/$1"
  elif [[ -x "$bin_dir/$2/$1" ]]; then echo "$bin_dir/$2/$1"
  else echo "$1 not found in $bin_dir" >&2; exit 2; fi
}
bin=$(find_bin clinicadl-hpc src)
caps2h5=$(find_bin caps2h5 data_tools)
allreduce=$(find_bin allreduce_bench bench)
command -v mpirun > /dev/null || { echo "mpirun not found" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$out"
echo "scaling_model: results in $out"

nodes=0
if bench_nodes_up "$out"; then nodes=1; trap bench_nodes_down EXIT
else echo "no emulated nodes: the TCP fit and the 2-node runs are skipped"; fi

make_set() {  # NAME SUBJECTS
  local dir="$out/$1"
  [[ -f "$dir/data.h5" ]] && return 0
  "$caps2h5" synthetic "$dir/caps" --subjects "$2" --size "$size" --seed 1 > /dev/null
  "$caps2h5" convert "$dir/caps" "$dir/data.h5" --no-progress > /dev/null
  "$caps2h5" split "$dir/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$dir/splits" > /dev/null
  rm -rf "$dir/caps"
}
make_set check "$subjects"
make_set calibration $((subjects / 2))

# --- 1. alpha and beta -----------------------------------------------------------------------
records="$out/allreduce.tsv"
echo -e "fabric\tranks\tbytes\tseconds\tload" > "$records"
allreduce_once() {  # FABRIC INPUT [mpirun options...]
  local fabric=$1 input=$2 line mb rate load
  shift 2
  load=$(bench_wait_idle 600 | sed -E 's/load: ([0-9.]+).*/\1/')
  line=$(mpirun --quiet -np 2 "$@" "$allreduce" 10 Conv5_FC3 "1@$input" 0 2 1 | tee -a "$out/allreduce.log")
  mb=$(sed -nE 's/.* ([0-9.]+) MB per update.*/\1/p' <<< "$line")
  rate=$(sed -nE 's/^raw MPI_Allreduce.* ([0-9.]+) MB\/s$/\1/p' <<< "$line")
  # bytes from the model's own count (the bench prints MB with one decimal)
  local bytes
  bytes=$(python3 -c "import sys; sys.path.insert(0, '$here'); import scaling_model as m; print(m.parameter_count(m.parse_size('$input')) * 4)")
  awk -v f="$fabric" -v b="$bytes" -v r="$rate" -v l="$load" -v mb="$mb" \
    'BEGIN { printf "%s\t2\t%d\t%.6g\t%s\n", f, b, mb / r, l }' >> "$records"
}
for rep in $(seq "$reps"); do
  for input in ${SCALING_ALLREDUCE_SIZES:-64x80x64 96x112x96 128x160x128 169x208x179}; do
    allreduce_once shm "$input"
    if [[ $nodes = 1 ]]; then allreduce_once tcp "$input" "${bench_nodes_mpirun[@]}"; fi
  done
  echo "allreduce repetition $rep done"
done
$model fit "$records" --output "$out/fits.json" | tee "$out/fit.txt"

# --- 2. calibration and 3. checked runs --------------------------------------------------------
train_args=(classification --gpu false --threads 1 --batch_size "$batch" --learning_rate 1e-4
            --seed 0 --epochs "$epochs")
run_train() {  # NAME SET [mpirun options...] -- [train options...]
  local name=$1 set=$2 launcher=()
  shift 2
  while [[ $1 != -- ]]; do launcher+=("$1"); shift; done
  shift
  bench_wait_idle 600 | tee -a "$out/loads.txt"
  rm -rf "$out/maps_$name"
  "${launcher[@]}" "$bin" train "${train_args[0]}" "$out/$set/data.h5" "$out/$set/splits" \
    "$out/maps_$name" "${train_args[@]:1}" "$@" > "$out/$name.log" 2>&1 ||
    { tail -20 "$out/$name.log" >&2; echo "run $name failed" >&2; exit 1; }
}
# Times from a plain run; the shares of forward, backward, optimizer, evaluation and checkpoint
# from a --profiler run (its profile covers the first epochs, which are slower).
# The busy factor: the same at 2 ranks on this node (each rank's compute slows down when the
# other core is busy too: shared memory bandwidth, caches, the I/O and reduction threads).
# The 1-rank calibration is the median of REPS runs (by steady epoch): one run alone carries this
# machine's drift of up to 20 % between minutes.
calibration_runs=()
for rep in $(seq "$reps"); do
  run_train "calibration_$rep" calibration --
  calibration_runs+=("$(python3 - "$out/maps_calibration_$rep/split-0/training_logs/training.tsv" <<PY
import sys, statistics
sys.path.insert(0, "$here")
import scaling_model as m
print(f"{statistics.median(m.epoch_durations(sys.argv[1])):.6f} $rep")
PY
)")
done
median_rep=$(printf '%s\n' "${calibration_runs[@]}" | sort -g | sed -n "$(( (reps + 1) / 2 ))p" | cut -d' ' -f2)
echo "calibration: steady epochs ${calibration_runs[*]}; run $median_rep is the median"
rm -rf "$out/maps_calibration"
cp -r "$out/maps_calibration_$median_rep" "$out/maps_calibration"
cp "$out/calibration_$median_rep.log" "$out/calibration.log"
run_train profile calibration -- --profiler
run_train calibration_busy calibration mpirun --quiet -np 2 --
$model calibrate "$out/calibration.log" "$out/maps_calibration/split-0/training_logs/training.tsv" \
  --profile "$out/profile.log" --busy_log "$out/calibration_busy.log" \
  --busy_tsv "$out/maps_calibration_busy/split-0/training_logs/training.tsv" \
  --batch "$batch" --input_size "$size" --output "$out/calibration.json"

runs="$out/runs.tsv"
echo -e "run\tranks\tfabric\tsteady_epoch_s\tload_before" > "$runs"
record() {  # NAME RANKS FABRIC
  local tsv="$out/maps_$1/split-0/training_logs/training.tsv" load
  load=$(tail -1 "$out/loads.txt" | awk '{ print $2 }')
  python3 - "$tsv" "$1" "$2" "$3" "$load" >> "$runs" <<PY
import sys, statistics
sys.path.insert(0, "$here")
import scaling_model as m
tsv, name, ranks, fabric, load = sys.argv[1:]
print(f"{name}\t{ranks}\t{fabric}\t{statistics.median(m.epoch_durations(tsv)):.4f}\t{load}")
PY
}
for rep in $(seq "$reps"); do
  run_train "one_rank_$rep" check -- ; record "one_rank_$rep" 1 shm
  run_train "two_ranks_$rep" check mpirun --quiet -np 2 -- ; record "two_ranks_$rep" 2 shm
  if [[ $nodes = 1 ]]; then
    run_train "two_nodes_$rep" check mpirun --quiet -np 2 "${bench_nodes_mpirun[@]}" --
    record "two_nodes_$rep" 2 tcp
  fi
  echo "training repetition $rep done"
done
sed -E 's/_[0-9]+\t/\t/' "$runs" > "$out/runs_by_kind.tsv"
read -r n_train n_valid < <(sed -nE 's/.* ([0-9]+) training and ([0-9]+) validation images.*/\1 \2/p' \
  "$out/one_rank_1.log" | head -1)
$model check --calibration "$out/calibration.json" --fits "$out/fits.json" \
  --runs "$out/runs_by_kind.tsv" --train "$n_train" --valid "$n_valid" --batch "$batch" \
  --input_size "$size" --output "$out/check.json" | tee "$out/check.txt"

# --- 4. tables ---------------------------------------------------------------------------------
$model table --calibration "$out/calibration.json" --fits "$out/fits.json" | tee "$out/table.txt"
