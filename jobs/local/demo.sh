#!/usr/bin/env bash
# The demo command of the README: installs what is missing, builds, then runs the whole chain on
# a small synthetic dataset: synthetic CAPS -> caps2h5 convert -> TSV split -> mpirun -np 2
# training -> MAPS folder -> summary. Takes a few minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash jobs/local/install_deps.sh
BUILD_TARGETS="clinicadl-hpc caps2h5" BUILD_DIR="$root/build" bash jobs/local/build.sh >/dev/null
bin="$root/build/src/clinicadl-hpc"
caps2h5="$root/build/data_tools/caps2h5"
work="${DEMO_DIR:-$root/out/demo}"

echo "== clinicadl-hpc demo (outputs under $work)"
"$bin" list_models
