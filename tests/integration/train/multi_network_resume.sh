#!/usr/bin/env bash
# Multi-network stop and resume on another rank count: 4 patch networks on 2 ranks (2 groups),
# stopped by SIGUSR1 to mpirun right after the first training state, must exit with status 4 on
# every rank; `resume` on 3 ranks (3 groups) then continues the interrupted networks from their
# states, trains the others, and merges. MultiNetworkResumeMaps compares the result with the
# uninterrupted 1-rank run (IntegrationMultiNetwork1).
# Usage: multi_network_resume.sh CLINICADL_HPC MPIEXEC TINY_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; tiny="$3"; shift 3
preflags=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
maps="$tiny/maps_multi_network_resumed"
rm -rf "$maps" "$maps.partial"
# The options of IntegrationMultiNetwork1, plus a state after every weight update.
args=(classification "$tiny/data.h5" "$tiny/splits" --multi_network --mode patch --patch_size 30
      --stride_size 3 --batch_size 4 --accumulation_steps 2 --epochs 2 --deterministic --threads 1
      --save_all_models --selection_metrics loss BA --learning_rate 1e-3 --checkpoint_steps 1)
fail() { echo "FAIL: $*"; exit 1; }

"$mpiexec" -n 2 "${preflags[@]}" "$bin" train "${args[@]}" "$maps" > "$maps.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  compgen -G "$maps/split-0/tmp/network-*/training_state.pt" > /dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -USR1 "$pid" 2>/dev/null  # mpirun forwards SIGUSR1 to every rank
wait "$pid"; status=$?
[ "$status" -eq 4 ] || fail "stopped multi-network run: status $status, expected 4: $(tail -5 "$maps.log")"
grep -q "Continue with: clinicadl-hpc resume" "$maps.log" || fail "no resume hint: $(tail -5 "$maps.log")"
states=$(compgen -G "$maps/split-0/tmp/network-*/training_state.pt" | wc -l)
[ "$states" -ge 1 ] || fail "no network training state after the stop"
[ -f "$maps/split-0/best-loss/validation/validation_image_level_prediction.tsv" ] &&
  fail "the merged TSVs exist although the networks did not finish"
"$mpiexec" -n 3 "${preflags[@]}" "$bin" resume "$maps" > "$maps.resume.log" 2>&1 ||
  fail "resume on 3 ranks failed: $(tail -5 "$maps.resume.log")"
grep -q "continues from its training state" "$maps.resume.log" || fail "resume log: $(head -5 "$maps.resume.log")"
[ -d "$maps/split-0/tmp" ] && fail "tmp/ is still there after the resume"
echo "OK: stopped with status 4 ($states network state(s)), resumed on 3 ranks"
