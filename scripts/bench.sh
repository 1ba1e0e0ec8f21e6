#!/usr/bin/env bash
# bench.sh: the load half of `make bench`.
#
# Usage: scripts/bench.sh        (from any directory; it works in the repository root)
#
# Builds bin/gatehouse and bin/load, starts the server on SQLite (a temporary data directory,
# a free loopback port), loads GET /livez and then GET /readyz, stops it; then does the same
# on PostgreSQL in a fresh database (created with psql, dropped at the end) when a PostgreSQL
# URL is set. Ends with a table: label, req/s, p50, p99, errors.
#
# Environment:
#   BENCH_CLIENTS          concurrent clients per run (default 32)
#   BENCH_DURATION         measured time per run (default 10s, at most 5m)
#   BENCH_WARMUP           unmeasured warm-up before each run (default 1s)
#   BENCH_MAX_ERROR_RATE   fail if a run's errors exceed this fraction, e.g. 0.01 (default 1: never)
#   BENCH_POSTGRES_URL, or GATEHOUSE_TEST_POSTGRES_URL
#                          postgres://USER@HOST:PORT/DB?sslmode=disable: a database psql can
#                          connect to as a user allowed to CREATE DATABASE. Unset: SQLite only.
#
# GATEHOUSE_* variables from the calling environment are not passed to the server, so every
# run has the same configuration. Exit status: 0, or 1 if anything failed.
#
# Example:
#   BENCH_DURATION=3s GATEHOUSE_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' scripts/bench.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

clients=${BENCH_CLIENTS:-32}
duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-1s}
max_error_rate=${BENCH_MAX_ERROR_RATE:-1}
pg_url=${BENCH_POSTGRES_URL:-${GATEHOUSE_TEST_POSTGRES_URL:-}}
pg_db=gatehouse_bench_$$

work=""         # temporary directory: data dirs, server logs, JSON results
server_pid=""   # the running server, if any
server_log=""
addr=""         # host:port of the running server
pg_created=""   # set once this script may have created $pg_db
results=()      # JSON result files, in run order
failed=()       # labels of runs above BENCH_MAX_ERROR_RATE

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# stop_server stops the running server (SIGTERM, then SIGKILL after 15 s) and waits for it.
stop_server() {
	if [[ -z $server_pid ]]; then
		return 0
	fi
	kill -TERM "$server_pid" 2>/dev/null || true
	local i
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	kill -KILL "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# psql_admin runs one SQL statement on the database named by the PostgreSQL URL.
psql_admin() {
	psql "$pg_url" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" >/dev/null
}

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	stop_server
	if [[ -n $pg_created ]]; then
		# WITH (FORCE) needs PostgreSQL 13; the server is stopped, so plain DROP works too.
		psql_admin "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" 2>/dev/null ||
			psql_admin "DROP DATABASE IF EXISTS $pg_db" ||
			printf 'bench: could not drop database %s; drop it by hand\n' "$pg_db" >&2
	fi
	if [[ -n $work ]]; then
		rm -rf "$work"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# server_failed reports why the server is not serving, with the end of its log, and exits.
server_failed() {
	printf 'bench: %s; the server log ends:\n' "$1" >&2
	tail -n 40 "$server_log" | sed 's/^/    /' >&2
	exit 1
}

# start_server NAME [DATABASE_URL] starts bin/gatehouse on a free loopback port (SQLite in a
# temporary data directory unless DATABASE_URL is given) and waits until /readyz answers.
start_server() {
	local name=$1 db_url=${2:-}
	local data_dir=$work/$name-data
	mkdir -p "$data_dir"
	server_log=$work/$name-server.log
	addr=127.0.0.1:$(bin/load -free-port)

	local env_args=("${clear_env[@]}"
		GATEHOUSE_ENV=test
		GATEHOUSE_ADDR="$addr"
		GATEHOUSE_DATA_DIR="$data_dir"
		GATEHOUSE_MASTER_KEY="$master_key"
		GATEHOUSE_LOG_LEVEL=warn)
	if [[ -n $db_url ]]; then
		env_args+=(GATEHOUSE_DATABASE_URL="$db_url")
	fi
	say "starting bin/gatehouse serve on $name at $addr"
	env "${env_args[@]}" bin/gatehouse serve >"$server_log" 2>&1 &
	server_pid=$!

	local deadline=$((SECONDS + 30))
	until curl -fsS -o /dev/null --max-time 2 "http://$addr/readyz" 2>/dev/null; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			local status=0
			wait "$server_pid" || status=$?
			server_pid=""
			server_failed "the server exited (status $status) before it was ready"
		fi
		if ((SECONDS >= deadline)); then
			server_failed "http://$addr/readyz did not answer 2xx within 30 s"
		fi
		sleep 0.2
	done
}

# run_load NAME PATH loads http://$addr/PATH, prints the result and keeps its JSON for the summary.
run_load() {
	local label="$1 $2"
	local out=$work/result-${#results[@]}.json
	say "$label: $clients clients, $duration after $warmup warm-up"
	local status=0
	bin/load -c "$clients" -d "$duration" -warmup "$warmup" -max-error-rate "$max_error_rate" \
		-label "$label" -json-file "$out" "http://$addr$2" || status=$?
	case $status in
	0) ;;
	1) failed+=("$label") ;;
	*) die "bin/load failed for $label (exit status $status)" ;;
	esac
	results+=("$out")
	echo
}

# with_database URL NAME prints URL with its database name replaced by NAME, query kept.
with_database() {
	local url=$1 name=$2 query=""
	if [[ $url == *\?* ]]; then
		query="?${url#*\?}"
		url=${url%%\?*}
	fi
	local scheme=${url%%://*} rest=${url#*://}
	printf '%s://%s/%s%s\n' "$scheme" "${rest%%/*}" "$name" "$query"
}

# --- checks and build -------------------------------------------------------------------------

command -v go >/dev/null || die "go is not on PATH"
command -v curl >/dev/null || die "curl is not on PATH"
if [[ -n $pg_url ]]; then
	[[ $pg_url == postgres://* || $pg_url == postgresql://* ]] ||
		die "the PostgreSQL URL must start with postgres:// or postgresql://"
	command -v psql >/dev/null ||
		die "psql is needed for the PostgreSQL run (install it, or unset GATEHOUSE_TEST_POSTGRES_URL and BENCH_POSTGRES_URL)"
fi

say "go build -o bin/gatehouse ./server/cmd/gatehouse"
go build -o bin/gatehouse ./server/cmd/gatehouse
say "go build -o bin/load ./scripts/load"
go build -o bin/load ./scripts/load

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
# A fresh random master key for this run: 64 hex characters.
master_key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
# Drop every inherited GATEHOUSE_* variable from the server's environment.
clear_env=()
while IFS= read -r name; do
	if [[ $name == GATEHOUSE_* ]]; then
		clear_env+=(-u "$name")
	fi
done < <(compgen -e)

# --- SQLite -----------------------------------------------------------------------------------

start_server sqlite
run_load sqlite /livez
run_load sqlite /readyz
stop_server

# --- PostgreSQL -------------------------------------------------------------------------------

pg_note=""
if [[ -z $pg_url ]]; then
	pg_note="PostgreSQL: skipped (set GATEHOUSE_TEST_POSTGRES_URL)"
	say "$pg_note"
	echo
else
	say "creating database $pg_db"
	pg_created=1
	psql_admin "CREATE DATABASE $pg_db"
	start_server postgres "$(with_database "$pg_url" "$pg_db")"
	run_load postgres /livez
	run_load postgres /readyz
	stop_server
fi

# --- summary ----------------------------------------------------------------------------------

say "summary: $clients clients, $duration per run"
bin/load -summary "${results[@]}"
if [[ -n $pg_note ]]; then
	echo "$pg_note"
fi
if ((${#failed[@]} > 0)); then
	die "error rate above BENCH_MAX_ERROR_RATE=$max_error_rate in: ${failed[*]}"
fi
