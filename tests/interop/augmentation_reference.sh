#!/usr/bin/env bash
# Our augmentations against their references, on one random image with fixed parameters:
# Smoothing and RandomBlur against SciPy's gaussian_filter, Spike, Ghosting, BiasField, Swap and
# Motion against TorchIO 0.18.92 (the version ClinicaDL 1.6.1 installs), each within 1e-4 of the
# image's range (Motion: SimpleITK's resampling at the image's border differs by design, so
# its error is measured inside a 2-voxel margin).
# Usage: augmentation_reference.sh AUGMENTATION_OUTPUTS WORK_DIR
#   The readers come from ClinicaDL's interoperability venv when it exists, else from a venv of
#   their own ($CDL_AUGMENT_VENV, default ~/.cache/clinicadl-hpc/augment_venv).
# Exit status: 0 when all match; 1 on a difference; 77 (skipped) when they cannot be installed.
set -uo pipefail
tool="$1"; work="$2"
rm -rf "$work" && mkdir -p "$work" || exit 1
export PYTHONWARNINGS=ignore
python=""
for venv in "$HOME/.cache/clinicadl-hpc/clinicadl_venv" "${CDL_AUGMENT_VENV:-$HOME/.cache/clinicadl-hpc/augment_venv}"; do
  if "$venv/bin/python" -c "import torchio, scipy" > /dev/null 2>&1; then python="$venv/bin/python"; break; fi
done
if [ -z "$python" ]; then
  venv="${CDL_AUGMENT_VENV:-$HOME/.cache/clinicadl-hpc/augment_venv}"
  rm -rf "$venv" && mkdir -p "$(dirname "$venv")"
  if python3 -m venv --system-site-packages "$venv" &&
     "$venv/bin/pip" install --quiet torchio==0.18.92 scipy; then
    python="$venv/bin/python"
  else
    echo "SKIPPED: TorchIO 0.18.92 and SciPy could not be installed from PyPI into $venv"
    exit 77
  fi
fi
"$tool" "$work" || { echo "FAIL: $tool"; exit 1; }
"$python" - "$work" <<'PY'
import json, os, sys
import numpy as np
import torch
import torchio as tio
from scipy import ndimage
from torchio.transforms.augmentation.intensity.random_swap import _swap

work = sys.argv[1]
index = json.load(open(os.path.join(work, "index.json")))
shape = index["shape"]
def load(name):
    return np.fromfile(os.path.join(work, name + ".f32"), dtype=np.float32).reshape(shape)
x = load("input")
failures = 0
for transform in index["transforms"]:
    name, p = transform["name"], transform["parameters"]
    ours = load(name)
    tensor = torch.from_numpy(x.copy())
    if name == "Smoothing":
        reference = ndimage.gaussian_filter(x, p["sigma"])
    elif name == "RandomBlur":
        reference = tio.Blur(std=tuple(p["std"]))(tensor).numpy()
    elif name == "Spike":
        reference = tio.Spike(spikes_positions=np.array(p["positions"]), intensity=p["intensity"])(tensor).numpy()
    elif name.startswith("Ghosting"):
        reference = tio.Ghosting(num_ghosts=p["num_ghosts"], axis=p["axis"], intensity=p["intensity"], restore=0.02)(tensor).numpy()
    elif name == "BiasField":
        reference = tio.BiasField(coefficients=p["coefficients"], order=p["order"])(tensor).numpy()
    elif name == "Swap":
        locations = [(np.array(c[:3]), np.array(c[3:])) for c in p["corners"]]
        reference = _swap(tensor, (p["patch"],) * 3, locations).numpy()
    elif name == "Motion":
        motion = tio.Motion(degrees=np.array(p["degrees"]), translation=np.array(p["translation"]),
                            times=np.array(p["times"]), image_interpolation="linear")
        reference = motion(tensor).numpy()
    difference = np.abs(ours - reference)
    if name == "Motion":
        difference = difference[:, 2:-2, 2:-2, 2:-2]
    tolerance = 1e-4 * float(np.ptp(reference))
    worst = float(difference.max())
    status = "ok  " if worst <= tolerance else "FAIL"
    failures += worst > tolerance
    print(f"{status} {name}: largest difference {worst:.2e} (tolerance {tolerance:.2e})")
sys.exit(1 if failures else 0)
PY
