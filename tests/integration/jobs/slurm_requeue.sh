#!/usr/bin/env bash
# jobs/slurm/train.sbatch under a stand-in SLURM: SIGUSR1 before the time limit makes the ranks save
# their state and exit 4, the script requeues its job (scontrol requeue), and the requeued run of
# the same script resumes the MAPS to the end.
# Usage: slurm_requeue.sh SOURCE_DIR CLINICADL_HPC DATA.h5 SPLIT_DIR WORK_DIR
set -uo pipefail
src="$1"; bin="$2"; data="$3"; splits="$4"; work="$5"
rm -rf "$work" && mkdir -p "$work/fakebin" || exit 1
# srun stand-in: drops its options and becomes the task (so it receives the forwarded signal).
cat > "$work/fakebin/srun" <<'SRUN'
#!/usr/bin/env bash
while [[ "$1" == --* ]]; do shift; done
exec "$@"
SRUN
cat > "$work/fakebin/scontrol" <<SCONTROL
#!/usr/bin/env bash
echo "\$*" >> "$work/scontrol.calls"
SCONTROL
chmod +x "$work/fakebin/srun" "$work/fakebin/scontrol"
export PATH="$work/fakebin:$PATH" CDL_ROOT="$work/root" SLURM_SUBMIT_DIR="$src" SLURM_JOB_ID=777
export SLURM_JOB_NAME=requeue SLURM_NTASKS=1 DATA="$data" SPLIT_DIR="$splits" CDL_BIN="$bin"
export CONFIG="$src/jobs/configs/train_classification.toml" LAUNCHER=srun
export EXTRA_ARGS="--epochs 5 --batch_size 2 --gpu false --threads 1 --learning_rate 1e-3"
run_dir="$work/root/runs/requeue_777"
maps="$run_dir/MAPS"
fail() { echo "FAIL: $*"; echo "--- stdout.log"; cat "$run_dir/stdout.log"; echo "--- stderr.log"; tail -20 "$run_dir/stderr.log"; exit 1; }

bash "$src/jobs/slurm/train.sbatch" &
script=$!
for _ in $(seq 1 600); do
  [ -f "$maps/split-0/tmp/training_state.pt" ] && break
  kill -0 "$script" 2>/dev/null || break
  sleep 0.05
done
[ -f "$maps/split-0/tmp/training_state.pt" ] || fail "no training state appeared"
kill -USR1 "$script"  # what --signal=B:USR1@600 does
wait "$script"; status=$?
[ "$status" -eq 0 ] || fail "the first run ended with status $status, expected 0 after requeueing"
grep -qx "requeue 777" "$work/scontrol.calls" 2>/dev/null || fail "the job did not requeue itself"
grep -q "stopped with its training state saved" "$run_dir/stdout.log" || fail "no stop message"
[ -f "$maps/split-0/tmp/training_state.pt" ] || fail "the state is gone after the stop"

bash "$src/jobs/slurm/train.sbatch"; status=$?  # the requeued job
[ "$status" -eq 0 ] || fail "the requeued run ended with status $status"
grep -q "resume MAPS" "$run_dir/stderr.log" "$run_dir/stdout.log" || fail "the requeued run did not resume"
[ ! -d "$maps/split-0/tmp" ] || fail "split-0/tmp remains: the training did not finish"
rows=$(($(wc -l < "$maps/split-0/training_logs/training.tsv") - 1))
[ "$rows" -eq 5 ] || fail "training.tsv has $rows rows, expected 5 (one per epoch)"
[ "$(wc -l < "$work/scontrol.calls")" -eq 1 ] || fail "requeued more than once"
echo "OK: stopped by SIGUSR1, requeued, resumed to the end"
