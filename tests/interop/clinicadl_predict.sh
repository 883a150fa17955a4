#!/usr/bin/env bash
# Interoperability with Python ClinicaDL: its own `clinicadl predict` must run on MAPS folders
# written by clinicadl-hpc (a single network, multi-network, a random-search run's
# RandomArchitecture; maps.json, groups/, model.pth.tar and network-<n>_model.pth.tar read
# by torch.load with its default weights_only=True of torch >= 2.6) and give our probabilities.
# Usage: clinicadl_predict.sh TINY_DIR [VENV_DIR]
#   TINY_DIR  the integration fixture of a build that ran its suite (tests/integration/train/tiny:
#             caps/, maps_classification/ and maps_multi_network_1/); never modified
#   VENV_DIR  where ClinicaDL 1.6.1 is (or gets) installed, beside the system's torch (default:
#             ~/.cache/clinicadl-hpc/clinicadl_venv, shared by the builds)
# Exit status: 0 when both MAPS predict within 1e-5 of our probabilities with the same labels;
# 1 on any difference or failure; 77 (skipped) without Python's torch (installed by the LibTorch
# 2.x stage of tests/run_tests.sh) or when ClinicaDL cannot be installed (no PyPI).
set -euo pipefail
tiny="$(cd "$1" && pwd)"
venv="${2:-$HOME/.cache/clinicadl-hpc/clinicadl_venv}"
work="$tiny/../clinicadl_interop"
if ! python3 -c "import torch" > /dev/null 2>&1; then
  echo "SKIPPED: python3 has no torch (ClinicaDL would download its own)"
  exit 77
fi
export PYTHONWARNINGS=ignore
unset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD  # our checkpoints must load without it

# ClinicaDL 1.6.1 beside the torch already installed (it accepts torch >= 2.1, < 3). Today's PyPI
# needs two pins: nilearn 0.9 imports pkg_resources (gone from setuptools >= 81), and ClinicaDL's
# bootstrap intervals call scipy.stats.bootstrap in a way scipy >= 1.14 rejects.
if [ ! -x "$venv/bin/clinicadl" ]; then
  rm -rf "$venv" && mkdir -p "$(dirname "$venv")"
  if ! { python3 -m venv --system-site-packages "$venv" &&
         "$venv/bin/pip" install --quiet clinicadl==1.6.1 &&
         "$venv/bin/pip" install --quiet 'setuptools<81' 'scipy<1.14'; }; then
    echo "SKIPPED: ClinicaDL 1.6.1 could not be installed from PyPI into $venv"
    exit 77
  fi
fi
clinicadl="$venv/bin/clinicadl"
python="$venv/bin/python"

# ClinicaDL reads images as its own .pt tensors: prepare-data on a copy of the NIfTI CAPS.
rm -rf "$work" && mkdir -p "$work"
cp -a "$tiny/caps" "$work/caps"
"$clinicadl" prepare-data image "$work/caps" t1-linear -np 1 -ej extract_image.json > "$work/prepare.log" 2>&1 ||
  { tail -20 "$work/prepare.log"; echo "FAIL: clinicadl prepare-data"; exit 1; }

status=0
# A finished run of IntegrationRandomSearch, when that test ran: ClinicaDL's RandomArchitecture.
search="$tiny/random_search/launch/two"
runs=()
if [ -f "$search/random_search.tsv" ]; then
  run=$(awk -F'\t' 'NR > 1 && $2 == "finished" {print $1; exit}' "$search/random_search.tsv")
  [ -n "$run" ] && cp -a "$search/$run" "$work/random_search_$run" && runs=("random_search_$run")
fi
for maps_name in maps_classification maps_multi_network_1 "${runs[@]}"; do
  [ -d "$work/$maps_name" ] || cp -a "$tiny/$maps_name" "$work/$maps_name"
  maps="$work/$maps_name"
  # A new group of the validation sessions (the leak check would refuse them, rightly).
  "$python" -c "import sys, pandas as pd; pd.read_csv(sys.argv[1], sep='\t')[['participant_id', 'session_id', 'diagnosis']].to_csv(sys.argv[2], sep='\t', index=False)" \
    "$maps/groups/validation/split-0/data.tsv" "$work/group.tsv"
  metrics=$("$python" -c "import json, sys; print(' '.join('-sm ' + m for m in json.load(open(sys.argv[1]))['selection_metrics']))" "$maps/maps.json")
  # shellcheck disable=SC2086  # the metric options are words on purpose
  if ! "$clinicadl" predict "$maps" interop --caps_directory "$work/caps" \
       --participants_tsv "$work/group.tsv" $metrics --no-gpu -np 1 --skip_leak_check \
       > "$work/$maps_name.log" 2>&1; then
    tail -20 "$work/$maps_name.log"; echo "FAIL: clinicadl predict on $maps_name"; status=1; continue
  fi
  # Its part-level predictions against ours for the same sessions (our validation TSVs).
  "$python" - "$maps" <<'PY' || status=1
import pathlib, sys
import pandas as pd
maps = pathlib.Path(sys.argv[1])
compared = 0
# The group holds split-0's validation sessions: compare split-0 (k-fold runs have more).
for ours_file in sorted(maps.glob("split-0/best-*/validation/validation_*_level_prediction.tsv")):
    theirs_file = ours_file.parent.parent / "interop" / ours_file.name.replace("validation_", "interop_")
    if "image_level" in ours_file.name and not theirs_file.exists():
        continue  # ClinicaDL skips soft voting under --skip_leak_check
    ours, theirs = pd.read_csv(ours_file, sep="\t"), pd.read_csv(theirs_file, sep="\t")
    keys = [c for c in ours.columns if c in ("participant_id", "session_id", "patch_id", "roi_id", "slice_id", "image_id")]
    if "image_level" in ours_file.name:
        keys = ["participant_id", "session_id"]
    both = ours.merge(theirs, on=keys, suffixes=("_hpc", "_cdl"))
    assert len(both) == len(ours) == len(theirs), f"{theirs_file}: {len(theirs)} rows, ours {len(ours)}"
    probabilities = [c for c in ours.columns if c.startswith("proba")]
    worst = max((both[p + "_hpc"] - both[p + "_cdl"]).abs().max() for p in probabilities)
    same = bool((both.predicted_label_hpc == both.predicted_label_cdl).all())
    print(f"{theirs_file.relative_to(maps)}: {len(both)} rows, max |proba diff| {worst:.3g}, same labels {same}")
    assert worst <= 1e-5 and same, "ClinicaDL's predictions differ from ours"
    compared += 1
assert compared > 0, "no prediction TSV compared"
PY
done
[ "$status" -eq 0 ] && echo "OK: ClinicaDL 1.6.1 predicts on our MAPS as we do"
exit "$status"
