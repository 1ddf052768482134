#!/usr/bin/env bash
# scripts/start-postgres.sh — start a throwaway PostgreSQL server for tests.
#
#   eval "$(scripts/start-postgres.sh [DIR])"
#
# Installs PostgreSQL if missing (Debian package `postgresql`), creates a
# cluster in DIR (default: a new temporary directory) with trust auth,
# starts it on a free port on 127.0.0.1 only, creates the database
# `strata`, and prints shell lines for eval (diagnostics go to stderr):
#
#   export STRATA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/strata?sslmode=disable
#   export STRATA_POSTGRES_DIR=DIR
#   export STRATA_POSTGRES_PID=PID
#
# Stop it with scripts/stop-postgres.sh DIR (add --rm to delete DIR).
#
# Idempotent: run again with the same DIR while the server runs, it prints
# the same lines; a DIR whose server stopped is restarted (on a new free
# port). Running as root, the server runs as the `postgres` user (postgres
# refuses to run as root), which must be able to reach DIR.
#
# The server is for tests only: fsync is off, so a machine crash can lose
# or corrupt its data. Takes about 2 seconds when PostgreSQL is installed.
set -euo pipefail

log() { printf 'start-postgres: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- Binaries ---------------------------------------------------------------
find_bindir() {
	local d
	# Newest major version first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return 0
	fi
	return 1
}

if ! bindir=$(find_bindir); then
	log "installing postgresql"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	# The package's own cluster (if its postinst makes one) is not used.
	$sudo apt-get install -y -qq postgresql >&2
	bindir=$(find_bindir) || die "postgresql installed but initdb/pg_ctl not found"
fi

# --- Who runs the server ----------------------------------------------------
run_as=()
pg_user=$(id -un)
if [ "$(id -u)" = 0 ]; then
	if ! id postgres >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
	fi
	pg_user=postgres
	if command -v runuser >/dev/null 2>&1; then
		run_as=(runuser -u postgres --)
	else
		run_as=(su postgres -s /bin/sh -c '"$0" "$@"')
	fi
fi
as_pg() { "${run_as[@]}" "$@"; }

# --- Directory --------------------------------------------------------------
if [ $# -ge 1 ] && [ -n "$1" ]; then
	dir=$1
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-postgres.XXXXXX")
fi
dir=$(cd "$dir" && pwd)
data=$dir/data
if [ "$(id -u)" = 0 ]; then
	chown "$pg_user": "$dir"
	if ! as_pg test -w "$dir"; then
		die "user $pg_user cannot write $dir (a parent directory is not searchable?); pass a DIR it can reach, e.g. under /tmp"
	fi
fi

# --- Free port --------------------------------------------------------------
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for ((p = 15432 + RANDOM % 20000; p < 65000; p++)); do
		# A refused connection means nothing listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

url_for() { echo "postgres://postgres@127.0.0.1:$1/strata?sslmode=disable"; }

print_env() {
	local port=$1 pid=$2
	echo "export STRATA_TEST_POSTGRES_URL='$(url_for "$port")'"
	echo "export STRATA_POSTGRES_DIR='$dir'"
	echo "export STRATA_POSTGRES_PID='$pid'"
	log "postgres (pid $pid) listening on 127.0.0.1:$port, data in $data; stop with: scripts/stop-postgres.sh $dir"
}

# postmaster.pid: line 1 the PID, line 4 the port.
running_port() {
	[ -f "$data/postmaster.pid" ] || return 1
	as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
	sed -n 4p "$data/postmaster.pid"
}
running_pid() { sed -n 1p "$data/postmaster.pid"; }

psql_pg() {
	local port=$1
	shift
	as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

ensure_db() {
	local port=$1
	if [ "$(psql_pg "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = 'strata'")" != 1 ]; then
		psql_pg "$port" -c 'CREATE DATABASE strata' >&2
	fi
}

if port=$(running_port); then
	ensure_db "$port"
	print_env "$port" "$(running_pid)"
	exit 0
fi

# --- Cluster ----------------------------------------------------------------
if [ ! -f "$data/PG_VERSION" ]; then
	rm -rf "$data"
	as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
fi

# --- Start ------------------------------------------------------------------
# A port found free can be taken before postgres binds it: try a few.
for attempt in 1 2 3 4 5; do
	# STRATA_POSTGRES_PORT pins the port, so a test can stop the server and
	# start it again at the same URL (outage tests).
	port=${STRATA_POSTGRES_PORT:-$(free_port)}
	# -k: the Unix socket lives in DIR, not in /var/run/postgresql.
	opts="-c listen_addresses=127.0.0.1 -c port=$port -k $dir -c max_connections=300"
	opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	if as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null 2>&1; then
		ensure_db "$port"
		print_env "$port" "$(running_pid)"
		exit 0
	fi
	log "start on port $port failed (attempt $attempt); server log tail:"
	tail -n 5 "$dir/server.log" >&2 || true
done
die "could not start postgres; see $dir/server.log"
