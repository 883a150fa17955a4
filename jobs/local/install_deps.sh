#!/usr/bin/env bash
# Installs the Debian 12 packages clinicadl-hpc needs, only those missing, quietly.
# Usage: install_deps.sh [--test]
# Used by both README commands (jobs/local/demo.sh and tests/run_tests.sh). Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config zlib1g-dev
  libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev libboost-program-options-dev libgtest-dev
  libnifti2-dev libdeflate-dev libtomlplusplus-dev nlohmann-json3-dev libjemalloc-dev
)
# --test: also what the test command needs (formatting check, libFuzzer, corpus scripts, the
# virtual environment of the ClinicaDL interoperability test).
if [ "${1:-}" = "--test" ]; then
  packages+=(clang clang-format libclang-rt-14-dev python3 python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[install_deps] all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[install_deps] missing packages: ${missing[*]}" >&2
  echo "[install_deps] run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[install_deps] installing ${#missing[@]} Debian packages (a few minutes on a new machine): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[install_deps] done"
