#!/usr/bin/env bash
# The test command of the README: installs what is missing, then builds and runs the whole suite
# against both LibTorch generations:
#   build/         Debian's LibTorch 1.13 (CPU)
#   build-torch2/  PyPI's LibTorch 2.x with -DWITH_CUDA=ON -DWITH_NCCL=ON against the CUDA toolkit,
#                  cuDNN and NCCL under $CUDA_HOME (default /usr/local/cuda); its tests run on the
#                  CPU here, and the GPU tests (label gpu) skip without a device.
# CDL_TEST_BUILDS=torch1|torch2 runs one of them only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
builds="${CDL_TEST_BUILDS:-torch1 torch2}"
cuda_root="${CUDA_HOME:-/usr/local/cuda}"

bash jobs/local/install_deps.sh
status=0
run_suite() {  # BUILD_DIR: runs the whole CTest suite, remembers a failure, goes on
  local dir="$1"
  echo "== ctest in $dir"
  (cd "$dir" && ctest --output-on-failure -j 2 --timeout 900) || status=1
}

if [[ " $builds " == *" torch1 "* ]]; then
  echo "== build with Debian's LibTorch 1.13 (CPU) in build/"
  BUILD_DIR="$root/build" bash jobs/local/build.sh
  run_suite "$root/build"
fi

if [[ " $builds " == *" torch2 "* ]]; then
  torch2_prefix="$(bash jobs/local/install_torch2.sh | tail -n 1)"
  cuda_flags=()
  if [ -f "$cuda_root/include/nccl.h" ] && [ -x "$cuda_root/bin/nvcc" ]; then
    cuda_flags=(-DWITH_CUDA=ON -DWITH_NCCL=ON -DCUDAToolkit_ROOT="$cuda_root"
                -DCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc")
  else
    echo "== no CUDA toolkit with NCCL at $cuda_root: the LibTorch 2.x build is CPU-only"
  fi
  echo "== build with PyPI's LibTorch 2.x ($torch2_prefix) in build-torch2/ ${cuda_flags[*]}"
  BUILD_DIR="$root/build-torch2" bash jobs/local/build.sh -DCMAKE_PREFIX_PATH="$torch2_prefix" \
    "${cuda_flags[@]}"
  run_suite "$root/build-torch2"
fi
exit $status
