#!/usr/bin/env bash
# Damaged checkpoints are named, never used (issue 19, classes 6 and 9): a best model with one
# flipped weight byte makes `predict` fail naming the file and its CRC-32 check (it used to
# predict with different numbers); a 0-byte training state makes `resume` fail saying the file is
# empty; data of another image shape makes `predict` say so (issue 19, class 9). At 1 and 2
# ranks, each on a copy of a trained MAPS.
# Usage: damaged_checkpoints.sh CLINICADL_HPC CAPS2H5 TRAINED_MAPS WORK_DIR   (mpirun on PATH)
set -uo pipefail
bin="$1"; caps2h5="$2"; trained="$3"; work="$4"
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_failure() {  # NAME REGEX COMMAND...: non-zero status in time and a message matching REGEX
  local name=$1 regex=$2; shift 2
  local output status
  output=$(timeout -k 5 120 "$@" 2>&1); status=$?
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    fail "$name: status $status"
  elif ! grep -Eq -- "$regex" <<< "$output"; then
    fail "$name: no message matching /$regex/: $(tail -n 3 <<< "$output")"
  else
    echo "ok    $name: status $status"
  fi
}
for ranks in 1 2; do
  maps="$work/flipped_np$ranks"
  cp -r "$trained" "$maps"
  model=$(find "$maps/split-0" -path '*best-*' -name model.pth.tar | sort | head -n 1)
  python3 - "$model" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x01  # one bit of one weight: the file is mostly weights
open(path, "wb").write(data)
PY
  expect_failure "predict, flipped weight byte (np $ranks)" \
    "$(basename "$(dirname "$model")")/model.pth.tar' is damaged.*fails its CRC-32 check" \
    mpirun -np "$ranks" "$bin" predict "$maps" validation
  maps="$work/empty_state_np$ranks"
  cp -r "$trained" "$maps"
  mkdir -p "$maps/split-0/tmp" && : > "$maps/split-0/tmp/training_state.pt"
  expect_failure "resume, 0-byte training state (np $ranks)" \
    "training_state.pt' is empty \(0 bytes\)" mpirun -np "$ranks" "$bin" resume "$maps"
done
"$caps2h5" synthetic "$work/small_caps" --subjects 2 --size 8x8x8 --seed 3 > /dev/null &&
  "$caps2h5" convert "$work/small_caps" "$work/small.h5" --no_progress > /dev/null ||
  fail "cannot make the data of another shape"
cut -f1,2 "$work/small_caps/labels.tsv" > "$work/small.tsv"
for ranks in 1 2; do
  maps="$work/shape_np$ranks"
  cp -r "$trained" "$maps"
  expect_failure "predict, data of another image shape (np $ranks)" \
    "gives inputs of shape 1x8x8x8, but the networks of .* were trained on" \
    mpirun -np "$ranks" "$bin" predict "$maps" small --data "$work/small.h5" --tsv "$work/small.tsv" \
    --no_labels --skip_leak_check
  [ -e "$maps/groups/small" ] && fail "the refused predict recorded its group"
done
[ "$failures" -eq 0 ] && echo "OK: damaged checkpoints and mismatched data are named and refused"
[ "$failures" -eq 0 ]
