#!/usr/bin/env bash
# scripts/start-minio.sh — start a throwaway MinIO for the S3 tests.
#
#   env=$(scripts/start-minio.sh [DIR]) && eval "$env"
#   go test ./tiering/objstore/s3/
#   scripts/stop-minio.sh "$STRATA_MINIO_DIR"
#
# (Not `eval "$(scripts/start-minio.sh)"`: eval of a failed command
# substitution succeeds, so `set -e` would not stop on a failed start.
# `. DIR/env` after a successful start works too.)
#
# It builds the pinned MinIO once (4-7 minutes on 2 cores with an empty Go
# module cache: 273 s and 385 s measured) into
# ${STRATA_CACHE:-$HOME/.cache/strata}/minio/<version>/minio and reuses it
# afterwards; starts it in the background on a free port of 127.0.0.1 only,
# with its data, log, pid and credentials in DIR (a new temporary directory
# if not given); waits until it is ready; creates the bucket strata-test;
# and prints, on stdout and into DIR/env, the lines to export:
# STRATA_TEST_S3_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# STRATA_MINIO_PID and STRATA_MINIO_DIR. Progress goes to stderr.
#
# The server makes no outside connections: update checks, call-home and the
# web console are off.
set -euo pipefail

# The pinned MinIO. The last RELEASE tag, RELEASE.2025-10-15T17-29-55Z, is
# not a semantic version and the Go module proxy serves no pseudo-version
# of its commit here, so we pin the final commit of the community
# repository (2026-02-12, the repository then went into maintenance): that
# release plus seven small server fixes and documentation changes.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
BUCKET=strata-test
REGION=us-east-1

repo=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'start-minio: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- The binary, built once per version ------------------------------------
cache=${STRATA_CACHE:-$HOME/.cache/strata}/minio/$MINIO_VERSION
bin=$cache/minio
mkdir -p "$cache"
if [ ! -x "$bin" ]; then
	# One build at a time: a second caller waits for the first and then
	# finds the binary.
	exec 9>"$cache/.lock"
	flock 9
	if [ ! -x "$bin" ]; then
		say "building MinIO $MINIO_VERSION (a few minutes; log: $cache/build.log)"
		tmpbin=$(mktemp -d "$cache/.build.XXXXXX")
		start=$(date +%s)
		if ! (cd "$cache" && GOBIN="$tmpbin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
			go install "github.com/minio/minio@$MINIO_VERSION") >"$cache/build.log" 2>&1; then
			rm -rf "$tmpbin"
			tail -n 30 "$cache/build.log" >&2
			die "building MinIO failed; full log: $cache/build.log"
		fi
		mv "$tmpbin/minio" "$bin" # atomic: nobody sees half a binary
		rm -rf "$tmpbin"
		say "built in $(($(date +%s) - start))s"
	fi
	exec 9>&-
fi

# --- Its directory ----------------------------------------------------------
if [ $# -gt 1 ]; then
	die "usage: $0 [DIR]"
fi
if [ $# -eq 1 ]; then
	dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-minio.XXXXXX")
	# stop-minio.sh removes only directories this script made.
	touch "$dir/.created-by-start-minio"
fi
if [ -f "$dir/minio.pid" ] && kill -0 "$(cat "$dir/minio.pid")" 2>/dev/null; then
	die "a MinIO already runs from $dir (pid $(cat "$dir/minio.pid")); stop it with scripts/stop-minio.sh $dir"
fi
mkdir -p "$dir/data"

user=strata
# STRATA_MINIO_PASSWORD and STRATA_MINIO_PORT pin the password and port,
# so a test can stop MinIO and start it again at the same URL (outage
# tests); normally both are random.
password=${STRATA_MINIO_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

# --- Start on a free port ----------------------------------------------------
# Pick a random port nobody listens on; if another process takes it before
# MinIO binds, MinIO exits and we try another.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
started=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
	port=${STRATA_MINIO_PORT:-$((20000 + RANDOM % 30000))}
	if port_in_use "$port"; then
		continue
	fi
	: >"$dir/minio.log"
	MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$password \
		MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off \
		setsid "$bin" server --quiet --address "127.0.0.1:$port" "$dir/data" \
		>>"$dir/minio.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/minio.pid"
	# Ready within 60s, or it died (port taken, bad directory...).
	for _ in $(seq 1 600); do
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/minio/health/ready" 2>/dev/null; then
			started=yes
			break
		fi
		sleep 0.1
	done
	if [ -n "$started" ]; then
		break
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		tail -n 20 "$dir/minio.log" >&2
		die "MinIO (pid $pid) not ready on 127.0.0.1:$port after 60s; log: $dir/minio.log"
	fi
	say "MinIO exited at start on port $port (attempt $attempt), retrying:"
	tail -n 5 "$dir/minio.log" >&2
	rm -f "$dir/minio.pid"
done
[ -n "$started" ] || die "could not start MinIO; log: $dir/minio.log"
say "MinIO pid $pid ready on 127.0.0.1:$port, data in $dir/data"

# --- The bucket ---------------------------------------------------------------
endpoint=http://127.0.0.1:$port
if ! (cd "$repo" && AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$password \
	AWS_EC2_METADATA_DISABLED=true go run ./scripts/mkbucket -endpoint "$endpoint" -bucket "$BUCKET" -region "$REGION"); then
	kill "$pid" 2>/dev/null || true
	die "creating bucket $BUCKET failed"
fi

cat >"$dir/env" <<EOF
export STRATA_TEST_S3_URL='s3://$BUCKET/?endpoint=$endpoint&region=$REGION&path_style=true'
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$password
export AWS_REGION=$REGION
export STRATA_MINIO_PID=$pid
export STRATA_MINIO_DIR=$dir
EOF
cat "$dir/env"
