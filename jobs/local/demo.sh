#!/usr/bin/env bash
# The demo command of the README: installs what is missing, builds, then runs the whole chain on
# a small synthetic data set: synthetic CAPS -> caps2h5 convert -> TSV split -> mpirun -np 2
# training -> MAPS folder -> summary. Takes a few minutes on 2 cores.
# Environment: DEMO_DIR (default out/demo), DEMO_RANKS (2), DEMO_EPOCHS (10).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash jobs/local/install_deps.sh
if [ -x "$root/build/src/clinicadl-hpc" ]; then
  echo "== building clinicadl-hpc and caps2h5 in build/ (only what changed)"
else
  echo "== building clinicadl-hpc and caps2h5 in build/: the first build compiles about 70" \
       "LibTorch files, 5-10 minutes on 2 cores (ccache makes later ones fast)"
fi
BUILD_PROGRESS=summary BUILD_TARGETS="clinicadl-hpc caps2h5" BUILD_DIR="$root/build" \
  bash jobs/local/build.sh
bin="$root/build/src/clinicadl-hpc"
caps2h5="$root/build/data_tools/caps2h5"
work="${DEMO_DIR:-$root/out/demo}"
ranks="${DEMO_RANKS:-2}"
epochs="${DEMO_EPOCHS:-10}"

# Local runs only: allow mpirun as root and more ranks than cores (never set by the programs).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

echo "== 1/5 synthetic CAPS (40 subjects, AD vs CN, 1@32x40x32) in $work/caps"
rm -rf "$work" && mkdir -p "$work"
"$caps2h5" synthetic "$work/caps" --subjects 40 --size 32x40x32 --seed 1
echo "== 2/5 CAPS -> HDF5"
"$caps2h5" convert "$work/caps" "$work/data.h5"
echo "== 3/5 ClinicaDL split tree (25% validation, stratified by diagnosis)"
"$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/split"
echo "== 4/5 mpirun -np $ranks clinicadl-hpc train classification ($epochs epochs)"
mpirun --quiet -np "$ranks" "$bin" train classification "$work/data.h5" "$work/split" "$work/maps" \
  --epochs "$epochs" --batch_size 2 --learning_rate 1e-3 --selection_metrics loss BA

echo "== 5/5 clinicadl-hpc plot: the training curves as a drawing"
"$bin" plot "$work/maps"

metrics="$work/maps/split-0/best-loss/validation/validation_image_level_metrics.tsv"
echo
echo "== Summary"
echo "MAPS folder: $work/maps"
echo "Validation metrics of the best-loss model ($metrics):"
paste <(head -n 1 "$metrics" | tr '\t' '\n') <(sed -n 2p "$metrics" | tr '\t' '\n') | tail -n +2 \
  | awk -F'\t' '{ printf "  %-12s %s\n", $1, $2 }'
echo "Training curves: $work/maps/training_curves.svg (open it in a web browser)"
echo "TensorBoard:     tensorboard --logdir $work/maps/split-0/training_logs/tensorboard"
