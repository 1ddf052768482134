#!/usr/bin/env bash
# kcat (Debian's, on Debian's librdkafka) against a Strata agent.
#
# Usage: compat/kcat_checks.sh CHECK BOOTSTRAP PREFIX PYTHON
#
# transactions: kcat's transactional producer (-X transactional.id: one
# transaction per run, committed when its input ends) into a 2-partition
# topic (created with confluent-kafka-python's admin client, PYTHON being
# the venv's interpreter: kcat creates no topics):
#   a  committed (input ended)
#   c  left open: the producer killed with SIGKILL once its records were in
#      the log; read_committed must stop before it (the last stable offset)
#   d  committed by a new run with the same transactional.id, whose
#      InitProducerId must first abort c
# Then kcat's consumer with -X isolation.level=read_committed must see
# exactly a and d, at the partitions and offsets read_uncommitted sees them,
# and read_uncommitted all three. (kcat aborts a transaction only on SIGINT
# or SIGTERM, which kcat 1.7.1 notices only once more input arrives, and it
# holds back the last kilobyte or so of its input until more follows: so no
# client abort here, and c is padded for its records to reach the log.)
#
# Exits 0 on success, or prints the reason last ("FAIL: ...") and exits 1.
set -euo pipefail

check=$1 boot=$2 prefix=$3 py=$4
tmp=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

[ "$check" = transactions ] || fail "unknown check $check"
topic=$prefix-txn tid=$prefix-tid

"$py" - "$boot" "$topic" >"$tmp/create" 2>&1 <<'EOF' || fail "creating $topic: $(tail -1 "$tmp/create")"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
admin.create_topics([NewTopic(sys.argv[2], 2, 1)], request_timeout=15)[sys.argv[2]].result(timeout=15)
EOF

# lines NAME N: the records of transaction NAME, "NAME-i:NAME value i".
lines() { for i in $(seq 0 $(($2 - 1))); do echo "$1-$i:$1 value $i"; done; }
# read_all ISOLATION: "partition offset key value" of every record that
# consumer sees from the beginning to its end of each partition.
read_all() {
	timeout -s KILL 30 kcat -C -b "$boot" -t "$topic" -o beginning -e -q -X isolation.level="$1" \
		-f '%p %o %k %s\n' 2>"$tmp/kcat-c.err" | sort -k1,1n -k2,2n ||
		fail "kcat consumer ($1): $(tail -1 "$tmp/kcat-c.err")"
}
# produce_txn NAME N: one transactional kcat run, committed at end of input.
produce_txn() {
	lines "$1" "$2" | timeout -s KILL 30 kcat -P -b "$boot" -t "$topic" -K: -m 15 -X transactional.id="$tid" \
		2>"$tmp/kcat-p.err" || fail "kcat transactional produce of $1: $(tail -1 "$tmp/kcat-p.err")"
}
# start_txn NAME N: a transactional kcat run whose input stays open; returns
# once the N records NAME-0..NAME-(N-1) are in the log (read_uncommitted),
# pad lines (NAME-pad-i, also in the transaction) pushing them through.
start_txn() {
	rm -f "$tmp/fifo" && mkfifo "$tmp/fifo"
	kcat -P -b "$boot" -t "$topic" -K: -m 15 -X transactional.id="$tid" <"$tmp/fifo" 2>"$tmp/kcat-$1.err" &
	pid=$!
	exec 3>"$tmp/fifo"
	lines "$1" "$2" >&3
	for i in $(seq 1 50); do
		lines "$1-pad-$i" 10 | sed 's/$/ padding padding padding padding/' >&3
		[ "$(read_all read_uncommitted | grep -c "^[01] [0-9]* $1-[0-9]* ")" -lt "$2" ] || return 0
		kill -0 "$pid" 2>/dev/null || fail "kcat producing $1 exited: $(tail -1 "$tmp/kcat-$1.err")"
		sleep 0.2
	done
	fail "the records of transaction $1 did not reach the log"
}
# keys NAMES...: a grep pattern for the keys of those transactions.
keys() { echo "^[01] [0-9]* \\($(echo "$@" | sed 's/ /\\|/g')\\)-"; }

produce_txn a 20

start_txn c 12
{
	kill -9 "$pid"
	wait "$pid" || true
} 2>/dev/null
pid=""
exec 3>&-
read_all read_committed >"$tmp/committed-open"
read_all read_uncommitted >"$tmp/all-open"
grep "$(keys a)" "$tmp/all-open" >"$tmp/want-open" || true
cmp -s "$tmp/want-open" "$tmp/committed-open" ||
	fail "read_committed with c open: $(wc -l <"$tmp/committed-open") records, want the $(wc -l <"$tmp/want-open") of a: $(diff "$tmp/want-open" "$tmp/committed-open" | grep '^[<>]' | head -2 | tr '\n' ' ')"

produce_txn d 10
read_all read_committed >"$tmp/committed"
read_all read_uncommitted >"$tmp/all"
[ "$(grep -c "$(keys a d)" "$tmp/all")" = 30 ] || fail "read_uncommitted: $(grep -c "$(keys a d)" "$tmp/all") records of a and d, want 30"
[ "$(grep -c "^[01] [0-9]* c-[0-9]* " "$tmp/all")" = 12 ] || fail "read_uncommitted: $(grep -c "^[01] [0-9]* c-[0-9]* " "$tmp/all") records of c, want 12"
grep "$(keys a d)" "$tmp/all" >"$tmp/want"
cmp -s "$tmp/want" "$tmp/committed" ||
	fail "read_committed: $(wc -l <"$tmp/committed") records, want the $(wc -l <"$tmp/want") of a and d: $(diff "$tmp/want" "$tmp/committed" | grep '^[<>]' | head -2 | tr '\n' ' ')"
# Both partitions took part in every transaction.
for part in 0 1; do
	for t in a c d; do
		grep -q "^$part [0-9]* $t-" "$tmp/all" || fail "transaction $t wrote nothing to partition $part"
	done
done
echo "kcat transactions: 30 records of 2 committed transactions over 2 partitions read_committed exactly; $(grep -c "^[01] [0-9]* c-" "$tmp/all") of one killed with SIGKILL (aborted by the next InitProducerId) seen only read_uncommitted"
