#!/usr/bin/env bash
# Runs a command that must fail: passes when its exit status is non-zero and its output matches
# the extended regular expression REGEX (matched across lines). Usage: expect_failure.sh REGEX COMMAND [ARGS...]
set -uo pipefail
regex="$1"; shift
output=$("$@" 2>&1); status=$?
echo "$output" | tail -n 20
if [ "$status" -eq 0 ]; then echo "FAIL: the command succeeded, expected a failure"; exit 1; fi
if ! echo "$output" | grep -Ezq "$regex"; then echo "FAIL: output does not match /$regex/"; exit 1; fi
echo "OK: failed with status $status and the expected message"
