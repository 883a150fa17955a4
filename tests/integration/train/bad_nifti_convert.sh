#!/usr/bin/env bash
# A NIfTI-2 header whose voxel count wraps around 64 bits used to make the decoding rank write out
# of bounds, crash, and hang `mpirun -np 2 caps2h5 convert` (issue 10, item 1). Now serial and
# 2-rank conversions must fail within the time limit, name the file and the dimension, and leave
# no output or temporary file. The same for a dim[0] (number of dimensions) of 1000, which crashed
# nifticlib's header conversion before our checks (issue 19, class 1).
# Usage: bad_nifti_convert.sh CAPS2H5 MAKE_BAD_NIFTI TINY_DIR  (mpirun on PATH)
set -uo pipefail
caps2h5="$1"; make_bad="$2"; tiny="$3"
work="$tiny/bad_nifti"
rm -rf "$work" && mkdir -p "$work"
cp -r "$tiny/caps" "$work/caps"
image=$(find "$work/caps/subjects" -name '*T1w.nii.gz' | sort | sed -n 3p)
"$make_bad" "$image" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
check_run() {  # NAME PATTERN COMMAND...: fails in time, names the problem, leaves nothing
  local name=$1 pattern=$2; shift 2
  local output status
  output=$(timeout -k 5 60 "$@" 2>&1); status=$?
  echo "$output" | grep -v '^\s*$' | tail -n 3
  [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "$name: hung (killed after 60 s)"
  [ "$status" -ne 0 ] || fail "$name: succeeded on a corrupt header"
  grep -q "$pattern" <<< "$output" || fail "$name: no message matching '$pattern'"
  grep -q "$(basename "$image")" <<< "$output" || fail "$name: the file is not named"
  ls "$work"/out* > /dev/null 2>&1 && fail "$name: output or temporary file left: $(ls "$work"/out*)"
  return 0
}
huge='dim\[1\] = 4194304 is out of range'
check_run serial "$huge" "$caps2h5" convert "$work/caps" "$work/out.h5"
check_run mpi2 "$huge" mpirun -np 2 "$caps2h5" convert "$work/caps" "$work/out.h5"
"$make_bad" "$image" 1000 || exit 1
ndim='dim\[0\] = 1000; expected 1 to 7'
check_run ndim_serial "$ndim" "$caps2h5" convert "$work/caps" "$work/out.h5"
check_run ndim_mpi2 "$ndim" mpirun -np 2 "$caps2h5" convert "$work/caps" "$work/out.h5"
echo "OK: the corrupt headers are refused serially and at 2 ranks, in time, leaving nothing"
