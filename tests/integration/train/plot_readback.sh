#!/usr/bin/env bash
# `clinicadl-hpc plot` read back: every curve of the SVG drawing, mapped back through its panel's
# axes, gives the training.tsv values (within the drawing's precision); every best-model mark
# sits on the validation curve at the end of the epoch that torch.load finds in its model file.
# Usage: plot_readback.sh CLINICADL_HPC MAPS [MAPS...]   (python3 with torch; the MAPS unchanged
# but for MAPS/training_curves.svg)
set -uo pipefail
bin="$1"; shift
export PYTHONWARNINGS=ignore
if ! python3 -c "import torch" > /dev/null 2>&1; then
  echo "SKIPPED: python3 has no torch to read the best models' epochs"
  exit 77
fi
status=0
for maps in "$@"; do
  "$bin" plot "$maps" > "$maps.plot.log" 2>&1 || { cat "$maps.plot.log"; echo "FAIL: plot $maps"; status=1; continue; }
  python3 - "$maps" <<'PY' || status=1
import csv, glob, math, os, sys
import xml.etree.ElementTree as ET
import torch

maps = sys.argv[1]
ns = {"svg": "http://www.w3.org/2000/svg"}
root = ET.parse(os.path.join(maps, "training_curves.svg")).getroot()

def logs():
    for split_dir in sorted(glob.glob(os.path.join(maps, "split-*"))):
        split = os.path.basename(split_dir)
        single = os.path.join(split_dir, "training_logs", "training.tsv")
        if os.path.exists(single):
            yield split, split, single, os.path.join(split_dir, "best-{}", "model.pth.tar")
        for path in sorted(glob.glob(os.path.join(split_dir, "training_logs", "network-*", "training.tsv"))):
            network = os.path.basename(os.path.dirname(path))
            yield f"{split} {network}", split, path, os.path.join(split_dir, "best-{}", network + "_model.pth.tar")

failures = checked = marks = 0
for name, split, path, best_pattern in logs():
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    last_iteration = {}
    for r in rows:
        last_iteration[r["epoch"]] = max(last_iteration.get(r["epoch"], -1), int(r["iteration"]))
    xs = [int(r["epoch"]) + (int(r["iteration"]) + 1) / (last_iteration[r["epoch"]] + 1) for r in rows]
    for panel in root.findall("svg:g", ns):
        metric = panel.get("data-metric")
        x0, x1 = map(float, panel.get("data-x-range").split())
        y0, y1 = map(float, panel.get("data-y-range").split())
        left, top, width, height = map(float, panel.get("data-area").split())
        for line in panel.findall("svg:polyline", ns):
            if line.get("data-curve") != name:
                continue
            column = metric + ("_train" if line.get("data-set") == "train" else "_valid")
            want = [(x, float(r[column])) for x, r in zip(xs, rows) if r[column] not in ("", "nan")]
            points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            got = [(x0 + (px - left) / width * (x1 - x0), y1 - (py - top) / height * (y1 - y0)) for px, py in points]
            tolerance = 1e-3 * (y1 - y0)
            if len(got) != len(want) or any(abs(a[0] - b[0]) > 1e-3 or abs(a[1] - b[1]) > tolerance for a, b in zip(got, want)):
                failures += 1
                print(f"FAIL {name} {column}: drawn {got[:3]}..., training.tsv {want[:3]}...")
            checked += 1
        for mark in panel.findall("svg:circle", ns):
            if mark.get("data-curve") != name:
                continue
            epoch = torch.load(best_pattern.format(metric), weights_only=True)["epoch"]
            end = max(i for i, r in enumerate(rows) if int(r["epoch"]) == epoch)
            cx = left + (xs[end] - x0) / (x1 - x0) * width
            cy = top + (y1 - float(rows[end][metric + "_valid"])) / (y1 - y0) * height
            if int(mark.get("data-epoch")) != epoch or abs(float(mark.get("cx")) - cx) > 0.01 or abs(float(mark.get("cy")) - cy) > 0.01:
                failures += 1
                print(f"FAIL {name} best-{metric}: mark at epoch {mark.get('data-epoch')}, model of epoch {epoch}")
            marks += 1
if checked == 0 or marks == 0:
    failures += 1
    print(f"FAIL {maps}: {checked} curves and {marks} best-model marks found")
print(("FAIL" if failures else "ok  ") + f" {maps}: {checked} curves, {marks} best-model marks read back")
sys.exit(1 if failures else 0)
PY
done
exit $status
