#!/usr/bin/env bash
# --profiler at 2 ranks: the Chrome trace of the first 2 epochs holds every phase of both ranks
# (complete events with non-negative times, in a JSON document Python's json reads), as many
# forward passes as the 2 epochs have micro-batches over the ranks, one evaluation per rank and
# epoch, and the log prints the summary table.
# Usage: profiler_trace.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"; shift 5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
maps="$work/maps_profiler"
rm -rf "$work" && mkdir -p "$work" || exit 1
"$mpiexec" -n 2 "$@" "$bin" train classification "$data" "$splits" "$maps" --profiler --epochs 3 \
  --batch_size 4 --threads 1 > "$work/train.log" 2>&1 ||
  { tail -5 "$work/train.log"; echo "FAIL: training with --profiler"; exit 1; }
grep -q "profile of its first 2 epoch(s)" "$work/train.log" || { echo "FAIL: no profile summary in the log"; exit 1; }
grep -Eq "forward +[0-9.]+ +[0-9.]+% +[0-9]+" "$work/train.log" || { echo "FAIL: no forward row in the summary"; exit 1; }
python3 - "$maps" <<'PY'
import json, math, os, sys
maps = sys.argv[1]
trace = json.load(open(os.path.join(maps, "profiler", "split-0.pt.trace.json")))
events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
phases = {"data wait", "forward", "backward", "reduction", "optimizer", "evaluation", "checkpoint"}
for rank in (0, 1):
    seen = {e["name"] for e in events if e["pid"] == rank}
    assert seen == phases, (rank, seen)
assert all(e["ts"] >= 0 and e["dur"] >= 0 for e in events)
with open(os.path.join(maps, "groups", "train", "split-0", "data.tsv")) as f:
    train_sessions = sum(1 for _ in f) - 1
micro_batches = 2 * math.ceil(train_sessions / 4)  # over both ranks, 2 epochs
forwards = sum(1 for e in events if e["name"] == "forward")
assert forwards == micro_batches, (forwards, micro_batches)
evaluations = sum(1 for e in events if e["name"] == "evaluation")
assert evaluations == 2 * 2, evaluations
print(f"ok: {len(events)} events of 2 ranks, {forwards} forward passes, every phase")
PY
