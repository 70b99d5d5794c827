#!/usr/bin/env bash
# Sets up and runs the sluice demo on this machine: installs PostgreSQL from
# Debian packages if missing, starts a throwaway database with sample data in
# a temporary directory, starts sluice with examples/demo.yaml and prints a
# ready psql command with a fresh token. Ctrl-C stops everything and removes
# the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

find_pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

if ! PGBIN=$(find_pg_bindir) || ! command -v psql >/dev/null; then
  say "installing PostgreSQL from Debian packages"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql postgresql-client
  PGBIN=$(find_pg_bindir)
fi

say "building sluice"
mkdir -p bin
go build -o bin/sluice ./cmd/sluice

DEMO_DIR=$(mktemp -d /tmp/sluice-demo-XXXXXX)
chmod 755 "$DEMO_DIR"
export DEMO_DIR
PGDIR="$DEMO_DIR/pg"
PGDATA="$PGDIR/data"
mkdir -p "$PGDIR"
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: run it as the postgres system user.
  chown postgres "$PGDIR"
  RUN=(runuser -u postgres --)
fi

cleanup() {
  set +e
  [ -n "${SLUICE_PID:-}" ] && kill "$SLUICE_PID" 2>/dev/null && wait "$SLUICE_PID" 2>/dev/null
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT
trap "exit 130" INT TERM

free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

say "starting a throwaway PostgreSQL in $DEMO_DIR"
PGPORT=$(free_port 55432)
SUPERPW=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
AGENTPW=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$SUPERPW" >"$PGDIR/superpw"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR/superpw"
"${RUN[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$PGDIR/superpw" -A scram-sha-256 >/dev/null
rm -f "$PGDIR/superpw"
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -w \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null

export PGPASSWORD="$SUPERPW"
psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -v agentpw="$AGENTPW" <<'SQL'
CREATE ROLE shop_agent LOGIN PASSWORD :'agentpw';
CREATE DATABASE shop OWNER shop_agent;
SQL
psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d shop -v ON_ERROR_STOP=1 -f examples/demo-data.sql
unset PGPASSWORD

export DEMO_PG_ADDR="127.0.0.1:$PGPORT" DEMO_PG_PASSWORD="$AGENTPW"
export DEMO_MASK_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")"
CONFIG=examples/demo.yaml
bin/sluice config check --config "$CONFIG"
TOKEN=$(bin/sluice token issue --config "$CONFIG" --subject demo-agent --group ai-agents --ttl 8h)

say "starting sluice"
bin/sluice serve --config "$CONFIG" >"$DEMO_DIR/sluice.out" 2>"$DEMO_DIR/sluice.log" &
SLUICE_PID=$!
for _ in $(seq 100); do
  grep -q "postgres:" "$DEMO_DIR/sluice.out" 2>/dev/null && break
  kill -0 "$SLUICE_PID" 2>/dev/null || { cat "$DEMO_DIR/sluice.log"; exit 1; }
  sleep 0.1
done
cat "$DEMO_DIR/sluice.out"
ADDR=$(awk '/postgres:/ {print $2}' "$DEMO_DIR/sluice.out")

cat <<EOT

sluice is running in front of the demo database. Connect as an agent would,
with a sluice token as the password (the database password stays in sluice):

  PGPASSWORD='$TOKEN' psql "host=${ADDR%:*} port=${ADDR##*:} dbname=shop user=demo-agent sslmode=require"

Then try:  select * from customers limit 5;     (emails arrive masked)
           delete from orders;                  (held until someone approves)

Approve it in the console: open http://127.0.0.1:8433/console/login, use the
development login as subject "alice" with groups "dba, security", and approve
in the inbox; psql returns. As an auditor, replay the session under Sessions.
Or from a shell: bin/sluice reviews list --server http://127.0.0.1:8433 (with
SLUICE_TOKEN set to a token issued with --group dba).
Sessions and statements are recorded in $DEMO_DIR/sluice-data/state.db.
Gateway log: $DEMO_DIR/sluice.log      Press Ctrl-C to stop the demo.
EOT
wait "$SLUICE_PID"
