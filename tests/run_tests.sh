#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds, runs the whole suite with
# CTest. When the CUDA toolkit with NCCL is present it also compile-checks the NCCL back end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash jobs/local/install_deps.sh
mkdir -p build
BUILD_DIR="$root/build" bash jobs/local/build.sh

cuda_root="${CUDA_HOME:-/usr/local/cuda}"
if [ -f "$cuda_root/include/nccl.h" ]; then
  echo "== compile check of the CUDA/NCCL back end against $cuda_root (CPU-only LibTorch)"
  mkdir -p build-nccl
  BUILD_DIR="$root/build-nccl" BUILD_TARGETS=cdl_comm bash jobs/local/build.sh \
    -DWITH_CUDA=ON -DWITH_NCCL=ON -DCDL_ALLOW_CPU_TORCH_WITH_CUDA=ON \
    -DCUDAToolkit_ROOT="$cuda_root" -DBUILD_TESTING=OFF -DCDL_BUILD_DATA_TOOLS=OFF \
    -DCDL_BUILD_BENCH=OFF
else
  echo "== no CUDA toolkit with NCCL at $cuda_root: NCCL compile check skipped"
fi

cd build
ctest --output-on-failure -j 2 --timeout 900
