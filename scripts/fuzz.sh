#!/usr/bin/env bash
# Runs every go test -fuzz target in the module for FUZZTIME (default 30s)
# each. Targets are found by their `func FuzzX(f *testing.F)` declarations,
# so a new one is fuzzed without being listed. An input that fails is saved
# under the package's testdata/fuzz/ and then runs in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${FUZZTIME:-30s}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# fuzz runs one target. Go's fuzzer sometimes ends a run with "context
# deadline exceeded" when -fuzztime runs out while a worker is busy; that
# is not a finding (no failing input is written), so such a run is tried
# once more. A real failure always names the input it wrote.
fuzz() {
  local pkg=$1 target=$2
  for attempt in 1 2; do
    if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" >"$out" 2>&1; then
      cat "$out"
      return 0
    fi
    cat "$out"
    if grep -q "Failing input written to" "$out" || ! grep -q "context deadline exceeded" "$out"; then
      return 1
    fi
    echo "== $pkg $target: the fuzzer timed out without a finding; trying again ($attempt)"
  done
  return 1
}

grep -rl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(f \*testing.F)' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r target; do
    echo "== $pkg $target ($time)"
    fuzz "$pkg" "$target"
  done
done
