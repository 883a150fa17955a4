#!/usr/bin/env bash
# Conversion throughput of caps2h5 against plain gzip decompression of the same files
# (design section 8: one run, ratios, ratio printed last).
#   bench/convert_bench.sh [BUILD_DIR=build] [N_IMAGES=16] [SIZE=169x208x179]
# Both contenders read the same .nii.gz files (page cache warm) and write their output to the
# same folder: gzip -dc writes the .nii files, caps2h5 writes one HDF5 file. MB/s are counted on
# the uncompressed NIfTI bytes for both. Wall time and CPU time (user + sys) are reported; on a
# shared machine the CPU-time ratio is the more stable of the two.
set -euo pipefail
build=${1:-build}
n=${2:-16}
size=${3:-169x208x179}
caps2h5="$build/data_tools/caps2h5"
[[ -x "$caps2h5" ]] || { echo "caps2h5 not found at $caps2h5 (build target caps2h5 first)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/caps2h5_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs "$@", sets wall and cpu (seconds) from bash's time keyword.
measure() {
  local TIMEFORMAT='%R %U %S' out
  out=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
  wall=$(awk '{ print $1 }' <<< "$out")
  cpu=$(awk '{ print $2 + $3 }' <<< "$out")
}
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

gunzip_all() {
  mkdir -p "$work/nii"
  local f
  for f in "${files[@]}"; do gzip -dc "$f" > "$work/nii/$(basename "${f%.gz}")"; done
}

"$caps2h5" synthetic "$work/caps" --subjects "$n" --size "$size" --seed 0 > /dev/null
mapfile -t files < <(find "$work/caps/subjects" -name '*_T1w.nii.gz' | sort)
cat "${files[@]}" > /dev/null  # warm the page cache for every contender
gz_bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
raw_bytes=$(for f in "${files[@]}"; do gzip -dc "$f"; done | wc -c)

# Untimed warm-up of both tools (the first writer of hundreds of MB pays page-cache growth).
gunzip_all
"$caps2h5" convert "$work/caps" "$work/warm.h5" --no-progress > /dev/null
rm -rf "$work/nii" "$work/warm.h5"
# Each contender starts with no dirty pages of the previous one still being written back.
sync
measure gunzip_all
gzip_wall=$wall gzip_cpu=$cpu
rm -rf "$work/nii"; sync
measure "$caps2h5" convert "$work/caps" "$work/one.h5" --threads 1 --no-progress
one_wall=$wall one_cpu=$cpu
rm -f "$work/one.h5"; sync
measure "$caps2h5" convert "$work/caps" "$work/all.h5" --no-progress
all_wall=$wall all_cpu=$cpu

echo "images: ${#files[@]} x $size, ${gz_bytes} B gzip -> ${raw_bytes} B NIfTI, $(nproc) cores"
printf "%-32s wall %6.2f s %8s MB/s | cpu %6.2f s %8s MB/s\n" \
  "gzip -dc > .nii (1 process)" "$gzip_wall" "$(rate "$raw_bytes" "$gzip_wall")" "$gzip_cpu" "$(rate "$raw_bytes" "$gzip_cpu")" \
  "caps2h5 convert --threads 1" "$one_wall" "$(rate "$raw_bytes" "$one_wall")" "$one_cpu" "$(rate "$raw_bytes" "$one_cpu")" \
  "caps2h5 convert (auto threads)" "$all_wall" "$(rate "$raw_bytes" "$all_wall")" "$all_cpu" "$(rate "$raw_bytes" "$all_cpu")"
echo "ratio cpu-time  (gzip / caps2h5 --threads 1): $(ratio "$gzip_cpu" "$one_cpu")"
echo "ratio wall-time (gzip / caps2h5 --threads 1): $(ratio "$gzip_wall" "$one_wall")"
echo "ratio convert / gzip (wall, auto threads): $(ratio "$gzip_wall" "$all_wall")"
