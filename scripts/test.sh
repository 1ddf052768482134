#!/usr/bin/env bash
# scripts/test.sh — THE test command for Strata, run by developers and by CI
# (.ci/run). From any directory:
#
#   scripts/test.sh
#
# It installs what the tests need (kcat), then runs gofmt, go vet, the whole
# test suite, and a short fuzz run of every fuzz target. Any failure stops it
# with a non-zero exit.
set -euo pipefail

cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

# --- Tools the tests need -------------------------------------------------
# kcat (librdkafka) drives the real binary in cmd/strata/kcat_test.go. That
# test skips without kcat locally but fails when CI=true, so install it here.
if ! command -v kcat >/dev/null 2>&1; then
	step "installing kcat"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		sudo="sudo"
	fi
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq kcat
fi

# --- Backing services -------------------------------------------------------
# A throwaway Postgres (Debian package, installed if missing) and MinIO
# (built once with `go install` and cached under ~/.cache/strata), both on
# free ports on 127.0.0.1, stopped on exit. They provide
# STRATA_TEST_POSTGRES_URL, STRATA_TEST_S3_URL and the AWS_* credentials,
# so no Postgres or S3 test is ever skipped (with CI=true they would fail
# rather than skip).
step "starting Postgres and MinIO"
svc_dir=$(mktemp -d /tmp/strata-test-services.XXXXXX)
chmod 755 "$svc_dir" # the postgres user must reach its cluster dir
stop_services() {
	scripts/stop-minio.sh "$svc_dir/minio" >/dev/null 2>&1 || true
	scripts/stop-postgres.sh "$svc_dir/postgres" >/dev/null 2>&1 || true
	rm -rf "$svc_dir"
}
trap stop_services EXIT
scripts/start-postgres.sh "$svc_dir/postgres" >"$svc_dir/postgres.env"
scripts/start-minio.sh "$svc_dir/minio" >"$svc_dir/minio.env"
# shellcheck disable=SC1091
. "$svc_dir/postgres.env"
# shellcheck disable=SC1091
. "$svc_dir/minio.env"
export STRATA_TEST_POSTGRES_URL STRATA_TEST_S3_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
echo "postgres: $STRATA_TEST_POSTGRES_URL"
echo "minio:    $STRATA_TEST_S3_URL"

# --- Static checks ----------------------------------------------------------
step "gofmt"
unformatted=$(git ls-files -z --cached --others --exclude-standard '*.go' | xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
	echo "these files need gofmt -w:"
	echo "$unformatted"
	exit 1
fi

step "go vet ./..."
go vet ./...

# --- Tests ------------------------------------------------------------------
# -race for every package, the end-to-end ones included: cmd/strata then
# builds the agent binary with -race too, so the kill -9 and kcat runs also
# hunt data races in the real process (it found one on its first run).
# Measured on 2 cores (Nov 2026): the suite takes 14s without -race and 25s
# with it on a warm build cache, about 2.5 minutes with it on a cold cache;
# the whole script, fuzzing included, stays under 4 minutes — far below the
# 15-minute budget, so nothing is exempted from -race.
step "go test -race -count=1 -timeout 20m ./..."
go test -race -count=1 -timeout 20m ./...

# The end-to-end packages once more, with every agent on a fresh Postgres
# schema and S3 prefix instead of SQLite and a local directory: the same
# Kafka-client and kill -9 tests, on the production backends.
step "end-to-end suite on Postgres + MinIO (STRATA_TEST_BACKEND=remote)"
STRATA_TEST_BACKEND=remote go test -race -count=1 -timeout 20m ./agent/ ./cmd/strata/

# --- Compatibility suite (compat/) -------------------------------------------
# BEGIN compat step. Real clients nobody on this team wrote (confluent-kafka-
# python, kafka-python, kafkajs, Apache Kafka's CLI tools, franz-go's own kgo
# tests) against one agent; writes compat/MATRIX.md. Clients are pinned and
# cached under ${STRATA_CACHE:-$HOME/.cache/strata}/compat/. See compat/run.sh.
# Measured on 2 cores (Nov 2026), this step alone: 3m30s with an empty
# compat cache (pip, npm and Maven downloads add about a minute; Go caches warm),
# 2m24s warm (installs 0s; franz-go's kgo suite ~110s, Kafka CLI tools ~30s,
# Python and kafkajs checks ~15s).
step "compatibility suite (compat/run.sh)"
compat/run.sh
# END compat step.

# --- Benchmark harness smoke run (bench/) -----------------------------------
# BEGIN bench smoke step. bench/run.sh -smoke: Strata on embedded defaults
# only, tiny sizes, well under a minute; it must complete and write its
# results file, JSON and both plots (into a temp dir, not bench/results/).
# Figures are never asserted. The full run (with Apache Kafka and MinIO) is
# not part of CI; see bench/README.md.
step "benchmark harness smoke run (bench/run.sh -smoke)"
(cd bench/harness && go vet .)
bench_out=$(mktemp -d /tmp/strata-bench-smoke.XXXXXX)
bench/run.sh -smoke -out "$bench_out" >/dev/null
for f in "$bench_out"/*-smoke.md "$bench_out"/*-smoke.json \
	"$bench_out"/*-smoke-latency-cdf.png "$bench_out"/*-smoke-throughput.png; do
	[ -s "$f" ] || { echo "bench smoke run: $f missing"; exit 1; }
done
rm -rf "$bench_out"
# END bench smoke step.

# --- Fuzzing ----------------------------------------------------------------
# A short run of each fuzz target, one target per invocation (go test
# -fuzz accepts exactly one). A crasher is written under the package's
# testdata/fuzz/ and fails the run; commit it as a regression case.
FUZZTIME=${FUZZTIME:-10s}
step "fuzzing each target for $FUZZTIME"
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${file#./}")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "--- $name ($pkg)"
		# Minimizing a new input can outlast -fuzztime and fail the run with
		# "context deadline exceeded"; keep minimization short.
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 100x "$pkg"
	done
done

step "all tests passed"
