#!/usr/bin/env bash
# Problems found late used to leave a half-made MAPS behind (issue 10, item 8). Each case must exit
# with status 2, name the problem, and leave no MAPS folder:
#   a k-fold tree whose split-1 table is missing (found before split 0 trains), a training set
#   emptied by --diagnoses, a repeated selection metric, --multi_network in image mode or on a
#   single ROI.
# Usage: early_refusals.sh CAPS2H5 CLINICADL_HPC TINY_DIR
set -uo pipefail
caps2h5="$1"; trainer="$2"; tiny="$3"
work="$tiny/early_refusals"
rm -rf "$work" && mkdir -p "$work"
"$caps2h5" kfold "$tiny/caps/labels.tsv" --n_splits 2 --output_dir "$work/kfold" > /dev/null || exit 1
rm "$work/kfold/split-1/train.tsv"
fail() { echo "FAIL: $*"; exit 1; }
expect_refusal() {  # NAME REGEX DATA TSV_DIR [OPTIONS...]
  local name=$1 regex=$2 data=$3 tsv=$4; shift 4
  local maps="$work/maps_$name" output status
  output=$("$trainer" train classification "$data" "$tsv" "$maps" --epochs 1 --batch_size 4 "$@" 2>&1)
  status=$?
  echo "$output" | tail -n 4
  [ "$status" -eq 2 ] || fail "$name: exit status $status, expected 2"
  echo "$output" | grep -Eq "$regex" || fail "$name: no message matching /$regex/"
  [ ! -e "$maps" ] || fail "$name: a MAPS folder was left behind"
}
expect_refusal kfold "split-1/train.tsv" "$tiny/data.h5" "$work/kfold" --n_splits 2
expect_refusal empty "training set of split 0 is empty" "$tiny/data.h5" "$tiny/splits" --diagnoses MCI
expect_refusal metric "names 'loss' twice" "$tiny/data.h5" "$tiny/splits" --selection_metrics loss BA loss
expect_refusal multi_image "multi_network trains one network per part; --mode image" "$tiny/data.h5" \
  "$tiny/splits" --multi_network
expect_refusal multi_one_roi "one part per image here" "$tiny/data.h5" "$tiny/splits" --multi_network \
  --mode roi --roi_list leftHippocampusBox
echo "OK: every late problem was found before the MAPS was created"
