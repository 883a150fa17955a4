#!/usr/bin/env bash
# --overwrite never deletes what clinicadl-hpc did not write (issue 10, item 3): a folder without
# maps.json, and a MAPS that holds the run's DATA, are refused with exit status 2 and left intact.
# Usage: overwrite_guard.sh CLINICADL_HPC TINY_DIR
set -uo pipefail
trainer="$1"; tiny="$2"
work="$tiny/overwrite_guard"
rm -rf "$work" && mkdir -p "$work/user" "$work/maps_with_data"
echo "my thesis" > "$work/user/thesis.tex"
echo '{}' > "$work/maps_with_data/maps.json"
cp "$tiny/data.h5" "$work/maps_with_data/data.h5"
fail() { echo "FAIL: $*"; exit 1; }
expect_refusal() {  # NAME REGEX ARGS...: exit status 2 and a message matching REGEX
  local name=$1 regex=$2; shift 2
  local output status
  output=$("$trainer" train classification "$@" --epochs 1 --overwrite 2>&1); status=$?
  echo "$output" | tail -n 5
  [ "$status" -eq 2 ] || fail "$name: exit status $status, expected 2"
  echo "$output" | grep -Eq "$regex" || fail "$name: no message matching /$regex/"
}
expect_refusal not_a_maps "is not one \(it has no maps.json\); nothing was deleted" \
  "$tiny/data.h5" "$tiny/splits" "$work/user"
[ "$(cat "$work/user/thesis.tex")" = "my thesis" ] || fail "the user's file was touched"
expect_refusal maps_with_data "would delete the input '.*maps_with_data/data.h5'" \
  "$work/maps_with_data/data.h5" "$tiny/splits" "$work/maps_with_data"
cmp -s "$tiny/data.h5" "$work/maps_with_data/data.h5" || fail "the DATA inside the MAPS was touched"
echo "OK: --overwrite refused both folders and deleted nothing"
