#!/usr/bin/env bash
# franz-go's own pkg/kgo test suite (the version pinned in go.mod, from the
# Go module cache) against a running Strata agent.
#
# Usage: compat/franz-go.sh BOOTSTRAP VERSION OUTDIR
#
# The module is copied to a temporary directory (its tests are package-
# internal, so they must run inside it; nothing of it is committed here)
# and `go test ./pkg/kgo/` runs with KGO_SEEDS pointing at the agent. The
# package holds unit tests and integration tests (those create topics on
# the broker and produce, consume, run groups and transactions). Tests
# needing what Strata lacks (transactions, KIP-848) fail or skip; the run
# passes iff every test listed in compat/franz-go-expected.txt passed, so
# a regression fails CI while known gaps do not. Writes
# OUTDIR/summary and OUTDIR/results (test<TAB>pass|fail|skip).
set -euo pipefail

boot=$1 version=$2 out=$3
root=$(cd "$(dirname "$0")/.." && pwd)
expected=$root/compat/franz-go-expected.txt
mkdir -p "$out"
src=$(go env GOMODCACHE)/github.com/twmb/franz-go@$version
if [ ! -d "$src/pkg/kgo" ]; then
	go mod download github.com/twmb/franz-go@"$version"
fi
mod=$out/franz-go
rm -rf "$mod"
cp -r "$src" "$mod"
chmod -R u+w "$mod"

# KGO_TEST_RF=1: one agent; KGO_TEST_RECORDS: the ETL tests' record count
# (default 500,000) cut to keep the run in budget.
# A test's own deadline is -timeout; go test then fails the package, and
# every test that had not finished counts as failed.
#
# not_run: tests never started, counted as failed (none since
# transactions: TestTxnEtl runs and must pass).
not_run=""
set +e
(cd "$mod" && KGO_SEEDS=$boot KGO_TEST_RF=1 KGO_TEST_RECORDS=20000 KGO_LOG_LEVEL=none \
	go test -count=1 -json -timeout 6m -skip "^($(echo $not_run | tr ' ' '|'))\$" ./pkg/kgo/ \
	>"$out/test.json" 2>"$out/test.stderr")
set -e

# Top-level tests only; a test that started and never ended failed.
# shellcheck disable=SC2086
python3 - "$out/test.json" $not_run >"$out/results" <<'PY'
import json, sys
state = {}
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    t = ev.get("Test")
    if not t or "/" in t:
        continue
    a = ev["Action"]
    if a == "run":
        state.setdefault(t, "fail")
    elif a in ("pass", "fail", "skip"):
        state[t] = a
for t in sys.argv[2:]:
    state[t] = "fail"  # not run (see not_run)
for t in sorted(state):
    print(f"{t}\t{state[t]}")
PY
total=$(wc -l <"$out/results")
npass=$(awk -F'\t' '$2 == "pass"' "$out/results" | wc -l)
nfail=$(awk -F'\t' '$2 == "fail"' "$out/results" | wc -l)
nskip=$(awk -F'\t' '$2 == "skip"' "$out/results" | wc -l)
echo "franz-go kgo tests: $npass / $total pass ($nfail fail, $(echo $not_run | wc -w) of them not run; $nskip skip themselves)" >"$out/summary"
awk -F'\t' '$2 == "fail" { print "failed: " $1 }' "$out/results"

missing=""
while read -r t; do
	case $t in '' | '#'*) continue ;; esac
	grep -qx "$t	pass" "$out/results" || missing="$missing $t"
done <"$expected"
cat "$out/summary"
if [ -n "$missing" ]; then
	echo "FAIL: expected to pass but did not:$missing ($(cat "$out/summary"))"
	exit 1
fi
echo "every test in compat/franz-go-expected.txt passed; $(cat "$out/summary")"
