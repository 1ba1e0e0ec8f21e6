#!/usr/bin/env bash
# Usage: scripts/smoke.sh
# Smoke-tests the real binary the way an operator meets it: `make run` on a fresh SQLite data
# directory answers /readyz; then, when GATEHOUSE_TEST_POSTGRES_URL is set, `gatehouse migrate
# up|status|down` and `serve` against a fresh PostgreSQL database. Each server is stopped with
# SIGTERM and must exit 0 (graceful drain). Run from the repository root; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s build >/dev/null
work=$(mktemp -d)
pids=()
pgdb=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pgdb" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "smoke: FAIL: $*"; [ -f "$work/server.log" ] && tail -n 30 "$work/server.log"; exit 1; }

wait_ready() { # url
  for _ in $(seq 1 100); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "$1/readyz never answered 200"
}

check_endpoints() { # url label
  local body
  body=$(curl -fsS "$1/readyz") || fail "$2: /readyz"
  grep -q '"database":{"status":"ok"' <<<"$body" || fail "$2: /readyz does not report the database: $body"
  # Each answer is read whole before it is searched: grep -q stops at the first match, and
  # curl writing the rest of a large answer (/metrics) into the closed pipe fails the pipeline.
  body=$(curl -fsS "$1/livez") || fail "$2: /livez"
  grep -q '"status":"ok"' <<<"$body" || fail "$2: /livez: $body"
  body=$(curl -fsS "$1/api/v1/version") || fail "$2: /api/v1/version"
  grep -q '"version"' <<<"$body" || fail "$2: /api/v1/version: $body"
  body=$(curl -fsS "$1/metrics") || fail "$2: /metrics"
  grep -q '^go_sql_open_connections' <<<"$body" || fail "$2: /metrics lacks pool gauges"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/nope")" = 404 ] || fail "$2: unknown route is not 404"
  echo "smoke: $2: /readyz /livez /api/v1/version /metrics OK"
}

stop() { # pid label
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "$2: exit status $rc after SIGTERM (want a graceful 0)"
  echo "smoke: $2: stopped gracefully"
}

# 1. make run on SQLite, in a fresh copy of nothing but the binary's working directory.
port=$(bin/load -free-port)
(cd "$work" && GATEHOUSE_ADDR=127.0.0.1:$port GATEHOUSE_LOG_FORMAT=json exec "$OLDPWD/bin/gatehouse" serve >"$work/server.log" 2>&1) &
pid=$!; pids+=("$pid")
wait_ready "http://127.0.0.1:$port"
check_endpoints "http://127.0.0.1:$port" "sqlite"
[ -f "$work/data/gatehouse.db" ] || fail "sqlite: ./data/gatehouse.db not created"
[ "$(stat -c %a "$work/data/master.key")" = 600 ] || fail "sqlite: ./data/master.key is not mode 600"
stop "$pid" "sqlite"

# 2. PostgreSQL: the migrate commands, then serve without auto-migration.
if [ -z "${GATEHOUSE_TEST_POSTGRES_URL:-}" ]; then
  echo "smoke: PostgreSQL not run (set GATEHOUSE_TEST_POSTGRES_URL)"
  [ "${GATEHOUSE_TEST_REQUIRE_SERVICES:-}" = 1 ] && fail "PostgreSQL is required here"
  exit 0
fi
admin_url=$GATEHOUSE_TEST_POSTGRES_URL
pgdb="gatehouse_smoke_$$"
psql "$admin_url" -qc "CREATE DATABASE $pgdb" >/dev/null
db_url=$(sed -E "s#/[^/?]+(\?|$)#/$pgdb\1#" <<<"$admin_url")
export GATEHOUSE_DATABASE_URL=$db_url GATEHOUSE_MASTER_KEY=smoke-master-key-0123456789 GATEHOUSE_AUTO_MIGRATE=false

status=$(bin/gatehouse migrate status)
grep -q pending <<<"$status" || fail "postgres: status before up should list pending migrations"
bin/gatehouse serve >"$work/server.log" 2>&1 && fail "postgres: serve must refuse a database whose schema is behind"
grep -q "migrate up" "$work/server.log" || fail "postgres: the refusal should tell the operator to run migrate up"
bin/gatehouse migrate up
status=$(bin/gatehouse migrate status)
grep -q pending <<<"$status" && fail "postgres: migrations still pending after up"
port=$(bin/load -free-port)
GATEHOUSE_ADDR=127.0.0.1:$port bin/gatehouse serve >"$work/server.log" 2>&1 &
pid=$!; pids+=("$pid")
wait_ready "http://127.0.0.1:$port"
check_endpoints "http://127.0.0.1:$port" "postgres"
stop "$pid" "postgres"
GATEHOUSE_MASTER_KEY=a-different-master-key-xyz bin/gatehouse serve >"$work/server.log" 2>&1 && fail "postgres: a wrong master key must fail start-up"
grep -q "master key" "$work/server.log" || fail "postgres: the wrong-key failure should say so"
echo "smoke: postgres: a wrong master key fails start-up loudly (SEC-43)"
bin/gatehouse migrate down --all
status=$(bin/gatehouse migrate status)
grep -q applied <<<"$status" && fail "postgres: migrations still applied after down --all"
echo "smoke: postgres: migrate up/status/down OK"
echo "smoke: all passed"
