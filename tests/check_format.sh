#!/usr/bin/env bash
# Fails when a tracked C++ file differs from .clang-format (clang-format --dry-run -Werror) and
# lists the files to fix: `git ls-files '*.cpp' '*.hpp' | xargs clang-format -i` fixes them all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format > /dev/null || { echo "clang-format not found (apt-get install clang-format)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "== clang-format: ${#bad[@]} file(s) differ from .clang-format:" >&2
  printf '   %s\n' "${bad[@]}" >&2
  echo "   fix: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i" >&2
  exit 1
fi
echo "== clang-format: all ${#files[@]} C++ files formatted"
