#!/usr/bin/env bash
# --size_reduction end to end: the network is built for the reduced images (maps.json and
# information.log say so), and `predict` on a new group of the validation sessions (through the
# same reduction) gives the probabilities the training wrote for them.
# Usage: size_reduction.sh CLINICADL_HPC DATA.h5 SPLIT_DIR WORK_DIR
set -uo pipefail
bin="$1"; data="$2"; splits="$3"; work="$4"
maps="$work/maps_size_reduction"
rm -rf "$work" && mkdir -p "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The tiny images are 1x32x40x32: factor 2 keeps D 4:32:2, H 8:40:2, W 8:32:2 = 14x16x12.
"$bin" train classification "$data" "$splits" "$maps" --size_reduction --size_reduction_factor 2 \
  --epochs 2 --batch_size 4 --threads 1 > "$work/train.log" 2>&1 ||
  { tail -5 "$work/train.log"; echo "FAIL: training with --size_reduction"; exit 1; }
grep -q "Architecture: Conv5_FC3 for input 1@14x16x12" "$maps/information.log" ||
  fail "information.log does not show the reduced input: $(grep Architecture "$maps/information.log")"
python3 - "$maps/maps.json" <<'PY' || fail "maps.json does not record the reduction"
import json, sys
config = json.load(open(sys.argv[1]))
assert config["size_reduction"] is True and config["size_reduction_factor"] == 2, config
assert config["input_size"] == [1, 14, 16, 12], config["input_size"]
PY

"$bin" predict "$maps" again --data "$data" --tsv "$splits/validation_baseline.tsv" \
  --skip_leak_check > "$work/predict.log" 2>&1 ||
  { tail -5 "$work/predict.log"; fail "predict on a size-reduced MAPS"; }
trained="$maps/split-0/best-loss/validation/validation_image_level_prediction.tsv"
again="$maps/split-0/best-loss/again/again_image_level_prediction.tsv"
python3 - "$trained" "$again" <<'PY' || fail "predict differs from the training's validation"
import csv, sys
def rows(path):
    with open(path) as f:
        return {(r["participant_id"], r["session_id"]): r for r in csv.DictReader(f, delimiter="\t")}
trained, again = rows(sys.argv[1]), rows(sys.argv[2])
assert set(trained) == set(again) and trained, (len(trained), len(again))
for key, row in trained.items():
    for column in ("proba0", "proba1"):
        assert abs(float(row[column]) - float(again[key][column])) < 1e-5, (key, column)
print(f"ok: {len(trained)} sessions predicted as in training through the same reduction")
PY
[ "$failures" -eq 0 ]
