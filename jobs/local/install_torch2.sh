#!/usr/bin/env bash
# Makes a current LibTorch 2.x available through Python's `torch` wheel from PyPI (it carries
# LibTorch's headers, libraries and CMake package), installing it only when python3 lacks a
# torch 2.x. Prints the CMake prefix of that LibTorch on its last line.
# CDL_TORCH_SPEC overrides what is installed (default: the version CI is tested with).
set -euo pipefail
spec="${CDL_TORCH_SPEC:-torch==2.15.0}"
have_torch2() {
  python3 - <<'PY' 2>/dev/null
import sys, torch
sys.exit(0 if int(torch.__version__.split(".")[0]) >= 2 else 1)
PY
}
if ! have_torch2; then
  echo "[install_torch2] installing $spec from PyPI (LibTorch 2.x with CUDA; a few GB)" >&2
  python3 -m pip install -q --no-cache-dir "$spec" >&2
fi
python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null | tail -n 1
