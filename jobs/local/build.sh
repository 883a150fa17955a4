#!/usr/bin/env bash
# Configures and builds clinicadl-hpc into BUILD_DIR (default: build/) with Ninja, 2 jobs.
# Extra arguments are passed to cmake (e.g. -DWITH_CUDA=ON -DWITH_NCCL=ON); BUILD_TARGETS limits
# what is built (default: everything).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
jobs="${BUILD_JOBS:-2}"
mkdir -p "$build_dir"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >"$build_dir/configure.log" 2>&1 \
  || { cat "$build_dir/configure.log"; exit 1; }
grep -E '^-- +(\[|LibTorch|MPI |clinicadl)' "$build_dir/configure.log" || true
cmake --build "$build_dir" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
