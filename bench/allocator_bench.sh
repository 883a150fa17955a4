#!/usr/bin/env bash
# allocator_bench.sh: what the memory allocator costs an image-mode epoch (issue: glibc returns
# the large 3D activation blocks to the system after each use and faults them in again).
# Usage: bench/allocator_bench.sh [BUILD_DIR=build] [SUBJECTS=12] [SIZE=169x208x179] [EPOCHS=1]
# Runs the same training (1 rank x 2 threads, batch 4, Conv5_FC3) with allocator settings given
# through the environment, side by side, and prints epoch throughput, page faults and peak memory
# of each, then the ratios against the first. With a clinicadl-hpc linked to jemalloc (the default
# when Debian's libjemalloc-dev is installed) the contenders are: jemalloc as the program
# configures it, and jemalloc told to give memory back at once (what glibc does with large
# blocks). With a clinicadl-hpc without jemalloc: glibc, and jemalloc preloaded with the
# program's settings.
set -euo pipefail
build=${1:-build}
subjects=${2:-12}
size=${3:-169x208x179}
epochs=${4:-1}
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_binaries "$build"
bench_synthetic_set allocator_bench "$subjects" "$size"

tuned="oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1"  # what the program sets
jemalloc=$(ldconfig -p | awk '/libjemalloc.so.2 / { print $NF; exit }')
if ldd "$bin" | grep -q libjemalloc; then
  names=("jemalloc, returning memory at once" "jemalloc, as configured")
  envs=("MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0" "CDL_BENCH=1")
else
  [[ -n "$jemalloc" ]] || { echo "libjemalloc.so.2 not found (apt-get install libjemalloc2)" >&2; exit 2; }
  names=("glibc malloc" "jemalloc preloaded, program's settings")
  envs=("CDL_BENCH=1" "LD_PRELOAD=$jemalloc MALLOC_CONF=$tuned")
fi

run() {  # index
  local log="$work/run$1.log"
  # shellcheck disable=SC2086  # the settings are words on purpose
  env ${envs[$1]} /usr/bin/time -f "%R %M" -o "$work/time$1" "$bin" train classification \
    "$work/data.h5" "$work/splits" "$work/maps$1" --overwrite --gpu false --threads 2 \
    --batch_size 4 --epochs "$epochs" --seed 0 --no_cache > "$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  rate[$1]=$(sed -nE 's/.*throughput ([0-9.eE+-]+) samples\/s.*/\1/p' "$log" | tail -1)
  read -r faults[$1] peak[$1] < "$work/time$1"
  loss[$1]=$(sed -nE 's/.*epoch [0-9]+: train loss ([0-9.eE+-]+).*/\1/p' "$log" | tail -1)
}
declare -a rate faults peak loss
for i in 0 1; do run "$i"; done
echo "allocator_bench: Conv5_FC3, $subjects subjects at 1@$size, $epochs epoch(s), 1 rank x 2 threads, batch 4, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
for i in 0 1; do
  printf "%-40s %7.3f images/s  %10d minor page faults  peak %6.0f MB  last train loss %s\n" \
    "${names[$i]}" "${rate[$i]}" "${faults[$i]}" "$(awk -v k="${peak[$i]}" 'BEGIN { print k / 1024 }')" "${loss[$i]}"
done
awk -v a="${rate[1]}" -v b="${rate[0]}" -v n1="${names[1]}" -v n0="${names[0]}" \
  'BEGIN { printf "ratio throughput (%s) / (%s): %.2f\n", n1, n0, a / b }'
