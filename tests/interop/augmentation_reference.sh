#!/usr/bin/env bash
# Our augmentations against their references, on two random images (even and odd lengths) with
# fixed parameters:
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
def load(name, shape):
    return np.fromfile(os.path.join(work, name + ".f32"), dtype=np.float32).reshape(shape)
failures = 0
for transform in index["transforms"]:
    name, p, shape = transform["name"], transform["parameters"], transform["shape"]
    x = load(transform["input"], shape)
    ours = load(name + "_" + transform["input"], shape)
    tensor = torch.from_numpy(x.copy())
    if name == "Smoothing":
        reference = ndimage.gaussian_filter(x, p["sigma"])
    elif name == "RandomBlur":
        reference = tio.Blur(std=tuple(p["std"]))(tensor).numpy()
    elif name.startswith("Spike"):
        reference = tio.Spike(spikes_positions=np.array(p["positions"]), intensity=p["intensity"])(tensor).numpy()
    elif name.startswith("Ghosting"):
        reference = tio.Ghosting(num_ghosts=p["num_ghosts"], axis=p["axis"], intensity=p["intensity"], restore=0.02)(tensor).numpy()
    elif name == "BiasField":
        reference = tio.BiasField(coefficients=p["coefficients"], order=p["order"])(tensor).numpy()
    elif name.startswith("Swap"):
        locations = [(np.array(c[:3]), np.array(c[3:])) for c in p["corners"]]
        reference = _swap(tensor, (p["patch"],) * 3, locations).numpy()
    elif name.startswith("Motion"):
        motion = tio.Motion(degrees=np.array(p["degrees"]), translation=np.array(p["translation"]),
                            times=np.array(p["times"]), image_interpolation="linear")
        reference = motion(tensor).numpy()
    difference = np.abs(ours - reference)
    if name.startswith("Motion"):
        difference = difference[:, 2:-2, 2:-2, 2:-2]
    tolerance = 1e-4 * float(np.ptp(reference))
    worst = float(difference.max())
    status = "ok  " if worst <= tolerance else "FAIL"
    failures += worst > tolerance
    print(f"{status} {name} ({transform['input']} {'x'.join(map(str, shape[1:]))}): largest difference {worst:.2e} (tolerance {tolerance:.2e})")
sys.exit(1 if failures else 0)
PY
