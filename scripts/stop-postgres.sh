#!/usr/bin/env bash
# scripts/stop-postgres.sh — stop a server started by scripts/start-postgres.sh.
#
#   scripts/stop-postgres.sh DIR [--rm]
#
# Stops the server whose cluster is in DIR (pg_ctl stop -m fast); --rm then
# deletes DIR. A server that is not running is fine: exit 0.
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ] || { [ $# -ge 2 ] && [ "$2" != --rm ]; }; then
	echo "usage: $0 DIR [--rm]" >&2
	exit 2
fi
dir=$1
data=$dir/data

pg_ctl=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
	if [ -x "$d/pg_ctl" ]; then
		pg_ctl=$d/pg_ctl
		break
	fi
done
[ -n "$pg_ctl" ] || pg_ctl=$(command -v pg_ctl || true)

if [ -f "$data/postmaster.pid" ] && [ -n "$pg_ctl" ]; then
	if [ "$(id -u)" = 0 ]; then
		owner=$(stat -c %U "$data")
		runuser -u "$owner" -- "$pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	else
		"$pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	if [ -f "$data/postmaster.pid" ]; then
		# pg_ctl failed (e.g. a stale pid file after a crash): the PID in
		# it, if it is still a postgres, is ours to stop.
		pid=$(sed -n 1p "$data/postmaster.pid")
		if [ -n "$pid" ] && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
			kill -INT "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
	fi
fi

if [ "${2:-}" = --rm ]; then
	rm -rf "$dir"
fi
echo "stop-postgres: stopped $dir" >&2
