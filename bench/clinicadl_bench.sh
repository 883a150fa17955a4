#!/usr/bin/env bash
# clinicadl_bench.sh: clinicadl-hpc against Python ClinicaDL 1.6.1 itself, on the same synthetic
# data, in one run (issue: CPU speed and memory). Both read the same NIfTI CAPS (ClinicaDL through
# its prepare-data tensors, we through caps2h5's HDF5) and the same split, and train Conv5_FC3
# in image mode with the same options (Adam 1e-4, batch 4, seed 0, CPU). Printed for each: the
# data preparation time, the training job's wall time, its training time (training.tsv's time
# column at the last epoch) and peak resident memory, then the ratios ClinicaDL / ours; also ours
# with --memory_saving and with --amp (bfloat16 on CPUs that have it: a separate figure), and
# patch mode (50^3 patches, Conv4_FC3) for both; then the gradient
# all-reduce of our 2-rank run (time in reductions, and the part backward did not hide) and, when
# BUILD_DIR/bench/allreduce_bench exists, its ratio to a raw MPI_Allreduce and the exposed
# communication of overlapped and non-overlapped training steps. ClinicaDL runs with the torch beside it (2.x); for a fair kernel comparison
# give BUILD_DIR a clinicadl-hpc built against the same LibTorch (build-torch2).
# Usage: bench/clinicadl_bench.sh [BUILD_DIR=build-torch2] [SUBJECTS=16] [SIZE=169x208x179]
#                                 [EPOCHS=1] [VENV=~/.cache/clinicadl-hpc/clinicadl_venv]
# The venv is the one tests/interop/clinicadl_predict.sh installs (ClinicaDL 1.6.1 + pins).
set -euo pipefail
build=${1:-build-torch2}
subjects=${2:-16}
size=${3:-169x208x179}
epochs=${4:-1}
venv=${5:-$HOME/.cache/clinicadl-hpc/clinicadl_venv}
bin="$build/src/clinicadl-hpc"
caps2h5="$build/data_tools/caps2h5"
clinicadl="$venv/bin/clinicadl"
for exe in "$bin" "$caps2h5" "$clinicadl"; do
  [[ -x "$exe" ]] || { echo "$exe not found (build both tools; install ClinicaDL by running tests/interop/clinicadl_predict.sh once)" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYTHONWARNINGS=ignore
work=$(mktemp -d "${TMPDIR:-/tmp}/clinicadl_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$caps2h5" synthetic "$work/caps" --subjects "$subjects" --size "$size" --seed 1 > /dev/null
"$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/splits" > /dev/null
cp "$work/caps/labels.tsv" "$work/labels.tsv"  # ClinicaDL looks for it beside the split folder

seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
start=$(date +%s.%N)
"$caps2h5" convert "$work/caps" "$work/data.h5" --no-progress > /dev/null
convert_ours=$(seconds "$start")
start=$(date +%s.%N)
"$clinicadl" prepare-data image "$work/caps" t1-linear -np 2 -ej extract_image.json > "$work/prepare.log" 2>&1
convert_cdl=$(seconds "$start")

common=(--batch_size 4 --epochs "$epochs" --learning_rate 1e-4 --seed 0)
run() {  # name command...: wall seconds and peak MB of the whole job
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 ||
    { tail -20 "$work/$name.log" >&2; exit 1; }
  read -r wall[$name] peak_kb < "$work/$name.time"
  peak[$name]=$((peak_kb / 1024))
}
declare -A wall peak
run clinicadl "$clinicadl" train classification "$work/caps" extract_image.json "$work/splits" \
  "$work/maps_cdl" --no-gpu -np 2 -a Conv5_FC3 "${common[@]}"
# ClinicaDL given the allocator tuning we build in (jemalloc keeping freed pages), when available.
jemalloc=$(ldconfig -p | awk '/libjemalloc.so.2 / && !found { print $NF; found = 1 }')  # no early exit: SIGPIPE
names=(clinicadl)
if [[ -n "$jemalloc" ]]; then
  run clinicadl_jemalloc env LD_PRELOAD="$jemalloc" \
    MALLOC_CONF=oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1 "$clinicadl" train \
    classification "$work/caps" extract_image.json "$work/splits" "$work/maps_cdl_jemalloc" \
    --no-gpu -np 2 -a Conv5_FC3 "${common[@]}"
  names+=(clinicadl_jemalloc)
fi
run ours_1x2 "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_1x2" \
  --gpu false --threads 2 --architecture Conv5_FC3 "${common[@]}"
run ours_2x1 mpirun -np 2 "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_2x1" \
  --gpu false --threads 1 --architecture Conv5_FC3 --batch_size 2 --epochs "$epochs" \
  --learning_rate 1e-4 --seed 0
run ours_memory "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_memory" \
  --gpu false --threads 2 --architecture Conv5_FC3 --memory_saving "${common[@]}"
# --amp: bfloat16 for the large convolutions where the CPU has bfloat16 instructions (a separate
# figure, not the float32 goal); the log says whether it ran in bfloat16 or declined.
run ours_amp "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_amp" \
  --gpu false --threads 2 --architecture Conv5_FC3 --amp "${common[@]}"

# Patch mode: ClinicaDL's default 50^3 patches with stride 50 cut on the fly from the image
# tensors (as prepare-data patch leaves them without --save_features), Conv4_FC3.
patch_options=(--batch_size 4 --epochs "$epochs" --learning_rate 1e-4 --seed 0)
"$clinicadl" prepare-data patch "$work/caps" t1-linear -np 2 -ej extract_patch.json > "$work/prepare_patch.log" 2>&1
run clinicadl_patch "$clinicadl" train classification "$work/caps" extract_patch.json "$work/splits" \
  "$work/maps_cdl_patch" --no-gpu -np 2 -a Conv4_FC3 "${patch_options[@]}"
run ours_patch_1x2 "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_patch_1x2" \
  --gpu false --threads 2 --architecture Conv4_FC3 --mode patch --patch_size 50 --stride_size 50 \
  "${patch_options[@]}"
run ours_patch_amp "$bin" train classification "$work/data.h5" "$work/splits" "$work/maps_patch_amp" \
  --gpu false --threads 2 --architecture Conv4_FC3 --mode patch --patch_size 50 --stride_size 50 \
  --amp "${patch_options[@]}"
run ours_patch_2x1 mpirun -np 2 "$bin" train classification "$work/data.h5" "$work/splits" \
  "$work/maps_patch_2x1" --gpu false --threads 1 --architecture Conv4_FC3 --mode patch \
  --patch_size 50 --stride_size 50 --batch_size 2 --epochs "$epochs" --learning_rate 1e-4 --seed 0
echo "clinicadl_bench: Conv5_FC3 image mode, $subjects subjects at 1@$size, $epochs epoch(s), batch 4, CPU, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo "  ClinicaDL $("$venv/bin/python" -c 'import clinicadl, torch; print(clinicadl.__version__, "on torch", torch.__version__)'); clinicadl-hpc $("$bin" --version | head -1)"
printf "data preparation: ClinicaDL prepare-data %8.2f s, caps2h5 convert %8.2f s\n" "$convert_cdl" "$convert_ours"
label() {
  case $1 in
    clinicadl) echo "ClinicaDL (2 threads, 2 workers)" ;;
    clinicadl_jemalloc) echo "ClinicaDL with jemalloc as we tune it" ;;
    ours_1x2) echo "ours, 1 rank x 2 threads" ;;
    ours_2x1) echo "ours, 2 ranks x 1 thread, batch 2 each" ;;
    ours_memory) echo "ours, 1 rank x 2 threads, --memory_saving" ;;
    ours_amp) echo "ours, 1 rank x 2 threads, --amp" ;;
    clinicadl_patch) echo "ClinicaDL patch (2 threads, 2 workers)" ;;
    ours_patch_1x2) echo "ours patch, 1 rank x 2 threads" ;;
    ours_patch_2x1) echo "ours patch, 2 ranks x 1 thread, batch 2 each" ;;
    ours_patch_amp) echo "ours patch, 1 rank x 2 threads, --amp" ;;
  esac
}
# The training time of a MAPS: training.tsv's cumulative time at the last epoch's evaluation
# (no start-up, no final re-evaluation), or 0 without a row: ClinicaDL 1.6.1 writes only the
# header after a 1-epoch run, so its training time is known from 2 epochs on.
train_time() {
  awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time") c = i; next } { t = $c }
               END { printf "%.2f", t + 0 }' "$1/split-0/training_logs/training.tsv" 2>/dev/null ||
    echo 0
}
declare -A maps=([clinicadl]=maps_cdl [clinicadl_jemalloc]=maps_cdl_jemalloc [ours_1x2]=maps_1x2
                 [ours_2x1]=maps_2x1 [ours_memory]=maps_memory [clinicadl_patch]=maps_cdl_patch
                 [ours_patch_1x2]=maps_patch_1x2 [ours_patch_2x1]=maps_patch_2x1
                 [ours_amp]=maps_amp [ours_patch_amp]=maps_patch_amp)
declare -A train
for name in "${names[@]}" ours_1x2 ours_2x1 ours_memory ours_amp clinicadl_patch ours_patch_1x2 \
  ours_patch_2x1 ours_patch_amp; do
  train[$name]=$(train_time "$work/${maps[$name]}")
  printf "%-44s %8.2f s wall %8.2f s training  peak %6d MB (largest process)\n" \
    "$(label "$name")" "${wall[$name]}" "${train[$name]}" "${peak[$name]}"
done
ratio() {  # reference name: wall, training-time and peak-memory ratios reference / name
  awk -v r="$1" -v n="$2" -v a="${wall[$1]}" -v b="${wall[$2]}" -v ta="${train[$1]}" \
    -v tb="${train[$2]}" -v pa="${peak[$1]}" -v pb="${peak[$2]}" \
    'BEGIN { training = (ta > 0 && tb > 0) ? sprintf("%.2f", ta / tb) : "n/a"
             printf "ratio %s / %s: job time %.2f, training time %s, peak memory %.2f\n",
             r, n, a / b, training, pa / pb }'
}
awk -v a="$convert_cdl" -v b="$convert_ours" 'BEGIN { printf "ratio conversion (prepare-data / caps2h5 convert): %.2f\n", a / b }'
for reference in "${names[@]}"; do
  for name in ours_1x2 ours_2x1 ours_memory; do ratio "$reference" "$name"; done
done
ratio ours_1x2 ours_memory  # the cost and gain of --memory_saving against our default
for name in ours_patch_1x2 ours_patch_2x1; do ratio clinicadl_patch "$name"; done
# --amp, reported apart from the float32 goals: its gain over our float32 run, and against ClinicaDL.
sed -nE '/mixed precision|no bfloat16 instructions/ { s/^.*(mixed precision|--amp)/ours --amp: \1/p; q }' \
  "$work/ours_amp.log"
ratio ours_1x2 ours_amp
ratio clinicadl ours_amp
ratio ours_patch_1x2 ours_patch_amp
ratio clinicadl_patch ours_patch_amp
# Communication of the 2-rank image run, from its summary line.
sed -nE '/gradient all-reduce/ { s/.*(gradient all-reduce [^;]*).*/ours, 2 ranks x 1 thread: \1/p; q }' \
  "$work/ours_2x1.log"
allreduce_bench="$build/bench/allreduce_bench"
if [[ -x "$allreduce_bench" ]]; then
  mpirun -np 2 "$allreduce_bench" 5 Conv5_FC3 "1@$size" 3 2 1
else
  echo "(allreduce_bench not built at $allreduce_bench: skipped)"
fi
