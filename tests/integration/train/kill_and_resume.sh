#!/usr/bin/env bash
# Kill, stop and resume, checked against uninterrupted runs (issue: exact resume).
# Usage: kill_and_resume.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR [MPIEXEC_PREFLAGS...]
#  1. Reference runs at 2 and 3 ranks, uninterrupted.
#  2. Three trials (2, 3, 2 ranks): the same training SIGKILLed (launcher and ranks) at a random
#     moment after its first training state, then `resume`: training.tsv (all but the time column)
#     and every epoch's weights must equal the reference byte for byte.
#  3. SIGTERM to one rank only: every rank stops at the next weight update with status 4; a plain
#     `train` on that MAPS points to resume; resume on 3 ranks is refused (the state was taken
#     inside an epoch, 3 ranks x 1 would change the virtual batch); resume on 2 ranks then ends
#     equal to the reference, and a copy resumed on 1 rank with --accumulation_steps 2 (same
#     virtual batch) ends with the same weights within 1e-5 (IntegrationCheckResumeRankCount).
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"; shift 5
preflags=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$work" && mkdir -p "$work" || exit 1
# --checkpoint_steps 1: a state after every update; inner evaluations, two selection metrics, the
# adaptive learning rate and early-stopping state all have to come back; so do the MLflow run
# and the TensorBoard files (tests/interop/tracker_readback.sh reads them afterwards), and the
# augmentations (drawn per epoch and sample, so the same after a resume).
args=(classification "$data" "$splits" --epochs 4 --batch_size 2 --checkpoint_steps 1
      --deterministic --threads 1 --save_all_models --evaluation_steps 3 --track_exp mlflow
      --data_augmentation Noise CropPad Motion
      --selection_metrics loss BA --adaptive_learning_rate --patience 5 --learning_rate 1e-3)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

launch() {  # ranks maps [extra...]: runs the training in the foreground
  local ranks="$1" maps="$2"; shift 2
  "$mpiexec" -n "$ranks" "${preflags[@]}" "$bin" train "${args[@]}" "$@" "$maps" > "$maps.log" 2>&1
}

# The comparison: training.tsv without its time column, every epoch's model and the best models.
same_results() {  # reference candidate
  local ref="$1" got="$2" ok=0
  if ! cmp -s <(cut -f1,2,4- "$ref/split-0/training_logs/training.tsv") \
              <(cut -f1,2,4- "$got/split-0/training_logs/training.tsv"); then
    fail "$got: training.tsv differs from $ref"; diff <(cut -f1-3,16 "$ref/split-0/training_logs/training.tsv") \
      <(cut -f1-3,16 "$got/split-0/training_logs/training.tsv") | head -10; ok=1
  fi
  for model in "$ref"/split-0/all_models/*.pth.tar "$ref"/split-0/best-*/model.pth.tar; do
    local twin="$got/${model#"$ref"/}"
    cmp -s "$model" "$twin" || { fail "$twin differs from (or lacks) $model"; ok=1; }
  done
  [ -d "$got/split-0/tmp" ] && { fail "$got/split-0/tmp is still there after the resume"; ok=1; }
  return $ok
}

wait_for_state() {  # maps pid: waits until the first training state exists
  local state="$1/split-0/tmp/training_state.pt" pid="$2"
  for _ in $(seq 1 600); do
    [ -f "$state" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

kill_everything() {  # maps pid: SIGKILL to the launcher's group and to every rank of that MAPS
  pkill -9 -f -- "train .* $1\$" ; pkill -9 -f -- "train .*--learning_rate 1e-3 $1" ; kill -9 -- "-$2" 2>/dev/null
  for _ in $(seq 1 100); do
    pgrep -f -- "$1" > /dev/null || return 0
    sleep 0.05
  done
  echo "processes of $1 did not end"; return 1
}

declare -A duration  # wall time of the uninterrupted run, per rank count: the kill lands inside it
for ranks in 2 3; do
  start=$(date +%s.%N)
  launch "$ranks" "$work/reference_np$ranks" ||
    fail "the reference run at $ranks ranks failed: $(tail -5 "$work/reference_np$ranks.log")"
  duration[$ranks]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
done

# One killed run: SIGKILL a random fraction (up to 40 %) of the uninterrupted run's duration after
# its first training state. Returns 1 when the run had already finished (then try sooner).
killed_run() {  # maps ranks fraction_scale
  local maps="$1" ranks="$2" scale="$3"
  rm -rf "$maps"
  setsid "$mpiexec" -n "$ranks" "${preflags[@]}" "$bin" train "${args[@]}" "$maps" > "$maps.log" 2>&1 &
  local pid=$!
  wait_for_state "$maps" "$pid" || { echo "no training state appeared: $(tail -3 "$maps.log")"; return 2; }
  delay=$(awk -v r="$RANDOM" -v t="${duration[$ranks]}" -v s="$scale" \
    'BEGIN { printf "%.2f", (r % 40) / 100.0 * t * s }')
  sleep "$delay"
  kill_everything "$maps" "$pid"; wait "$pid" 2>/dev/null
  [ -f "$maps/split-0/tmp/training_state.pt" ]
}

trial=0
for ranks in 2 3 2; do
  trial=$((trial + 1))
  maps="$work/killed_$trial"
  scale=1
  until killed_run "$maps" "$ranks" "$scale"; do
    [ "$?" -eq 2 ] && break
    scale=$(awk -v s="$scale" 'BEGIN { print s / 2 }')
    [ "$(awk -v s="$scale" 'BEGIN { print (s < 0.1) }')" = 1 ] && break
    echo "trial $trial: the run finished before the kill ($delay s); again, sooner"
  done
  if [ ! -f "$maps/split-0/tmp/training_state.pt" ]; then
    fail "trial $trial: no run could be killed after its first state"; continue
  fi
  state_line=$(grep -c . "$maps/split-0/training_logs/training.tsv" 2>/dev/null || echo 0)
  echo "trial $trial: $ranks ranks, SIGKILL $delay s after the first state ($state_line training.tsv lines)"
  "$mpiexec" -n "$ranks" "${preflags[@]}" "$bin" resume "$maps" > "$maps.resume.log" 2>&1 ||
    { fail "trial $trial: resume failed: $(tail -5 "$maps.resume.log")"; continue; }
  grep -q "continues from its training state" "$maps.resume.log" || fail "trial $trial: resume did not use the state"
  same_results "$work/reference_np$ranks" "$maps" && echo "trial $trial: identical to the uninterrupted run"
done

# SIGTERM to one rank only.
maps="$work/sigterm"
"$mpiexec" -n 2 "${preflags[@]}" "$bin" train "${args[@]}" "$maps" > "$maps.log" 2>&1 &
pid=$!
if wait_for_state "$maps" "$pid"; then
  # At once: the first state follows the first update, so the stop lands inside epoch 0.
  rank=$(pgrep -f -- "train .* $maps\$" | tail -1)
  [ -n "$rank" ] && kill -TERM "$rank"
  wait "$pid"; status=$?
  grep -q "stopped by SIGTERM in epoch" "$maps.log" || fail "SIGTERM: no 'stopped by SIGTERM' message: $(tail -5 "$maps.log")"
  grep -q "Continue with: clinicadl-hpc resume" "$maps.log" || fail "SIGTERM: no resume hint"
  [ "$status" -eq 4 ] || fail "SIGTERM: exit status $status, expected 4"
  [ -f "$maps/split-0/tmp/training_state.pt" ] || fail "SIGTERM: no training state"
  out=$("$bin" train "${args[@]}" "$maps" 2>&1); status=$?
  { [ "$status" -eq 2 ] && grep -Ezq "did not finish.*clinicadl-hpc resume" <<< "$out"; } ||
    fail "a plain train on a stopped MAPS: status $status, expected 2 and a resume hint: $out"
  out=$("$mpiexec" -n 3 "${preflags[@]}" "$bin" resume "$maps" 2>&1); status=$?
  { [ "$status" -ne 0 ] && grep -q "continues only with the same virtual batch" <<< "$out"; } ||
    fail "resume on 3 ranks of a state taken inside an epoch on 2: status $status: $(echo "$out" | tail -5)"
  cp -r "$maps" "$work/sigterm_np1"
  "$bin" resume "$work/sigterm_np1" --accumulation_steps 2 > "$work/sigterm_np1.resume.log" 2>&1 ||
    fail "resume on 1 rank with --accumulation_steps 2 failed: $(tail -5 "$work/sigterm_np1.resume.log")"
  "$mpiexec" -n 2 "${preflags[@]}" "$bin" resume "$maps" > "$maps.resume.log" 2>&1 ||
    fail "SIGTERM: resume failed: $(tail -5 "$maps.resume.log")"
  same_results "$work/reference_np2" "$maps" && echo "SIGTERM: stopped with status 4, resumed, identical"
  out=$("$bin" resume "$maps" 2>&1) || fail "resume of a finished MAPS failed: $out"
  grep -q "nothing to resume" <<< "$out" || fail "resume of a finished MAPS: $out"
else
  fail "SIGTERM: no training state appeared: $(tail -5 "$maps.log")"
fi

# resume of something that is not a MAPS, and a bad option: status 2 and a message that says so.
out=$("$bin" resume "$work/no_such_maps" 2>&1); status=$?
{ [ "$status" -eq 2 ] && grep -q "is not a MAPS folder" <<< "$out"; } ||
  fail "resume of a missing MAPS: status $status: $out"
out=$("$bin" resume "$work/reference_np2" --epochs 9 2>&1); status=$?
{ [ "$status" -eq 2 ] && grep -q "unknown option '--epochs'" <<< "$out"; } ||
  fail "resume with a training option: status $status: $out"

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "OK: kill/resume, SIGTERM and refusals behave"
