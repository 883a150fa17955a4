#!/usr/bin/env bash
# End-to-end GPU trainings through the command line on a tiny synthetic data set: fp32 on one
# rank (back end auto: NCCL when compiled in, else MPI), the MPI back end with 2 ranks sharing GPU 0,
# and --amp. Each must finish and learn (validation BA of the best-loss model > 0.7).
# Exits 77 (CTest: skipped) where no CUDA device is visible.
# Usage: gpu_train_end_to_end.sh CAPS2H5 CLINICADL_HPC WORK_DIR
set -euo pipefail
caps2h5="$1"; trainer="$2"; work="$3"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "no CUDA device visible: skipped"; exit 77
fi
rm -rf "$work" && mkdir -p "$work"
"$caps2h5" synthetic "$work/caps" --subjects 40 --size 32x40x32 --seed 3 >/dev/null
"$caps2h5" convert "$work/caps" "$work/data.h5" >/dev/null
"$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/split" >/dev/null

backend=auto  # one rank on a GPU: NCCL when compiled in, else MPI
common=(--epochs 6 --batch_size 4 --learning_rate 1e-3 --seed 1 --gpu true --overwrite)
check() {  # NAME: the run learned
  local metrics="$work/$1/split-0/best-loss/validation/validation_image_level_metrics.tsv"
  local ba
  ba=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "BA") c = i } NR == 2 { print $c }' "$metrics")
  echo "$1: validation BA $ba"
  awk -v b="$ba" 'BEGIN { exit !(b > 0.7) }' || { echo "FAIL: $1 did not learn (BA $ba)"; exit 1; }
}
"$trainer" train classification "$work/data.h5" "$work/split" "$work/fp32" --comm_backend "$backend" "${common[@]}"
check fp32
# Same global batch as the 1-rank run (2 ranks x 2 samples).
mpirun -np 2 "$trainer" train classification "$work/data.h5" "$work/split" "$work/mpi2" --comm_backend mpi \
  "${common[@]}" --batch_size 2
check mpi2
"$trainer" train classification "$work/data.h5" "$work/split" "$work/amp" --comm_backend "$backend" --amp "${common[@]}"
check amp
grep -q '"amp": true' "$work/amp/maps.json"
echo "all GPU end-to-end runs learned"
