#!/usr/bin/env bash
# scripts/dev-up.sh — Postgres and MinIO for local development, the same
# throwaway servers the test suite uses.
#
#   scripts/dev-up.sh [DIR]        # default DIR: ./strata-dev
#   . DIR/env && go run ./cmd/strata agent
#   scripts/dev-up.sh --down [DIR] # stop both (data stays in DIR)
#
# Installs what is missing (Debian postgresql; MinIO built once and cached
# under ~/.cache/strata), starts both on free ports of 127.0.0.1, and writes
# DIR/env exporting STRATA_METASTORE and STRATA_OBJSTORE (read by `strata
# agent`), the AWS_* credentials, and the STRATA_TEST_* URLs the tests use.
# Running it again with the servers up just rewrites DIR/env.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
down=""
if [ "${1:-}" = --down ]; then
	down=1
	shift
fi
dir=${1:-strata-dev}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ -n "$down" ]; then
	"$here/stop-minio.sh" "$dir/minio" || true
	"$here/stop-postgres.sh" "$dir/postgres" || true
	echo "stopped; data kept in $dir (remove it to start afresh)"
	exit 0
fi

chmod 755 "$dir" # the postgres user must reach its cluster directory
"$here/start-postgres.sh" "$dir/postgres" >"$dir/postgres.env"
if [ -f "$dir/minio/minio.pid" ] && kill -0 "$(cat "$dir/minio/minio.pid")" 2>/dev/null; then
	cp "$dir/minio/env" "$dir/minio.env"
else
	"$here/start-minio.sh" "$dir/minio" >"$dir/minio.env"
fi
# shellcheck disable=SC1091
. "$dir/postgres.env"
# shellcheck disable=SC1091
. "$dir/minio.env"
objstore=${STRATA_TEST_S3_URL/s3:\/\/strata-test\//s3:\/\/strata-test\/dev}
{
	cat "$dir/postgres.env" "$dir/minio.env"
	echo "export STRATA_METASTORE='$STRATA_TEST_POSTGRES_URL'"
	echo "export STRATA_OBJSTORE='$objstore'"
} >"$dir/env"

cat <<MSG
Postgres: $STRATA_TEST_POSTGRES_URL
MinIO:    $objstore
Run an agent on them:   . $dir/env && go run ./cmd/strata agent
Run the tests on them:  . $dir/env && go test ./...
Stop them:              scripts/dev-up.sh --down $dir
MSG
