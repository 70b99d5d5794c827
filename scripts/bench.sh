#!/usr/bin/env bash
# make bench: installs pgbench's and PgBouncer's Debian packages if they are
# missing, then runs the benchmark suite and writes its Markdown report to
# bench-results.md (and stdout). Copy the numbers into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pgbench >/dev/null 2>&1 || missing+=(postgresql-contrib)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
go run ./bench "$@" | tee bench-results.md
