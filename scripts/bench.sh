#!/usr/bin/env bash
# bench.sh: the load half of `make bench`. What the figures mean: docs/benchmarks.md.
#
# Usage: scripts/bench.sh        (from any directory; it works in the repository root)
#
# Builds bin/gatehouse and bin/load, then starts the server on SQLite (a temporary data
# directory, a free loopback port, a bootstrap account, GATEHOUSE_BENCH_ENDPOINTS on) and runs,
# one after the other:
#   1. GET /livez and GET /readyz;
#   2. for each login concurrency (2, 4, 8): BENCH_LOGIN_ROUNDS rounds of
#      POST /api/v1/auth/login (cookie) and POST /api/v1/auth/token (password grant) with N
#      clients, with the raw argon2id baseline (`gatehouse bench hash --concurrency N`) before,
#      between and after them, so every login run has a baseline on either side (its ratio
#      uses their mean; the median over the rounds is held against the goal); then the
#      server's peak RSS;
#   3. GET /api/v1/bench/jwt (the JWT-only baseline), then GET /api/v1/me with the same bearer
#      token and with a session cookie, 64 clients each.
# Then, when a PostgreSQL URL is set, 1 and 3 again on a fresh database (created with psql,
# dropped at the end). Ends with a table (label, req/s, p50, p99, errors; a hash row's req/s is
# hashes/s) and the ratios of each figure to its baseline from the same run, beside the goals.
#
# Environment:
#   BENCH_CLIENTS          concurrent clients for /livez and /readyz (default 32)
#   BENCH_LOGIN_CLIENTS    login concurrencies, space-separated (default "2 4 8")
#   BENCH_LOGIN_ROUNDS     interleaved rounds per login concurrency, 1 to 20 (default 5)
#   BENCH_LOGIN_DURATION   measured time of each login run and its baselines (default 5s)
#   BENCH_ME_CLIENTS       concurrent clients for /api/v1/me and its baseline (default 64)
#   BENCH_DURATION         measured time of every other run (default 10s, at most 5m)
#   BENCH_WARMUP           unmeasured warm-up before each run (default 1s)
#   BENCH_MAX_ERROR_RATE   fail if a run's errors exceed this fraction, e.g. 0.01 (default 1: never)
#   BENCH_SESSION_CACHE    the server's auth.session_cache, auto or off (default auto)
#   BENCH_REDIS_URL, or GATEHOUSE_TEST_REDIS_URL
#                          redis://... for the PostgreSQL server (default none; set and empty:
#                          none). PostgreSQL caches sessions only with Redis
#                          (docs/configuration.md), so without it /me is measured uncached.
#   BENCH_POSTGRES_URL, or GATEHOUSE_TEST_POSTGRES_URL
#                          postgres://USER@HOST:PORT/DB?sslmode=disable: a database psql can
#                          connect to as a user allowed to CREATE DATABASE. Unset: SQLite only.
#
# GATEHOUSE_* variables from the calling environment are passed neither to the server nor to
# `gatehouse bench hash`, so every run has the same configuration. A ratio below its goal is
# marked but does not fail the script (figures from a shared machine are noisy). Exit status:
# 0, or 1 if anything failed.
#
# Example:
#   BENCH_DURATION=3s GATEHOUSE_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' scripts/bench.sh
set -euo pipefail
export LC_NUMERIC=C # printf and awk read and print the JSON's numbers with a decimal point

cd "$(dirname "${BASH_SOURCE[0]}")/.."

clients=${BENCH_CLIENTS:-32}
login_clients=${BENCH_LOGIN_CLIENTS:-2 4 8}
login_rounds=${BENCH_LOGIN_ROUNDS:-5}
login_duration=${BENCH_LOGIN_DURATION:-5s}
me_clients=${BENCH_ME_CLIENTS:-64}
duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-1s}
max_error_rate=${BENCH_MAX_ERROR_RATE:-1}
pg_url=${BENCH_POSTGRES_URL:-${GATEHOUSE_TEST_POSTGRES_URL:-}}
session_cache=${BENCH_SESSION_CACHE:-auto}
redis_url=${BENCH_REDIS_URL-${GATEHOUSE_TEST_REDIS_URL:-}} # set but empty: no Redis
pg_db=gatehouse_bench_$$

# The bootstrap account every login and /me run uses. The password is long enough, not in the
# common-password list and does not contain the email's local part (SEC-02, SEC-03).
bench_email=bench@example.com
bench_password=quiet-lantern-harbour-47
login_body='{"email":"'$bench_email'","password":"'$bench_password'"}'
token_body='{"grant_type":"password","email":"'$bench_email'","password":"'$bench_password'"}'
json_header='Content-Type: application/json'

work=""         # temporary directory: data dirs, server logs, JSON results
server_pid=""   # the running server, if any
server_log=""
addr=""         # host:port of the running server
pg_created=""   # set once this script may have created $pg_db
results=()      # JSON result files, in run order
failed=()       # labels of runs above BENCH_MAX_ERROR_RATE
ratios=()       # rows of the ratio table: label, value, goal, verdict (tab-separated)
notes=()        # lines printed under the summary

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

[[ $login_rounds =~ ^[0-9]+$ ]] && ((login_rounds >= 1 && login_rounds <= 20)) ||
	die "BENCH_LOGIN_ROUNDS must be a whole number from 1 to 20, not '$login_rounds'"

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

	# The per-IP login limit is raised to its maximum (1000/s, far above what argon2id allows
	# here) so that throttling (SEC-05) does not cap the login runs;
	# the lockout still applies, but every benchmark login succeeds.
	local env_args=("${clear_env[@]}"
		GATEHOUSE_ENV=test
		GATEHOUSE_ADDR="$addr"
		GATEHOUSE_DATA_DIR="$data_dir"
		GATEHOUSE_MASTER_KEY="$master_key"
		GATEHOUSE_LOG_LEVEL=warn
		GATEHOUSE_BENCH_ENDPOINTS=true
		GATEHOUSE_ADMIN_EMAIL="$bench_email"
		GATEHOUSE_ADMIN_PASSWORD="$bench_password"
		GATEHOUSE_LOGIN_RATE_PER_IP=60000
		GATEHOUSE_SESSION_CACHE="$session_cache")
	if [[ -n $db_url ]]; then
		env_args+=(GATEHOUSE_DATABASE_URL="$db_url")
		if [[ -n $redis_url ]]; then
			env_args+=(GATEHOUSE_REDIS_URL="$redis_url")
		fi
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

# run_load LABEL CLIENTS PATH DURATION [LOAD_FLAGS...] loads http://$addr/PATH with CLIENTS
# clients for DURATION, prints the result and keeps its JSON for the summary. It sets
# last_result to that file.
last_result=""
run_load() {
	local label=$1 n=$2 path=$3 d=$4
	shift 4
	local out=$work/result-${#results[@]}.json
	say "$label: $n clients, $d after $warmup warm-up"
	local status=0
	bin/load -c "$n" -d "$d" -warmup "$warmup" -max-error-rate "$max_error_rate" \
		-label "$label" -json-file "$out" "$@" "http://$addr$path" || status=$?
	case $status in
	0) ;;
	1) failed+=("$label") ;;
	*) die "bin/load failed for $label (exit status $status)" ;;
	esac
	results+=("$out")
	last_result=$out
	echo
}

# run_hash N WHICH DURATION runs the raw argon2id baseline on N goroutines (no server involved)
# and keeps its JSON, which has the load tool's shape, for the summary. It sets last_result to
# that file.
run_hash() {
	local n=$1 label="argon2id hash c=$1 $2" d=$3
	local out=$work/result-${#results[@]}.json
	say "$label: raw argon2id on $n goroutines, $d after $warmup warm-up"
	env "${clear_env[@]}" bin/gatehouse bench hash --concurrency "$n" --duration "$d" \
		--warmup "$warmup" --label "$label" --json >"$out" ||
		die "gatehouse bench hash failed for $label"
	printf '  %s hashes (%.1f hashes/s), p50 %.1f ms, p99 %.1f ms\n' "$(json_num "$out" requests)" \
		"$(json_num "$out" requests_per_second)" "$(json_num "$out" p50_ms)" "$(json_num "$out" p99_ms)"
	results+=("$out")
	last_result=$out
	echo
}

# json_num FILE FIELD prints a number field of a one-line JSON result.
json_num() {
	sed -n 's/.*"'"$2"'":\([-0-9.eE+]*\).*/\1/p' "$1"
}

# add_ratio LABEL FILE BASELINES FIELD KIND GOAL records FIELD of FILE over the mean FIELD of
# BASELINES (one result file, or several joined by '+'). KIND "min": a percentage that should
# reach GOAL percent; KIND "max": a factor that should stay at or below GOAL.
add_ratio() {
	local label=$1 a b f n=0 sum=0
	a=$(json_num "$2" "$4")
	local -a bases
	IFS=+ read -ra bases <<<"$3"
	for f in "${bases[@]}"; do
		sum=$(awk -v s="$sum" -v v="$(json_num "$f" "$4")" 'BEGIN { print s + v }')
		n=$((n + 1))
	done
	b=$(awk -v s="$sum" -v n="$n" 'BEGIN { print s / n }')
	ratios+=("$(awk -v label="$label" -v a="$a" -v b="$b" -v kind="$5" -v goal="$6" 'BEGIN {
		if (b + 0 <= 0) { printf "%s\tn/a\t\t\n", label; exit }
		r = a / b
		if (kind == "min") {
			printf "%s\t%.0f%%\t>= %s%%\t%s\n", label, 100 * r, goal, (100 * r >= goal ? "ok" : "BELOW GOAL")
		} else {
			printf "%s\t%.2fx\t<= %sx\t%s\n", label, r, goal, (r <= goal ? "ok" : "ABOVE GOAL")
		}
	}')")
}

# memory_kib FIELD prints a Vm* line of the running server's /proc status in KiB, or nothing.
memory_kib() {
	sed -n 's/^'"$1"':[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$server_pid/status" 2>/dev/null || true
}

# mib KIB prints KIB in MiB, or "n/a" when empty.
mib() {
	if [[ -z $1 ]]; then
		echo "n/a"
	else
		awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'
	fi
}

# bench_logins NAME measures logins at each login concurrency beside the raw hash rate, and the
# server's peak RSS after each concurrency: bounded memory means it stops growing with clients.
#
# A concurrency alternates raw hash runs with login runs: hash, cookie, hash, token, hash, and so
# on for BENCH_LOGIN_ROUNDS rounds (a round is one cookie and one token run). Every login run
# sits between two hash runs and is divided by their mean, so a drift in what the machine gives
# (other processes, thermal or host limits) lands on both sides of its ratio instead of on one;
# the figure held against the goal is the median over the rounds, printed with their range. On a
# shared machine one run can be 10-20% off either way, and the median of many short interleaved
# runs is what survives that.
bench_logins() {
	local name=$1 n r rss_before peaks=()
	rss_before=$(memory_kib VmRSS)
	for n in $login_clients; do
		local cookies=() tokens=() before
		run_hash "$n" "#1" "$login_duration"
		before=$last_result
		for ((r = 1; r <= login_rounds; r++)); do
			run_load "$name login cookie c=$n #$r" "$n" /api/v1/auth/login "$login_duration" -method POST -H "$json_header" -body "$login_body"
			local cookie=$last_result
			run_hash "$n" "#$((2 * r))" "$login_duration"
			cookies+=("$cookie:$before:$last_result")
			before=$last_result
			run_load "$name login token c=$n #$r" "$n" /api/v1/auth/token "$login_duration" -method POST -H "$json_header" -body "$token_body"
			local token=$last_result
			run_hash "$n" "#$((2 * r + 1))" "$login_duration"
			tokens+=("$token:$before:$last_result")
			before=$last_result
		done
		add_round_ratio "$name login cookie c=$n / argon2id hash c=$n (req/s)" 85 "${cookies[@]}"
		add_round_ratio "$name login token c=$n / argon2id hash c=$n (req/s)" 85 "${tokens[@]}"
		peaks+=("c=$n $(mib "$(memory_kib VmHWM)")")
	done
	if ((${#peaks[@]} == 0)); then
		return 0 # BENCH_LOGIN_CLIENTS is empty: no login runs, no memory to report
	fi
	local note joined
	joined=$(printf '%s, ' "${peaks[@]}")
	note="$name server peak RSS (VmHWM) after the login runs: $(mib "$(memory_kib VmHWM)")"
	note+=" (RSS before them: $(mib "$rss_before"); peak after ${joined%, };"
	note+=" at most $hash_slots hashes of 19 MiB at once)"
	say "$note"
	echo
	notes+=("$note")
}

# add_round_ratio LABEL GOAL RUN... records the median over RUNs of a login run's req/s over the
# mean req/s of the hash runs on either side of it, in percent, with the range, against GOAL
# percent. Each RUN is LOGIN:HASH_BEFORE:HASH_AFTER (result files; the paths hold no colon).
add_round_ratio() {
	local label=$1 goal=$2 run login h1 h2 values=()
	shift 2
	for run in "$@"; do
		IFS=: read -r login h1 h2 <<<"$run"
		values+=("$(awk -v a="$(json_num "$login" requests_per_second)" \
			-v b1="$(json_num "$h1" requests_per_second)" \
			-v b2="$(json_num "$h2" requests_per_second)" \
			'BEGIN { b = (b1 + b2) / 2; if (b > 0) printf "%.4f\n", 100 * a / b }')")
	done
	ratios+=("$(printf '%s\n' "${values[@]}" | sort -g | awk -v label="$label" -v goal="$goal" '
		NF { v[++n] = $1 }
		END {
			if (n == 0) { printf "%s\tn/a\t\t\n", label; exit }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			value = sprintf("%.1f%%", m)
			if (n > 1) { value = sprintf("%s (%d rounds %.0f-%.0f%%)", value, n, v[1], v[n]) }
			printf "%s\t%s\t>= %s%%\t%s\n", label, value, goal, (m >= goal ? "ok" : "BELOW GOAL")
		}')")
}

# bench_me NAME measures GET /api/v1/me by bearer token and by cookie beside the JWT-only
# baseline, with one token and one session made by curl.
bench_me() {
	local name=$1 base="http://$addr/api/v1" tok ck jwt bearer cookie
	tok=$(curl -sS --max-time 10 -H "$json_header" -d "$token_body" "$base/auth/token" |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p') || true
	[[ -n $tok ]] || server_failed "$name: POST /api/v1/auth/token gave no access token"
	ck=$(curl -sS --max-time 10 -o /dev/null -D - -H "$json_header" -d "$login_body" "$base/auth/login" |
		tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: gatehouse_session=\([^;]*\).*/\1/p') || true
	[[ -n $ck ]] || server_failed "$name: POST /api/v1/auth/login set no gatehouse_session cookie"

	run_load "$name GET /bench/jwt c=$me_clients" "$me_clients" /api/v1/bench/jwt "$duration" -H "Authorization: Bearer $tok"
	jwt=$last_result
	run_load "$name GET /me bearer c=$me_clients" "$me_clients" /api/v1/me "$duration" -H "Authorization: Bearer $tok"
	bearer=$last_result
	run_load "$name GET /me cookie c=$me_clients" "$me_clients" /api/v1/me "$duration" -H "Cookie: gatehouse_session=$ck"
	cookie=$last_result
	add_ratio "$name GET /me bearer / GET /bench/jwt (req/s)" "$bearer" "$jwt" requests_per_second min 50
	add_ratio "$name GET /me bearer / GET /bench/jwt (p99)" "$bearer" "$jwt" p99_ms max 1.5
	add_ratio "$name GET /me cookie / GET /bench/jwt (req/s)" "$cookie" "$jwt" requests_per_second min 50
	add_ratio "$name GET /me cookie / GET /bench/jwt (p99)" "$cookie" "$jwt" p99_ms max 1.5
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
# Drop every inherited GATEHOUSE_* variable from the environment of the server and of
# `gatehouse bench hash`.
clear_env=()
while IFS= read -r name; do
	if [[ $name == GATEHOUSE_* ]]; then
		clear_env+=(-u "$name")
	fi
done < <(compgen -e)

# --- SQLite -----------------------------------------------------------------------------------

# The server runs at most one argon2id hash per usable core (SEC-06), as GOMAXPROCS does.
hash_slots=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "GOMAXPROCS")

start_server sqlite
run_load "sqlite /livez" "$clients" /livez "$duration"
run_load "sqlite /readyz" "$clients" /readyz "$duration"
bench_logins sqlite
bench_me sqlite
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
	run_load "postgres /livez" "$clients" /livez "$duration"
	run_load "postgres /readyz" "$clients" /readyz "$duration"
	bench_me postgres
	stop_server
fi

# --- summary ----------------------------------------------------------------------------------

say "session cache: $session_cache; PostgreSQL with Redis: $([[ -n $redis_url ]] && echo yes || echo no)"
say "summary: $duration per run ($login_duration for logins and their hash runs) after $warmup warm-up; c=clients (hash rows: goroutines, req/s = hashes/s)"
bin/load -summary "${results[@]}"
echo
say "ratios to the baselines measured in this run"
{
	printf 'ratio\tvalue\tgoal\t\n'
	printf '%s\n' "${ratios[@]}"
} | awk -F'\t' '
	{ for (i = 1; i <= 4; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
	END {
		for (r = 1; r <= NR; r++) {
			line = sprintf("%-" w[1] "s  %" w[2] "s  %-" w[3] "s  %s", cell[r, 1], cell[r, 2], cell[r, 3], cell[r, 4])
			sub(/ +$/, "", line)
			print line
		}
	}'
echo
for note in "${notes[@]}"; do
	echo "$note"
done
if [[ -n $pg_note ]]; then
	echo "$pg_note"
fi
if ((${#failed[@]} > 0)); then
	die "error rate above BENCH_MAX_ERROR_RATE=$max_error_rate in: ${failed[*]}"
fi
