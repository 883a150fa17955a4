#!/usr/bin/env bash
# --fully_sharded_data_parallel end to end at 2 ranks: the best models equal those of the
# replicated optimizer (1e-5; Adam and AdamW; also when an update leaves a rank without
# samples), the log states the per-rank share of the state, a run stopped by SIGTERM inside an
# epoch resumes from its gathered state to the models of the uninterrupted sharded run, and other
# optimizers are refused before anything is written.
# Usage: sharded_optimizer.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR [MPI_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"; shift 5
preflags=("$@")
rm -rf "$work" && mkdir -p "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
train() {  # maps options...
  local maps="$1"; shift
  "$mpiexec" -n 2 "${preflags[@]}" "$bin" train classification "$data" "$splits" "$maps" \
    --epochs 3 --batch_size 4 --threads 1 --learning_rate 1e-3 --checkpoint_steps 1 "$@" \
    >> "$maps.log" 2>&1
}
same_models() {  # maps_a maps_b tolerance
  python3 - "$@" <<'PY'
import glob, os, sys, warnings
warnings.filterwarnings("ignore")
import torch
a, b, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
files = sorted(glob.glob(os.path.join(a, "split-0", "best-*", "model.pth.tar")))
assert files, "no best model in " + a
for path in files:
    x = torch.load(path, weights_only=True)["model"]
    y = torch.load(path.replace(a, b, 1), weights_only=True)["model"]
    worst = max((x[k].double() - y[k].double()).abs().max().item() for k in x)
    assert worst <= tolerance, f"{path}: {worst}"
PY
}

for optimizer in Adam AdamW; do
  train "$work/replicated_$optimizer" --optimizer "$optimizer" || fail "replicated $optimizer"
  train "$work/sharded_$optimizer" --optimizer "$optimizer" --fully_sharded_data_parallel ||
    fail "sharded $optimizer: $(tail -3 "$work/sharded_$optimizer.log")"
  grep -q "$optimizer state sharded over 2 rank(s): .* per rank instead of" "$work/sharded_$optimizer.log" ||
    fail "no sharding line in the log of $optimizer"
  same_models "$work/replicated_$optimizer" "$work/sharded_$optimizer" 1e-5 ||
    fail "sharded $optimizer differs from the replicated optimizer"
done

# 30 training images in updates of 2 x 6: the last update's one micro-batch leaves a rank without
# samples, which must meet the other rank's reductions (it once waited in a reduce-scatter while
# the other all-reduced during backward: a hang, hence the timeout).
for mode in replicated sharded; do
  flag=(); [ "$mode" = sharded ] && flag=(--fully_sharded_data_parallel)
  timeout 120 "$mpiexec" -n 2 "${preflags[@]}" "$bin" train classification "$data" "$splits" \
    "$work/uneven_$mode" --epochs 2 --batch_size 6 --threads 1 --learning_rate 1e-3 "${flag[@]}" \
    >> "$work/uneven_$mode.log" 2>&1 || fail "$mode run with a rank left without samples: $(tail -3 "$work/uneven_$mode.log")"
done
grep -q "12 images per weight update, 3 updates per epoch" "$work/uneven_sharded.log" ||
  fail "not the uneven plan: $(grep -o '[0-9]* updates per epoch' "$work/uneven_sharded.log")"
same_models "$work/uneven_replicated" "$work/uneven_sharded" 1e-5 ||
  fail "sharded differs from replicated when a rank has no samples in an update"

# Stopped at once after its first training state (one after every update), then resumed.
maps="$work/stopped"
train "$maps" --fully_sharded_data_parallel &
pid=$!
for _ in $(seq 600); do
  [ -f "$maps/split-0/tmp/training_state.pt" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
pkill -TERM -f -- "^$bin train .* $maps "
wait "$pid"; status=$?
[ "$status" -eq 4 ] || fail "the stopped sharded run exited with $status, expected 4"
"$mpiexec" -n 2 "${preflags[@]}" "$bin" resume "$maps" >> "$maps.log" 2>&1 ||
  fail "resume of a sharded run: $(tail -3 "$maps.log")"
grep -q "continues from its training state" "$maps.log" || fail "the sharded run did not resume its state"
same_models "$work/sharded_Adam" "$maps" 0 || fail "the resumed sharded run differs"

out=$("$bin" train classification "$data" "$splits" "$work/sgd" --optimizer SGD \
        --fully_sharded_data_parallel 2>&1); status=$?
{ [ "$status" -eq 2 ] && grep -q "shards the state of Adam and AdamW" <<< "$out" && [ ! -e "$work/sgd" ]; } ||
  fail "SGD with sharding: status $status: $out"
echo "sharded optimizer: $failures failure(s)"
[ "$failures" -eq 0 ]
