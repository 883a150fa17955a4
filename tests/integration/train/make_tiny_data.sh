#!/usr/bin/env bash
# Test fixture: a tiny synthetic CAPS (40 subjects, 1@32x40x32), its HDF5 conversion (also a
# compressed copy whose last validation image is corrupted on disk), a ClinicaDL split tree and a
# 2-fold k-fold tree.
# Usage: make_tiny_data.sh CAPS2H5 CORRUPT_CHUNK OUT_DIR
set -euo pipefail
caps2h5="$1"; corrupt="$2"; out="$3"
rm -rf "$out" && mkdir -p "$out"
"$caps2h5" synthetic "$out/caps" --subjects 40 --size 32x40x32 --seed 3 >/dev/null
"$caps2h5" convert "$out/caps" "$out/data.h5" >/dev/null
"$caps2h5" split "$out/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$out/splits" >/dev/null
"$caps2h5" kfold "$out/caps/labels.tsv" --n_splits 2 --output_dir "$out/kfold" >/dev/null
"$caps2h5" convert "$out/caps" "$out/corrupt.h5" --compression 1 >/dev/null
last=$(tail -n 1 "$out/splits/validation_baseline.tsv" | cut -f1,2)
"$corrupt" "$out/corrupt.h5" ${last}
echo "tiny data ready in $out"
