#!/usr/bin/env bash
# bench/run.sh — THE benchmark command: Strata (embedded, and on Postgres +
# MinIO) side by side with Apache Kafka, with raw MinIO and the data disk
# measured as the limits in the same run. Writes
# bench/results/<date>-<name>.{md,json} and two PNG plots; progress on stderr.
#
#   bench/run.sh                  # full run, every scenario and target
#   bench/run.sh -smoke           # seconds, Strata embedded only (scripts/test.sh)
#   bench/run.sh -h               # scenarios, targets, sizes
#
# See bench/README.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo/bench/harness"
exec go run . -repo "$repo" "$@"
