#!/usr/bin/env bash
# --overwrite never deletes what clinicadl-hpc did not write (issue 10, item 3): a folder without
# maps.json, and a MAPS that holds the run's DATA, are refused with exit status 2 and left intact.
# Nor does staging (issue 19, class 5): a user's folder named MAPS_DIR.partial, a .partial that is
# a symbolic link to a user's folder, and a transfer source that is the MAPS to overwrite.
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

mkdir -p "$work/fresh.partial" && echo "my notes" > "$work/fresh.partial/notes.txt"
expect_refusal user_partial "fresh.partial' of the new MAPS holds files that no clinicadl-hpc job left" \
  "$tiny/data.h5" "$tiny/splits" "$work/fresh"
[ "$(cat "$work/fresh.partial/notes.txt")" = "my notes" ] || fail "the user's .partial folder was touched"
[ ! -e "$work/fresh" ] || fail "a MAPS was created beside the refused staging folder"

mkdir -p "$work/elsewhere" && echo "keep" > "$work/elsewhere/data.txt"
ln -s "$work/elsewhere" "$work/linked.partial"
expect_refusal symlink_partial "linked.partial' of the new MAPS is a symbolic link" \
  "$tiny/data.h5" "$tiny/splits" "$work/linked"
[ "$(cat "$work/elsewhere/data.txt")" = "keep" ] || fail "the symbolic link was followed"

cp -r "$tiny/maps_classification" "$work/source_maps"
expect_refusal transfer_source "would delete the input '.*source_maps'" \
  "$tiny/data.h5" "$tiny/splits" "$work/source_maps" --transfer_path "$work/source_maps"
[ -f "$work/source_maps/split-0/best-loss/model.pth.tar" ] || fail "the transfer source was deleted"
echo "OK: --overwrite and staging refused every folder they did not make, and deleted nothing"
