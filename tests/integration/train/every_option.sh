#!/usr/bin/env bash
# A ClinicaDL train_config.toml that sets every option ClinicaDL 1.6.1 has and clinicadl-hpc
# once refused (all ten augmentations, size reduction, the MLflow tracker, the sharded
# optimizer, the profiler, the emissions calculator) trains here at 2 ranks, and each option
# leaves its mark: maps.json records it, the reduced network, the MLflow run and TensorBoard
# files, the sharding line, the Chrome trace, the emissions row (from a powercap tree made here,
# through CDL_POWERCAP_ROOT, so that it does not depend on the node's counters).
# Usage: every_option.sh CLINICADL_HPC CAPS2H5 MPIEXEC WORK_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; caps2h5="$2"; mpiexec="$3"; work="$4"; shift 4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$work" && mkdir -p "$work/powercap/intel-rapl:0" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Images large enough for RandomSwap's 15-voxel cubes after the reduction: 48x56x48 by
# factor 2 keeps D 4:48:2, H 8:56:2, W 8:48:2 = 22x24x20.
"$caps2h5" synthetic "$work/caps" --subjects 8 --size 48x56x48 --seed 3 > /dev/null &&
  "$caps2h5" convert "$work/caps" "$work/data.h5" --no-progress > /dev/null &&
  "$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/splits" \
    > /dev/null || { echo "FAIL: making the data set"; exit 1; }
rapl="$work/powercap/intel-rapl:0"
echo package-0 > "$rapl/name"; echo 50000000 > "$rapl/max_energy_range_uj"; echo 1000 > "$rapl/energy_uj"

cat > "$work/train_config.toml" <<'TOML'
# ClinicaDL's layout and key names: every option below was refused before.
[Model]
architecture = "Conv5_FC3"

[Computational]
n_proc = 2
batch_size = 2
fully_sharded_data_parallel = true

[Reproducibility]
seed = 4
track_exp = "mlflow"

[Data]
data_augmentation = ["Noise", "Erasing", "CropPad", "Smoothing", "Motion", "Ghosting", "Spike",
                     "BiasField", "RandomBlur", "RandomSwap"]
size_reduction = true
size_reduction_factor = 2

[Optimization]
epochs = 2
learning_rate = 1e-3
profiler = true

[Informations]
emissions_calculator = true
TOML

maps="$work/maps"
CDL_POWERCAP_ROOT="$work/powercap" "$mpiexec" -n 2 -x CDL_POWERCAP_ROOT "$@" "$bin" train \
  classification "$work/data.h5" "$work/splits" "$maps" --config_file "$work/train_config.toml" \
  --threads 1 > "$work/train.log" 2>&1 ||
  { tail -5 "$work/train.log"; echo "FAIL: training with every option"; exit 1; }

grep -q "Architecture: Conv5_FC3 for input 1@22x24x20" "$maps/information.log" ||
  fail "not the reduced input: $(grep Architecture "$maps/information.log")"
grep -q "state sharded over 2 rank(s)" "$work/train.log" ||
  fail "no sharding line in the log"
grep -q "profile of its first 2 epoch(s)" "$work/train.log" || fail "no profile summary in the log"
python3 - "$maps" <<'PY' || fail "the MAPS does not show every option"
import csv, glob, json, os, sys
maps = sys.argv[1]
config = json.load(open(os.path.join(maps, "maps.json")))
expected = {"data_augmentation": ["Noise", "Erasing", "CropPad", "Smoothing", "Motion", "Ghosting",
                                  "Spike", "BiasField", "RandomBlur", "RandomSwap"],
            "size_reduction": True, "size_reduction_factor": 2, "track_exp": "mlflow",
            "fully_sharded_data_parallel": True, "profiler": True, "emissions_calculator": True,
            "n_proc": 2, "input_size": [1, 22, 24, 20]}
for key, value in expected.items():
    assert config[key] == value, f"maps.json {key}: {config[key]!r}, expected {value!r}"
logs = os.path.join(maps, "split-0", "training_logs")
for folder in ("train", "validation"):
    assert glob.glob(os.path.join(logs, "tensorboard", folder, "events.out.tfevents.*")), folder
runs = glob.glob(os.path.join(maps, "mlruns", "*", "split-0", "meta.yaml"))
assert len(runs) == 1, f"MLflow runs: {runs}"
with open(os.path.join(logs, "training.tsv")) as f:
    columns = set(f.readline().rstrip("\n").split("\t")) - {"epoch", "iteration", "time"}
metrics = set(os.listdir(os.path.join(os.path.dirname(runs[0]), "metrics")))
assert metrics == columns, f"MLflow metrics {sorted(metrics)}, expected {sorted(columns)}"
trace = json.load(open(os.path.join(maps, "profiler", "split-0.pt.trace.json")))
ranks = {e["pid"] for e in trace["traceEvents"] if e.get("ph") == "X"}
assert len(ranks) == 2, f"trace events of ranks {ranks}, expected both"
rows = list(csv.DictReader(open(os.path.join(logs, "emissions.csv"))))
assert len(rows) == 1 and rows[0]["run_id"] == "split-0", rows
print("ok: every option recorded and written:", ", ".join(expected))
PY
[ "$failures" -eq 0 ]
