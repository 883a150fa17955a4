#!/usr/bin/env bash
# --emissions_calculator end to end, at 2 ranks on one node:
#  1. with RAPL counters (a powercap tree made here whose package counter grows by 1 J every
#     0.1 s and wraps at 50 J, through CDL_POWERCAP_ROOT): split-0's emissions.csv holds one row
#     in CodeCarbon's columns, the node counted once (not once per rank), the energy within the
#     bounds of what the counter grew during the job, emissions = energy x 475 g/kWh;
#  2. without any readable counter: no emissions.csv, and the log says why.
# Usage: emissions.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR [MPIEXEC_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"; shift 5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$work" && mkdir -p "$work/powercap/intel-rapl:0" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
rapl="$work/powercap/intel-rapl:0"
echo package-0 > "$rapl/name"; echo 50000000 > "$rapl/max_energy_range_uj"; echo 0 > "$rapl/energy_uj"
( uj=0; while true; do uj=$(( (uj + 1000000) % 50000000 )); echo $uj > "$rapl/energy_uj.new";
  mv "$rapl/energy_uj.new" "$rapl/energy_uj"; sleep 0.1; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null' EXIT
start=$(date +%s.%N)
CDL_POWERCAP_ROOT="$work/powercap" "$mpiexec" -n 2 -x CDL_POWERCAP_ROOT "$@" "$bin" train \
  classification "$data" "$splits" "$work/maps" --emissions_calculator --epochs 2 --batch_size 4 \
  --threads 1 > "$work/train.log" 2>&1 || fail "training with --emissions_calculator: $(tail -3 "$work/train.log")"
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
kill $ticker 2>/dev/null
grep -q "split-0 used .* on 1 node(s)" "$work/train.log" || fail "no energy line in the log: $(grep -i energy "$work/train.log")"
python3 - "$work/maps/split-0/training_logs/emissions.csv" "$elapsed" <<'PY' || fail "emissions.csv"
import csv, sys
path, elapsed = sys.argv[1], float(sys.argv[2])
rows = list(csv.DictReader(open(path)))
assert len(rows) == 1, rows
row = rows[0]
for column in ("timestamp", "project_name", "run_id", "duration", "emissions", "cpu_energy",
               "gpu_energy", "ram_energy", "energy_consumed", "tracking_mode", "pue"):
    assert column in row, column
assert row["run_id"] == "split-0" and row["tracking_mode"] == "machine", row
assert row["gpu_energy"] == "" and row["ram_energy"] == "", "unmeasured energies must stay empty"
duration = float(row["duration"])
joules = float(row["cpu_energy"]) * 3.6e6
# The counter grew 10 J/s while the meter ran (at most the job's time); once per node: < 10 J/s.
assert 0 < duration <= elapsed, (duration, elapsed)
assert 0.5 * 10 * duration - 2 <= joules <= 10 * duration + 2, (joules, duration)
assert abs(float(row["emissions"]) - float(row["energy_consumed"]) * 475 / 1000) < 1e-12
print(f"ok: {joules:.1f} J over {duration:.1f} s, {row['emissions']} kg CO2eq")
PY
CDL_POWERCAP_ROOT="$work/none" "$bin" train classification "$data" "$splits" "$work/maps_none" \
  --emissions_calculator --epochs 1 --batch_size 4 > "$work/none.log" 2>&1 || fail "training without counters"
grep -q "no energy counter is readable here (CPU: no RAPL package domain" "$work/none.log" ||
  fail "no reason given without counters: $(grep -i emissions "$work/none.log")"
[ -e "$work/maps_none/split-0/training_logs/emissions.csv" ] && fail "an emissions.csv was written without any counter"
[ "$failures" -eq 0 ]
