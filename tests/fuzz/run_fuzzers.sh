#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each one for a
# fixed number of inputs from a small seed corpus of valid files. CI runs the short default;
# for a longer campaign: tests/fuzz/run_fuzzers.sh BUILD_DIR 2000000 (or FUZZ_SECONDS=3600).
#   tests/fuzz/run_fuzzers.sh [BUILD_DIR=build-fuzz] [RUNS=20000]
# Exit status: non-zero when a target crashes (the reproducer is left in BUILD_DIR/crashes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build-fuzz}"
runs="${2:-20000}"
command -v clang++ > /dev/null || { echo "clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p "$build"
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${BUILD_JOBS:-2}"

seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds"/{nifti,tsv,toml} "$build/crashes"
printf 'participant_id\tsession_id\tdiagnosis\nsub-001\tses-M000\tAD\r\nsub-002\tses-M000\tCN\n' > "$seeds/tsv/labels.tsv"
printf '\xEF\xBB\xBFparticipant_id\tsession_id\nsub-1\tses-M006\n' > "$seeds/tsv/bom.tsv"
printf 'a\t"b\tc"\n"x""y"\t"two\nlines"\n""\t\n' > "$seeds/tsv/quoted.tsv"
printf '[Model]\narchitecture = "Conv5_FC3"\n[Computational]\nbatch_size = 4\n[Optimization]\nepochs = 3\nlearning_rate = 1e-4\n[Classification]\nselection_metrics = ["loss", "BA"]\n' > "$seeds/toml/train.toml"
"$build/make_nifti_seeds" "$seeds/nifti"  # NIfTI-1 and NIfTI-2, 3D and 4D, gzipped and not

limits=(-runs="$runs")
[ -n "${FUZZ_SECONDS:-}" ] && limits=(-max_total_time="$FUZZ_SECONDS")
status=0
for target in nifti tsv toml; do
  echo "== fuzz_$target: ${limits[*]}"
  (cd "$build/crashes" && ASAN_OPTIONS=detect_leaks=0 "$build/fuzz_$target" "${limits[@]}" \
      -max_len=4096 -timeout=10 -print_final_stats=1 "$seeds/$target" 2>&1 | tail -n 4) || status=1
done
[ $status -eq 0 ] && echo "== fuzzers: no crash" || echo "== fuzzers: a target crashed (see above and $build/crashes)"
exit $status
