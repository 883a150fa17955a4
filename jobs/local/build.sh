#!/usr/bin/env bash
# Configures and builds clinicadl-hpc into BUILD_DIR (default: build/) with Ninja, 2 jobs.
# Extra arguments are passed to cmake (e.g. -DWITH_CUDA=ON -DWITH_NCCL=ON); BUILD_TARGETS limits
# what is built (default: everything). BUILD_PROGRESS=summary prints one line per tenth of the
# build instead of one line per file (the full output goes to BUILD_DIR/build.log).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
jobs="${BUILD_JOBS:-2}"
mkdir -p "$build_dir"
# ccache (when installed) keys on paths relative to the checkout, so a fresh clone in another
# folder reuses what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR=1
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >"$build_dir/configure.log" 2>&1 \
  || { cat "$build_dir/configure.log"; exit 1; }
grep -E '^-- +(\[|LibTorch|MPI |clinicadl)' "$build_dir/configure.log" || true
if [ "${BUILD_PROGRESS:-}" != summary ]; then
  cmake --build "$build_dir" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
  exit 0
fi
# Ninja's "[done/total] ..." lines, condensed to one line per further 10 %; the whole output goes
# to build.log, whose end is shown when the build fails.
log="$build_dir/build.log"
set +e
cmake --build "$build_dir" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS} 2>&1 | tee "$log" | awk '
  match($0, /^\[[0-9]+\/[0-9]+\]/) {
    split(substr($0, 2, RLENGTH - 2), n, "/")
    step = int(10 * n[1] / n[2])
    if (step > shown) { shown = step; printf "[build] %3d %% (%d/%d steps)\n", 10 * step, n[1], n[2]; fflush() }
  }
  /^ninja: no work to do/ { print "[build] up to date" }'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "[build] FAILED; the end of $log:" >&2
  tail -n 60 "$log" >&2
fi
exit "$status"
