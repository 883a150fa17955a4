#!/usr/bin/env bash
# jobs/slurm/*.sbatch under a real SLURM on this host (Debian's slurmctld + slurmd + munge, started
# and stopped here, with a slurm.conf of this test's own): train.sbatch through srun (PMIx) trains a
# MAPS to the end; the same job stopped by SIGUSR1 (as SLURM sends it before the time limit, here
# at once with `scancel --batch --signal=USR1`) saves its state, requeues itself and resumes to
# the same weights as the uninterrupted job; so does a job requeued from outside (`scontrol
# requeue`); kfold_array.sbatch trains two folds as an array; random_search.sbatch requeues after
# SIGUSR1 and continues its search.
# Needs root and Debian's packages (installed when missing); otherwise skipped (status 77) with
# the reason. The scripts' GPU and core requests are overridden on sbatch's command line for this
# CPU-only 2-core host (--gpus-per-task=0 --cpus-per-task=1; train jobs 2 ranks through srun and
# PMIx, array tasks 1 rank each).
# Usage: real_slurm.sh SOURCE_DIR CLINICADL_HPC DATA.h5 SPLIT_DIR KFOLD_DIR WORK_DIR
set -uo pipefail
src="$1"; bin="$2"; data="$3"; splits="$4"; kfold="$5"; work="$6"
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: starting slurmctld, slurmd and munged needs root"; exit 77; }
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge > /dev/null 2>&1 ||
    { echo "SKIPPED: Debian's slurmctld, slurmd, slurm-client and munge cannot be installed"; exit 77; }
fi
rm -rf "$work" && mkdir -p "$work/state" "$work/spool" "$work/logs" || exit 1
host=$(hostname -s)
cpus=$(nproc)
conf="$work/slurm.conf"
cat > "$conf" <<CONF
ClusterName=cdltest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/logs/slurmctld.log
SlurmdLogFile=$work/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
AuthInfo=cred_expire=10
SchedulerParameters=sched_interval=2,bf_interval=1
JobRequeue=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

stop_slurm() {
  scontrol shutdown > /dev/null 2>&1
  for _ in $(seq 1 50); do pgrep -f -- "-f $conf" > /dev/null || break; sleep 0.1; done
  pkill -9 -f -- "-f $conf"  # the daemons of this test's slurm.conf, whatever their state
  [ "$started_munged" = 1 ] && pkill -x munged
  for _ in $(seq 1 50); do pgrep -f -- "-f $conf" > /dev/null || break; sleep 0.1; done
  true
}
started_munged=0  # 1 when this test started munged (one already running is left alone)
trap stop_slurm EXIT
mkdir -p /run/munge && chown munge: /run/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null;
  chown munge: /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
munge_works() { munge -n 2>/dev/null | unmunge > /dev/null 2>&1; }
if ! munge_works; then
  pkill -x munged; sleep 0.5
  su -s /bin/sh munge -c munged || { echo "SKIPPED: munged does not start"; exit 77; }
  started_munged=1
  for _ in $(seq 1 50); do munge_works && break; sleep 0.1; done
  munge_works || { echo "SKIPPED: munged does not answer"; exit 77; }
fi
slurmctld -f "$conf" && slurmd -f "$conf" || { echo "SKIPPED: slurmctld or slurmd does not start"; exit 77; }
for _ in $(seq 1 100); do
  sinfo -h -o %t 2>/dev/null | grep -qx idle && break
  sleep 0.2
done
sinfo -h -o %t | grep -qx idle || { echo "SKIPPED: the SLURM node does not become idle"; sinfo; exit 77; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
state_of() { scontrol show job "$1" 2>/dev/null | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p'; }
wait_for() {  # JOBID SECONDS: until the job has ended
  for _ in $(seq 1 $(( $2 * 5 ))); do
    case "$(state_of "$1")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|"") return 0 ;; esac
    sleep 0.2
  done
  return 1
}
# Submitted from the source root, as the scripts ask (they find jobs/common/ through
# SLURM_SUBMIT_DIR); SLURM's own output files go to the test's folder, not the source tree.
cd "$src" || exit 1
common=(--gpus-per-task=0 --cpus-per-task=1 --time=00:10:00 --output="$work/logs/slurm-%x-%j.out")
two_ranks=(--ntasks-per-node=2)
export CDL_ROOT="$work/root" DATA="$data" SPLIT_DIR="$splits" CDL_BIN="$bin" LAUNCHER=srun
export CONFIG="$src/jobs/configs/train_classification.toml"
export EXTRA_ARGS="--epochs 3 --batch_size 2 --gpu false --threads 1 --learning_rate 1e-3 --deterministic --checkpoint_steps 1"

# 1. An uninterrupted job.
reference=$(sbatch --parsable --job-name=reference "${common[@]}" "${two_ranks[@]}" "$src/jobs/slurm/train.sbatch") ||
  { echo "FAIL: sbatch refused train.sbatch"; exit 1; }
wait_for "$reference" 300 || fail "the reference job did not end in 300 s"
[ "$(state_of "$reference")" = COMPLETED ] || fail "the reference job ended $(state_of "$reference")"
ref_maps="$work/root/runs/reference_$reference/MAPS"
grep -q "nodes 1, ranks 2" "$work/root/runs/reference_$reference/stdout.log" || fail "the reference job did not run 2 ranks"
[ -f "$ref_maps/split-0/best-loss/model.pth.tar" ] || fail "the reference job left no best model: $(tail -5 "$work/root/runs/reference_$reference/stderr.log" 2>/dev/null)"

# 2. The same job stopped by SIGUSR1 once it has a training state: it requeues and resumes. It
# stages its data in a "node-local" folder (STAGE_DATA), on its first run and on its resume alike,
# and leaves nothing there.
mkdir -p "$work/stage"
stopped=$(STAGE_DATA="$work/stage" sbatch --parsable --job-name=stopped "${common[@]}" "${two_ranks[@]}" "$src/jobs/slurm/train.sbatch")
run="$work/root/runs/stopped_$stopped"
for _ in $(seq 1 600); do [ -f "$run/MAPS/split-0/tmp/training_state.pt" ] && break; sleep 0.1; done
scancel --batch --signal=USR1 "$stopped"
wait_for "$stopped" 300 || fail "the stopped job did not end in 300 s"
grep -q "requeueing job $stopped" "$run/stdout.log" 2>/dev/null || fail "the stopped job did not requeue itself: $(tail -3 "$run/stdout.log" 2>/dev/null)"
restarts=$(scontrol show job "$stopped" | sed -nE 's/.*Restarts=([0-9]+).*/\1/p')
[ "${restarts:-0}" -ge 1 ] || fail "the job ran once only (Restarts=${restarts:-?})"
[ "$(state_of "$stopped")" = COMPLETED ] || fail "the requeued job ended $(state_of "$stopped")"
for model in "$ref_maps"/split-0/best-*/model.pth.tar; do
  cmp -s "$model" "$run/MAPS/${model#"$ref_maps"/}" || fail "${model#"$ref_maps"/} differs after the requeue"
done
staged=$(cat "$run/stdout.log" "$run/stderr.log" 2>/dev/null | grep -c "stage_data: 1 HDF5 file(s) copied to $work/stage/")
[ "$staged" -ge 2 ] || fail "the stopped job staged its data $staged time(s); expected on its run and on its resume"
[ -z "$(ls -A "$work/stage")" ] || fail "staged copies left behind: $(ls "$work/stage")"

# 3. The same job requeued from outside (`scontrol requeue`, as an administrator or a pre-emption
# does: SIGTERM, then the job runs again): it resumes to the same models.
outside=$(sbatch --parsable --job-name=outside "${common[@]}" "${two_ranks[@]}" "$src/jobs/slurm/train.sbatch")
run="$work/root/runs/outside_$outside"
for _ in $(seq 1 600); do [ -f "$run/MAPS/split-0/tmp/training_state.pt" ] && break; sleep 0.1; done
scontrol requeue "$outside" || fail "scontrol requeue $outside refused"
sleep 2
wait_for "$outside" 300 || fail "the job requeued from outside did not end in 300 s"
restarts=$(scontrol show job "$outside" | sed -nE 's/.*Restarts=([0-9]+).*/\1/p')
[ "${restarts:-0}" -ge 1 ] || fail "the job requeued from outside ran once only (Restarts=${restarts:-?})"
[ "$(state_of "$outside")" = COMPLETED ] || fail "the job requeued from outside ended $(state_of "$outside")"
grep -q "continues from its training state" "$run/stderr.log" "$run/stdout.log" 2>/dev/null ||
  fail "the job requeued from outside did not resume its state: $(tail -3 "$run/stdout.log")"
for model in "$ref_maps"/split-0/best-*/model.pth.tar; do
  cmp -s "$model" "$run/MAPS/${model#"$ref_maps"/}" || fail "${model#"$ref_maps"/} differs after scontrol requeue"
done

# 4. The k-fold array: one task per fold.
export SPLIT_DIR="$kfold" N_SPLITS=2
array=$(sbatch --parsable --job-name=kfold --array=0-1 "${common[@]}" --ntasks-per-node=1 "$src/jobs/slurm/kfold_array.sbatch")
for task in 0 1; do wait_for "${array}_$task" 300 || fail "array task $task did not end"; done
found=$(find "$work/root/runs" -path "*kfold*" -name model.pth.tar -path "*best-loss*" | wc -l)
[ "$found" -ge 2 ] || fail "the k-fold array trained $found fold(s), expected 2: $(find "$work/root/runs" -path '*kfold*' -name stderr.log -exec tail -3 {} \; | head -10)"

# 5. random_search.sbatch: 2 runs on 2 rank groups, stopped by SIGUSR1 once a run has a state; it
# requeues itself and continues the search (--resume) to its summary.
mkdir -p "$work/launch"
cat > "$work/launch/random_search.toml" <<TOML
[Random_Search]
network_task = "classification"
caps_directory = "$data"
tsv_path = "$splits"
n_convblocks = [1, 2]
first_conv_width = [4, 8]
n_fcblocks = 1
learning_rate = [3, 4]
epochs = 4
batch_size = 2
[Computational]
threads = 1
checkpoint_steps = 1
TOML
search=$(LAUNCH_DIR="$work/launch" NAME=search N_RUNS=2 sbatch --parsable --job-name=search \
           "${common[@]}" "${two_ranks[@]}" "$src/jobs/slurm/random_search.sbatch")
for _ in $(seq 1 600); do [ -f "$work/launch/search/run-0/split-0/tmp/training_state.pt" ] && break; sleep 0.1; done
scancel --batch --signal=USR1 "$search"
wait_for "$search" 300 || fail "the random search job did not end in 300 s"
[ "$(state_of "$search")" = COMPLETED ] || fail "the random search job ended $(state_of "$search")"
restarts=$(scontrol show job "$search" | sed -nE 's/.*Restarts=([0-9]+).*/\1/p')
[ "${restarts:-0}" -ge 1 ] || fail "the random search ran once only (Restarts=${restarts:-?})"
[ "$(grep -c $'\tfinished\t' "$work/launch/search/random_search.tsv" 2>/dev/null)" = 2 ] ||
  fail "the requeued random search did not finish its 2 runs: $(tail -3 "$work/root/runs/search_$search/stderr.log" 2>/dev/null)"

[ "$failures" -eq 0 ] && echo "ok: train.sbatch, its requeue after SIGUSR1 and after scontrol requeue (same models), kfold_array.sbatch and random_search.sbatch (requeued, continued) under a real SLURM"
[ "$failures" -eq 0 ]
