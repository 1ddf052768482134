#!/usr/bin/env bash
# Kafka Connect in distributed mode (connect-runtime and connect-file from
# Maven Central) against a Strata agent.
#
# Usage: compat/java/connect_check.sh BOOTSTRAP PREFIX LIBDIR CLASSDIR
#
# Starts one Connect worker (ConnectDistributed) that creates its three
# internal topics itself, creates a FileStreamSource connector (a file of
# 3,000 lines into a topic) and a FileStreamSink connector (that topic into
# another file) through the REST API, and waits until the sink file is
# byte-identical to the source. Checks that the internal topics exist with
# cleanup.policy=compact. Then stops the worker, appends 2,000 lines to the
# source file and starts the worker again: it must resume from the offsets
# it stored in the agent (source file position, sink group offsets), so the
# sink file ends byte-identical to the whole source file, no line repeated.
#
# Exits 0 on success, or prints the reason last ("FAIL: ...") and exits 1.
set -euo pipefail

boot=$1 prefix=$2 lib=$3 classes=$4
tmp=$(mktemp -d)
worker_pid="" worker_log=""
cleanup() {
	stop_worker 10 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/jvm.sh"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port=$(free_port)
rest=http://127.0.0.1:$port
internal=("$prefix-configs" "$prefix-offsets" "$prefix-status")
cat >"$tmp/worker.properties" <<EOF
bootstrap.servers=$boot
group.id=$prefix-cluster
config.storage.topic=${internal[0]}
offset.storage.topic=${internal[1]}
status.storage.topic=${internal[2]}
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
listeners=http://127.0.0.1:$port
# Source offsets and sink commits every half second (default 60 s).
offset.flush.interval.ms=500
# On a loaded machine, leave a stopping task time for its last offset commit
# (defaults 5 s): a task cut short replays what it had not committed, and the
# sink file would show repeated lines.
task.shutdown.graceful.timeout.ms=20000
offset.flush.timeout.ms=20000
# connect-file is on the classpath; find plugins by their service manifests
# instead of scanning every jar.
plugin.discovery=service_load
EOF

# first_error: the worker's first logged error, if any (the root cause when
# it fails to start).
first_error() { grep -m1 -A1 ' ERROR ' "$worker_log" | tr '\n' ' ' | cut -c1-500; }
# start_worker N: starts the worker, its output in $tmp/worker.N.log, and
# waits (30 s at most) until its REST API answers.
start_worker() {
	java "${java_opts[@]}" -cp "$lib/*" org.apache.kafka.connect.cli.ConnectDistributed \
		"$tmp/worker.properties" >"$tmp/worker.$1.log" 2>&1 &
	worker_pid=$! worker_log=$tmp/worker.$1.log
	for _ in $(seq 1 300); do
		if curl -sf -o /dev/null "$rest/"; then return 0; fi
		# A herder that fails at start (e.g. cannot create its topics) may
		# leave the JVM running without a REST API.
		if ! kill -0 "$worker_pid" 2>/dev/null || grep -q 'Failed to start Connect' "$worker_log"; then
			tail -20 "$worker_log" >&2
			fail "worker $1 did not start: $(first_error)"
		fi
		sleep 0.1
	done
	fail "worker $1: REST API did not answer within 30 s; $(first_error)"
}
# stop_worker SECONDS: SIGTERM (a graceful stop: tasks commit their
# offsets), then waits up to SECONDS before killing it (and returning 1).
stop_worker() {
	[ -n "$worker_pid" ] || return 0
	local pid=$worker_pid
	worker_pid=""
	stop_jvm "$pid" "$1"
}
# put_connector NAME JSON: creates or updates a connector's config; retried
# while the worker has not joined its group yet (409, or 5xx).
put_connector() {
	local code
	for _ in $(seq 1 200); do
		code=$(curl -s -o "$tmp/put.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
			--data "$2" "$rest/connectors/$1/config") || code=000
		case $code in
		200 | 201) return 0 ;;
		409 | 5* | 000) sleep 0.2 ;;
		*) fail "PUT connector $1: HTTP $code: $(cat "$tmp/put.out")" ;;
		esac
	done
	fail "PUT connector $1: still HTTP $code after 40 s: $(cat "$tmp/put.out")"
}
# lines FROM TO: the source file's lines, each unique, of varied length.
lines() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		for (i = from; i <= to; i++) {
			s = sprintf("line %05d:", i)
			for (j = 0; j < i % 13; j++) s = s " w" (i * 7 + j) % 1000
			print s
		}
	}'
}
# wait_sink SECONDS: until the sink file equals the source file.
wait_sink() {
	local deadline=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if cmp -s "$tmp/source.txt" "$tmp/sink.txt"; then return 0; fi
		kill -0 "$worker_pid" 2>/dev/null || fail "the worker exited: $(first_error)"
		sleep 0.2
	done
	return 1
}
# sink_report: why the sink file differs from the source file.
sink_report() {
	local dups
	dups=$(sort "$tmp/sink.txt" 2>/dev/null | uniq -d | wc -l)
	echo "source $(wc -l <"$tmp/source.txt") lines, sink $(wc -l <"$tmp/sink.txt" 2>/dev/null || echo 0) lines ($dups repeated); connectors: $(curl -s "$rest/connectors?expand=status" | head -c 600); last error logged: $(first_error)"
}

lines 1 3000 >"$tmp/source.txt"
: >"$tmp/sink.txt"
start_worker 1
put_connector "$prefix-source" "{
	\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSourceConnector\",
	\"tasks.max\": \"1\",
	\"file\": \"$tmp/source.txt\",
	\"topic\": \"$prefix-lines\",
	\"topic.creation.default.partitions\": \"1\",
	\"topic.creation.default.replication.factor\": \"1\"
}"
put_connector "$prefix-sink" "{
	\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSinkConnector\",
	\"tasks.max\": \"1\",
	\"topics\": \"$prefix-lines\",
	\"file\": \"$tmp/sink.txt\"
}"
wait_sink 60 || fail "first run: the sink file did not match the source within 60 s: $(sink_report)"
echo "first run: 3000 lines copied (${SECONDS}s)"

# The internal topics: created by the worker, compacted.
java "${java_opts[@]}" -cp "$classes:$lib/*" CompatAdmin "$boot" describe "${internal[@]}" >"$tmp/internal" 2>"$tmp/internal.err" ||
	fail "describing the internal topics failed: $(tail -1 "$tmp/internal.err")"
for t in "${internal[@]}"; do
	grep -q "^$t partitions=[0-9]* cleanup.policy=compact$" "$tmp/internal" ||
		fail "internal topic $t: $(grep "^$t " "$tmp/internal" || echo "not described"), want cleanup.policy=compact"
done
echo "internal topics compacted: $(tr '\n' ';' <"$tmp/internal")"

stop_worker 30 || fail "the worker did not stop within 30 s of SIGTERM"
lines 3001 5000 >>"$tmp/source.txt"
start_worker 2
wait_sink 60 || fail "after the restart: the sink file did not match the source within 60 s: $(sink_report)"
[ -z "$(sort "$tmp/sink.txt" | uniq -d)" ] || fail "repeated lines in the sink"
echo "after restart: all 5000 lines copied once, byte-identical (${SECONDS}s)"
stop_worker 30 || fail "the worker did not stop within 30 s of SIGTERM"
