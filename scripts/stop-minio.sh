#!/usr/bin/env bash
# scripts/stop-minio.sh DIR — stop the MinIO that scripts/start-minio.sh
# started from DIR (its pid is in DIR/minio.pid), and remove DIR if
# start-minio.sh created it. Stopping a server that is not running is not an
# error.
set -euo pipefail

say() { printf 'stop-minio: %s\n' "$*" >&2; }

if [ $# -ne 1 ] || [ -z "$1" ]; then
	say "usage: $0 DIR"
	exit 2
fi
dir=$1
if [ ! -d "$dir" ]; then
	say "no directory $dir: nothing to stop"
	exit 0
fi

if [ -f "$dir/minio.pid" ]; then
	pid=$(cat "$dir/minio.pid")
	# Only signal the pid if it is still our MinIO (pids get reused).
	if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "minio server .*$dir/data"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "MinIO pid $pid ignored SIGTERM for 10s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "stopped MinIO pid $pid"
	else
		say "MinIO pid $pid from $dir is not running"
	fi
	rm -f "$dir/minio.pid"
fi

if [ -f "$dir/.created-by-start-minio" ]; then
	rm -rf "$dir"
fi
