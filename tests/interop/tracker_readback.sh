#!/usr/bin/env bash
# The experiment-tracking files of a MAPS read back by the trackers' own readers: TensorBoard's
# event-file loader (which checks every record's CRC) must find, for train/ and validation/, one
# scalar per metric and training.tsv row, at step iteration + epoch x batches per epoch, equal to
# the row's value as float32, and no tag and step twice (after a resume too). Where maps.json says
# track_exp = mlflow, MLflow's own client must find run split-0 of experiment "clinicadl-<MAPS>"
# FINISHED, with maps.json as parameters and, per metric, one value per epoch (step = epoch) equal
# to the epoch's last training.tsv row.
# Usage: tracker_readback.sh MAPS [MAPS...]
#   MAPS      MAPS trained (or resumed) by clinicadl-hpc (single network, split 0); never modified
#   CDL_TRACKERS_VENV  where the readers are (or get) installed, beside the system's Python
#             packages (default: ~/.cache/clinicadl-hpc/trackers_venv, shared by the builds)
# Exit status: 0 when everything matches; 1 on any difference; 77 (skipped) when the readers
# cannot be installed (no PyPI).
set -euo pipefail
venv="${CDL_TRACKERS_VENV:-$HOME/.cache/clinicadl-hpc/trackers_venv}"
export PYTHONWARNINGS=ignore
if ! "$venv/bin/python" -c "import tensorboard, mlflow" > /dev/null 2>&1; then
  rm -rf "$venv" && mkdir -p "$(dirname "$venv")"
  if ! { python3 -m venv --system-site-packages "$venv" &&
         "$venv/bin/pip" install --quiet tensorboard mlflow-skinny; }; then
    echo "SKIPPED: TensorBoard and MLflow could not be installed from PyPI into $venv"
    exit 77
  fi
fi

status=0
for maps in "$@"; do
  echo "== $maps"
  "$venv/bin/python" - "$maps" <<'PY' || status=1
import csv, glob, json, math, os, struct, sys
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

maps = sys.argv[1]
config = json.load(open(os.path.join(maps, "maps.json")))
with open(os.path.join(maps, "groups/train/split-0/data.tsv")) as f:
    train_sessions = sum(1 for _ in f) - 1
batches_per_epoch = -(-train_sessions // config["batch_size"])
logs = os.path.join(maps, "split-0/training_logs")
with open(os.path.join(logs, "training.tsv")) as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
assert rows, "training.tsv has no row"

def as_float32(text):
    return struct.unpack("f", struct.pack("f", float(text)))[0] if text else math.nan

failures = 0
for suffix, folder in (("_train", "train"), ("_valid", "validation")):
    files = glob.glob(os.path.join(logs, "tensorboard", folder, "events.out.tfevents.*"))
    assert len(files) == 1, f"{folder}: expected one event file, found {files}"
    events = list(EventFileLoader(files[0]).Load())
    assert events[0].file_version == "brain.Event:2", events[0]
    failures_before = failures
    seen = {}
    count = 0
    for event in events[1:]:
        count += len(event.summary.value)
        for value in event.summary.value:  # migrated by the loader to a scalars-plugin tensor
            assert value.metadata.plugin_data.plugin_name == "scalars", value
            seen[(value.tag, event.step)] = float(tensor_util.make_ndarray(value.tensor))
    expected = {}
    for row in rows:
        step = int(row["iteration"]) + int(row["epoch"]) * batches_per_epoch
        for column, text in row.items():
            if column.endswith(suffix):
                expected[(column[: -len(suffix)], step)] = as_float32(text)
    if count != len(seen):
        failures += 1
        print(f"FAIL {folder}: {count - len(seen)} scalars repeat a tag and step (a resume that "
              "did not rewrite the events?)")
    if set(seen) != set(expected):
        failures += 1
        print(f"FAIL {folder}: tags and steps differ: only in the events "
              f"{sorted(set(seen) - set(expected))[:5]}, only in training.tsv "
              f"{sorted(set(expected) - set(seen))[:5]}")
        continue
    for key, value in expected.items():
        same = (math.isnan(value) and math.isnan(seen[key])) or value == seen[key]
        if not same:
            failures += 1
            print(f"FAIL {folder}: {key} is {seen[key]} in the events, {value} in training.tsv")
    if failures == failures_before:
        print(f"ok   {folder}: {len(seen)} scalars ({len(rows)} rows) read back by TensorBoard")

if config.get("track_exp") == "mlflow":
    import shutil, tempfile
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow >= 3.7 keeps file stores read-only
    from mlflow.tracking import MlflowClient
    failures_before = failures
    copy = os.path.join(tempfile.mkdtemp(), os.path.basename(maps))  # the client adds .trash/
    shutil.copytree(os.path.join(maps, "mlruns"), os.path.join(copy, "mlruns"))
    client = MlflowClient(tracking_uri="file://" + os.path.join(copy, "mlruns"))
    experiment = client.get_experiment_by_name("clinicadl-" + os.path.basename(maps))
    run = client.get_run("split-0")
    assert experiment is not None and run.info.experiment_id == experiment.experiment_id
    if run.info.status != "FINISHED" or run.info.run_name != "split-0":
        failures += 1
        print(f"FAIL mlflow: run {run.info.run_name} is {run.info.status}, expected FINISHED")
    want_params = {k: v for k, v in config.items() if k != "preprocessing_dict"}
    if set(run.data.params) != set(want_params) or run.data.params["batch_size"] != str(config["batch_size"]):
        failures += 1
        print(f"FAIL mlflow: parameters {sorted(run.data.params)[:5]}..., expected maps.json's")
    last_row = {}
    for row in rows:
        last_row[int(row["epoch"])] = row
    for column in rows[0]:
        if column in ("epoch", "iteration", "time"):
            continue
        history = client.get_metric_history("split-0", column)
        got = {m.step: m.value for m in history}
        want = {e: float(r[column]) if r[column] else math.nan for e, r in last_row.items()}
        same = len(history) == len(want) and set(got) == set(want) and all(
            (math.isnan(want[e]) and math.isnan(got[e])) or want[e] == got[e] for e in want)
        if not same:
            failures += 1
            print(f"FAIL mlflow: {column} is {got}, expected {want}")
    if failures == failures_before:
        print(f"ok   mlflow: run split-0 FINISHED, {len(run.data.params)} parameters, "
              f"{len(run.data.metrics)} metrics over {len(last_row)} epochs read back by MLflow")
sys.exit(1 if failures else 0)
PY
done
exit $status
