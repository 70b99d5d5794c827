#!/usr/bin/env bash
# Runs every go test -fuzz target in the module for FUZZTIME (default 30s)
# each. Targets are found by their `func FuzzX(f *testing.F)` declarations,
# so a new one is fuzzed without being listed. An input that fails is saved
# under the package's testdata/fuzz/ and then runs in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${FUZZTIME:-30s}"
grep -rl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(f \*testing.F)' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r target; do
    echo "== $pkg $target ($time)"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time"
  done
done
