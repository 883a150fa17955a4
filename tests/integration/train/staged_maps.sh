#!/usr/bin/env bash
# A new MAPS is written as MAPS.partial and takes its name when its first split starts training
# (issue 10, item 8): a failure in the set-up (here a transfer source that does not fit) leaves no
# MAPS_DIR and, at 1 and 2 ranks, no MAPS.partial; --overwrite keeps the old MAPS when the new
# run fails that early; a MAPS.partial left by a dead job is taken over and cleared.
# Usage: staged_maps.sh CLINICADL_HPC MPIEXEC TINY_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; tiny="$3"; shift 3
preflags=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work="$tiny/staged_maps"
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
args=(classification "$tiny/data.h5" "$tiny/splits")
common=(--epochs 1 --batch_size 4 --threads 1)
# A regression source (1 output) cannot start a 2-class classifier: found in the set-up.
bad_source=(--transfer_path "$tiny/maps_regression")

out=$("$bin" train "${args[@]}" "$work/one" "${common[@]}" "${bad_source[@]}" 2>&1); status=$?
{ [ "$status" -eq 1 ] && grep -q "has shape" <<< "$out"; } || fail "1 rank: status $status: $out"
[ -e "$work/one" ] && fail "1 rank: the failed run left $work/one"
[ -e "$work/one.partial" ] && fail "1 rank: the failed run left $work/one.partial"

out=$("$mpiexec" -n 2 "${preflags[@]}" "$bin" train "${args[@]}" "$work/two" "${common[@]}" \
  "${bad_source[@]}" 2>&1); status=$?
[ "$status" -ne 0 ] || fail "2 ranks: the run succeeded"
[ -e "$work/two" ] && fail "2 ranks: the failed run left $work/two"
[ -e "$work/two.partial" ] && fail "2 ranks: the failed run left $work/two.partial"

# A staging folder of a job that died (stale lock, junk) is taken over; the MAPS gets its name.
mkdir -p "$work/ok.partial/split-0"
echo "$(hostname) 2147483000" > "$work/ok.partial/.clinicadl-hpc.lock"
echo junk > "$work/ok.partial/split-0/junk.txt"
"$bin" train "${args[@]}" "$work/ok" "${common[@]}" > "$work/ok.log" 2>&1 ||
  fail "a run over a stale staging folder failed: $(tail -3 "$work/ok.log")"
[ -f "$work/ok/maps.json" ] || fail "no $work/ok/maps.json"
[ -e "$work/ok.partial" ] && fail "$work/ok.partial is still there"
[ -e "$work/ok/split-0/junk.txt" ] && fail "the dead job's files came along"
[ -e "$work/ok/.clinicadl-hpc.lock" ] && fail "the lock was not released"
grep -q "MAPS path: .*/ok$" "$work/ok/information.log" || fail "information.log names another path"

# --overwrite whose new run fails in its set-up: the old MAPS is still complete.
before=$(md5sum < "$work/ok/split-0/training_logs/training.tsv")
out=$("$bin" train "${args[@]}" "$work/ok" "${common[@]}" "${bad_source[@]}" --overwrite 2>&1)
[ "$(md5sum < "$work/ok/split-0/training_logs/training.tsv" 2>/dev/null)" = "$before" ] ||
  fail "--overwrite deleted the old MAPS although the new run never started: $out"
[ -e "$work/ok.partial" ] && fail "the failed --overwrite left $work/ok.partial"
# and one that starts replaces it
"$bin" train "${args[@]}" "$work/ok" --epochs 2 --batch_size 4 --threads 1 --overwrite > "$work/ok2.log" 2>&1 ||
  fail "--overwrite failed: $(tail -3 "$work/ok2.log")"
rows=$(($(wc -l < "$work/ok/split-0/training_logs/training.tsv") - 1))
[ "$rows" -eq 2 ] || fail "--overwrite: training.tsv has $rows rows, expected 2"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "OK: a new MAPS takes its name only when its first split starts"
