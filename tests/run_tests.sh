#!/usr/bin/env bash
# The test command of the README: installs what is missing, then checks and tests everything:
#   format        every tracked C++ file matches .clang-format (tests/check_format.sh)
#   torch1        build/        Debian's LibTorch 1.13 (CPU): the whole CTest suite
#   torch2        build-torch2/ PyPI's LibTorch 2.x with -DWITH_CUDA=ON -DWITH_NCCL=ON against the
#                 CUDA toolkit, cuDNN and NCCL under $CUDA_HOME (default /usr/local/cuda); its tests
#                 run on the CPU here, and the GPU tests (label gpu) skip without a device
#   fuzz          libFuzzer targets of the NIfTI, TSV and TOML parsers, a fixed number of inputs each
#   sanitize      build-asan/   the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#                 (skipped, saying so, when less than CDL_SANITIZE_MIN_LEFT seconds of the
#                 CDL_TEST_BUDGET remain, so that CI always ends within its time)
# CDL_TEST_STAGES picks stages (default: all, in this order).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stages="${CDL_TEST_STAGES:-format torch1 torch2 fuzz sanitize}"
budget="${CDL_TEST_BUDGET:-5100}"            # seconds CI grants this script (of its 5400)
sanitize_min_left="${CDL_SANITIZE_MIN_LEFT:-1800}"
cuda_root="${CUDA_HOME:-/usr/local/cuda}"
want() { [[ " $stages " == *" $1 "* ]]; }

bash jobs/local/install_deps.sh --test
status=0
passed=0 failed=0 skips=0
run_suite() {  # BUILD_DIR: runs the whole CTest suite, counts its results, remembers a failure
  local dir="$1" log
  echo "== ctest in $dir ($((SECONDS / 60)) min elapsed)"
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j 2 --timeout 900) 2>&1 | tee "$log" || status=1
  local line total bad skipped
  skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .*\(Skipped\)' "$log" || true)
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<< "$line")
  bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<< "$line")
  if [ -n "$line" ]; then
    passed=$((passed + total - bad - skipped)) failed=$((failed + bad)) skips=$((skips + skipped))
  else
    failed=$((failed + 1)) status=1  # ctest itself did not finish
  fi
  rm -f "$log"
}

if want format; then
  bash tests/check_format.sh || status=1
fi

if want torch1; then
  echo "== build with Debian's LibTorch 1.13 (CPU) in build/"
  BUILD_DIR="$root/build" bash jobs/local/build.sh
  run_suite "$root/build"
fi

if want torch2; then
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

if want fuzz; then
  echo "== fuzzing ($((SECONDS / 60)) min elapsed)"
  bash tests/fuzz/run_fuzzers.sh "$root/build-fuzz" "${CDL_FUZZ_RUNS:-20000}" \
    "$root/build/data_tools/caps2h5" || status=1
fi

if want sanitize; then
  left=$((budget - SECONDS))
  if [ "$left" -lt "$sanitize_min_left" ]; then
    echo "== SANITIZER STAGE SKIPPED: only ${left} s of the ${budget} s budget left (needs" \
         "${sanitize_min_left} s); run it alone with CDL_TEST_STAGES=sanitize bash tests/run_tests.sh"
  else
    echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/"
    BUILD_TYPE=Release BUILD_DIR="$root/build-asan" bash jobs/local/build.sh \
      -DCDL_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DCDL_BUILD_BENCH=OFF
    # Leaks are not checked: Open MPI, HDF5 and LibTorch keep global allocations until exit.
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
    run_suite "$root/build-asan"
    unset ASAN_OPTIONS UBSAN_OPTIONS
  fi
fi
echo "== tests/run_tests.sh: $((SECONDS / 60)) min; $([ $status -eq 0 ] && echo all stages passed || echo FAILURES above)"
echo "ctest: $passed passed, $failed failed, $skips skipped"
exit $status
