#!/usr/bin/env bash
# The test command of the README: installs what is missing, then checks and tests everything.
# Each build runs the suites where it adds something, so that CI stays within 30 minutes on
# 2 cores (ccache, keyed on paths relative to the checkout, reuses earlier compilations):
#   format    every tracked C++ file matches .clang-format (tests/check_format.sh)
#   torch1    build/        Debian's LibTorch 1.13 (CPU): unit and MPI suites (the API of the
#                           oldest LibTorch we support)
#   torch2    build-torch2/ PyPI's LibTorch 2.x with -DWITH_CUDA=ON -DWITH_NCCL=ON against the
#                           CUDA toolkit, cuDNN and NCCL under $CUDA_HOME (default /usr/local/cuda):
#                           the whole suite, end-to-end and ClinicaDL interoperability included
#                           (the LibTorch users run); GPU tests (label gpu) skip without a device
#   fuzz      libFuzzer targets of the NIfTI, TSV and TOML parsers, a fixed number of inputs each
#   sanitize  build-asan/   AddressSanitizer + UndefinedBehaviorSanitizer over the suites of the
#                           code that parses untrusted bytes or indexes raw memory (core, config,
#                           data, data_tools, model layers, formats, maps, MPI communicators)
# CDL_TEST_STAGES picks stages (default: all, in this order); CDL_FULL_SUITES=1 runs every suite
# in every build (the old behaviour, about twice as long).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stages="${CDL_TEST_STAGES:-format torch1 torch2 fuzz sanitize}"
full="${CDL_FULL_SUITES:-0}"
cuda_root="${CUDA_HOME:-/usr/local/cuda}"
want() { [[ " $stages " == *" $1 "* ]]; }

status=0
passed=0 failed=0 skips=0
stage_times=()
stage_begin() { stage_name="$1" stage_start=$SECONDS; echo "== [$1] $2 ($((SECONDS / 60)) min elapsed)"; }
stage_end() {
  local took=$((SECONDS - stage_start))
  stage_times+=("$(printf '%-9s %4d s' "$stage_name" "$took")")
  echo "== [$stage_name] took ${took} s"
}
run_suite() {  # BUILD_DIR [ctest selection...]: runs CTest, counts its results, remembers a failure
  local dir="$1" log
  shift
  echo "== ctest in $dir $*"
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j 2 --timeout 900 "$@") 2>&1 | tee "$log" || status=1
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

stage_begin deps "packages"
bash jobs/local/install_deps.sh --test
stage_end

if want format; then
  stage_begin format "clang-format"
  bash tests/check_format.sh || status=1
  stage_end
fi

if want torch1; then
  stage_begin torch1 "build with Debian's LibTorch 1.13 (CPU) in build/, unit and MPI suites"
  BUILD_DIR="$root/build" bash jobs/local/build.sh
  if [ "$full" = 1 ]; then run_suite "$root/build"; else run_suite "$root/build" -LE integration; fi
  stage_end
fi

if want torch2; then
  stage_begin torch2 "LibTorch 2.x from PyPI in build-torch2/, whole suite"
  torch2_prefix="$(bash jobs/local/install_torch2.sh | tail -n 1)"
  cuda_flags=()
  if [ -f "$cuda_root/include/nccl.h" ] && [ -x "$cuda_root/bin/nvcc" ]; then
    cuda_flags=(-DWITH_CUDA=ON -DWITH_NCCL=ON -DCUDAToolkit_ROOT="$cuda_root"
                -DCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc")
  else
    echo "== no CUDA toolkit with NCCL at $cuda_root: the LibTorch 2.x build is CPU-only"
  fi
  echo "== build with $torch2_prefix ${cuda_flags[*]}"
  BUILD_DIR="$root/build-torch2" bash jobs/local/build.sh -DCMAKE_PREFIX_PATH="$torch2_prefix" \
    "${cuda_flags[@]}"
  run_suite "$root/build-torch2"
  stage_end
fi

if want fuzz; then
  stage_begin fuzz "libFuzzer targets"
  bash tests/fuzz/run_fuzzers.sh "$root/build-fuzz" "${CDL_FUZZ_RUNS:-20000}" || status=1
  stage_end
fi

if want sanitize; then
  stage_begin sanitize "AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/"
  # The suites of memory-unsafe code (parsers of untrusted files, raw-pointer kernels, MPI
  # buffers); CDL_FULL_SUITES=1: every suite.
  asan_suites="CoreUnitTests ConfigUnitTests DataUnitTests DataToolsUnitTests ModelUnitTests"
  asan_suites+=" FormatsUnitTests MapsUnitTests CommMpiTests DataToolsMpiTests"
  asan_targets=""
  for suite in $asan_suites; do asan_targets+=" $suite-bin"; done
  [ "$full" = 1 ] && asan_targets=""
  BUILD_TARGETS="$asan_targets" BUILD_TYPE=Release BUILD_DIR="$root/build-asan" \
    bash jobs/local/build.sh -DCDL_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
    -DCDL_BUILD_BENCH=OFF
  # Leaks are not checked: Open MPI, HDF5 and LibTorch keep global allocations until exit.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  if [ "$full" = 1 ]; then
    run_suite "$root/build-asan"
  else
    run_suite "$root/build-asan" -R "^($(tr ' ' '|' <<< "$asan_suites"))(\\.np[0-9]+)?\$"
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
  stage_end
fi
echo "== stage times:"
printf '   %s\n' "${stage_times[@]}"
echo "== tests/run_tests.sh: $((SECONDS / 60)) min; $([ $status -eq 0 ] && echo all stages passed || echo FAILURES above)"
echo "ctest: $passed passed, $failed failed, $skips skipped"
exit $status
