#!/usr/bin/env bash
# `predict` on a trained MAPS: a new group holding the validation sessions again (3 ranks, leak
# check skipped), the same without labels, and the refusals of the group rules. The values are
# compared with the MAPS's own validation TSVs by IntegrationChecks-bin (Predict*Maps tests).
# Usage: predict_runs.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR MAPS [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; maps="$5"; shift 5
preflags=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
sessions="$splits/validation_baseline.tsv"
unlabelled="$maps.unlabelled.tsv"
cut -f1,2 "$sessions" > "$unlabelled"  # participant_id, session_id only
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_refusal() {  # regex command...: status 2 and the message
  local regex="$1"; shift
  local out status
  out=$("$@" 2>&1); status=$?
  { [ "$status" -eq 2 ] && grep -Ezq "$regex" <<< "$out"; } ||
    fail "expected status 2 and /$regex/, got $status: $(echo "$out" | tail -3)"
}
rm -rf "$maps/groups/again" "$maps/groups/unlabelled" "$maps"/split-*/best-*/again "$maps"/split-*/best-*/unlabelled

expect_refusal "participant\(s\) of the training.*--skip_leak_check" \
  "$bin" predict "$maps" again --data "$data" --tsv "$sessions"
[ -d "$maps/groups/again" ] && fail "a refused predict wrote its group"
expect_refusal "does not exist.*needs both --data" "$bin" predict "$maps" again
expect_refusal "cannot be redefined" "$bin" predict "$maps" validation --data "$data" --tsv "$sessions"
expect_refusal "has no column 'diagnosis'.*--no_labels" \
  "$bin" predict "$maps" unlabelled --data "$data" --tsv "$unlabelled" --skip_leak_check
expect_refusal "save_tensor saves reconstructions" "$bin" predict "$maps" validation --save_tensor
expect_refusal "no best model for 'MCC'" "$bin" predict "$maps" validation --selection_metrics MCC

# A predict that fails after it started (a session without an image) records no group: the same
# command with a correct table then runs without --overwrite.
broken="$maps.broken.tsv"
cp "$sessions" "$broken" && printf 'sub-999\tses-M000\tAD\t70.0\tF\n' >> "$broken"
out=$("$mpiexec" -n 2 "${preflags[@]}" "$bin" predict "$maps" again --data "$data" --tsv "$broken" \
  --skip_leak_check 2>&1) && fail "predict with a session without an image succeeded"
grep -q "have no image" <<< "$out" || fail "the failed predict did not name the missing image: $(tail -n 3 <<< "$out")"
[ -e "$maps/groups/again" ] && fail "a failed predict recorded its group"
"$mpiexec" -n 3 "${preflags[@]}" "$bin" predict "$maps" again --data "$data" --tsv "$sessions" \
  --skip_leak_check || fail "predict of a new group at 3 ranks failed"
"$mpiexec" -n 2 "${preflags[@]}" "$bin" predict "$maps" unlabelled --data "$data" \
  --tsv "$unlabelled" --skip_leak_check --no_labels || fail "predict without labels failed"
expect_refusal "exists.*--overwrite" "$bin" predict "$maps" again --data "$data" --tsv "$sessions"
"$bin" predict "$maps" again --batch_size 3 || fail "predicting an existing group again failed"
[ -f "$maps/groups/again/data.tsv" ] || fail "no group definition groups/again/data.tsv"
if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "OK: predict runs and refusals"
