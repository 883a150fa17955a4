#!/usr/bin/env bash
# caps2h5 convert onto a full disk (simulated with a file-size limit: writes fail with EFBIG) must
# end with its error message and a plain failure status, not a crash at exit, and leave neither
# the output nor its temporary file (issue 10, item 2).
# Usage: disk_full_convert.sh CAPS2H5 TINY_DIR
set -uo pipefail
caps2h5="$1"; tiny="$2"
work="$tiny/disk_full"
rm -rf "$work" && mkdir -p "$work"
output=$(trap '' XFSZ; ulimit -f 200; "$caps2h5" convert "$tiny/caps" "$work/out.h5" 2>&1)
status=$?
echo "$output" | tail -n 3
fail() { echo "FAIL: $*"; exit 1; }
[ "$status" -ne 0 ] || fail "the conversion succeeded under a 200 KiB file-size limit"
[ "$status" -lt 128 ] || fail "the conversion died with signal $((status - 128))"
grep -q "disk full" <<< "$output" || fail "the message does not mention a full disk"
[ ! -e "$work/out.h5" ] && [ ! -e "$work/out.h5.tmp" ] || fail "an output or temporary file was left"
echo "OK: status $status, clean message, nothing left behind"
