#!/usr/bin/env bash
# A MAPS on a full disk while the training state is saved (--checkpoint_steps 1 --save_all_models)
# used to end every rank with SIGABRT (LibTorch's file writer throws from a destructor) and leave
# tmp/training_state.pt.tmp.<pid>, so the disk stayed full (issue 19, class 2). Now the state is
# streamed through the checked appender, a failed write reported once LibTorch's writer finished
# (it never sees one): a plain failure status on every rank,
# a message naming the full disk, and no temporary file. The small disk is a 6 MiB tmpfs mounted
# by this test (root only; skipped, status 77, where it cannot be mounted).
# Usage: disk_full_training.sh CLINICADL_HPC TINY_DIR   (mpirun on PATH)
set -uo pipefail
trainer="$1"; tiny="$2"
disk=$(mktemp -d /tmp/cdl_small_disk.XXXXXX)
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=6m tmpfs "$disk" 2> /dev/null; then
  rmdir "$disk"
  echo "SKIP: cannot mount a small tmpfs here (needs root and mount rights)"
  exit 77
fi
trap 'umount "$disk"; rmdir "$disk"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for ranks in 1 2; do
  rm -rf "${disk:?}"/*
  maps="$disk/maps_np$ranks"
  output=$(timeout -k 5 120 mpirun -np "$ranks" "$trainer" train classification "$tiny/data.h5" \
    "$tiny/splits" "$maps" --batch_size 4 --epochs 2 --checkpoint_steps 1 --save_all_models 2>&1)
  status=$?
  echo "$output" | grep -m 1 "ERROR"
  [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "np $ranks: hung"
  [ "$status" -ne 0 ] || fail "np $ranks: succeeded on a 6 MiB disk"
  grep -q "No space left on device (disk full" <<< "$output" || fail "np $ranks: no message naming the full disk: $(tail -n 5 <<< "$output")"
  grep -q "signal\|Aborted\|c10::Error" <<< "$output" && fail "np $ranks: a crash instead of an error: $(tail -n 5 <<< "$output")"
  left=$(find "$disk" -name '*.tmp*')
  [ -z "$left" ] || fail "np $ranks: temporary files left: $left"
  echo "ok    np $ranks: status $status, full disk named, no temporary file"
done
echo "OK: a full disk while saving the training state is a clean failure"
