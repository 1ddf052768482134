#!/usr/bin/env bash
# Apache Kafka's own CLI tools (Java, kafka-tools/kafka_2.13 from Maven
# Central) against a Strata agent.
#
# Usage: compat/java/cli_checks.sh CHECK BOOTSTRAP PREFIX LIBDIR
#
# Each check exits 0 on success, or prints the reason last and exits 1.
# Every tool run is bounded by `timeout`.
set -euo pipefail

check=$1 boot=$2 prefix=$3 lib=$4
# Warnings and errors only, on stderr (Log4j 2 is the SLF4J binding).
log4j=-Dlog4j2.configurationFile=$(cd "$(dirname "$0")" && pwd)/log4j2.properties
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# kt MAINCLASS ARGS...: one tool run, 60 s at most, stderr kept in $tmp/err.
kt() {
	timeout --kill-after=5 60 java -XX:TieredStopAtLevel=1 -Xss1m "$log4j" -cp "$lib/*" "$@" 2>"$tmp/err" || {
		rc=$?
		cat "$tmp/err" >&2
		fail "$1 exited $rc"
	}
}
topics() { kt org.apache.kafka.tools.TopicCommand --bootstrap-server "$boot" "$@"; }
groups() { kt org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$boot" "$@"; }
configs() { kt kafka.admin.ConfigCommand --bootstrap-server "$boot" "$@"; }
produce() { # TOPIC < lines "key:value"
	kt org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$boot" --topic "$1" \
		--property parse.key=true --property key.separator=: --producer-property acks=all
}
consume() { # TOPIC GROUP N: prints "offset<TAB>key:value" lines
	kt org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$boot" --topic "$1" --group "$2" \
		--from-beginning --max-messages "$3" --timeout-ms 20000 \
		--property print.key=true --property key.separator=: --property print.offset=true |
		sed -n 's/^Offset:\([0-9]*\):/\1\t/p'
}
lines() { # N: the records the producer sends, "key-I:value I ..."
	for i in $(seq 0 $(($1 - 1))); do echo "key-$((i % 7)):value $i with some text $((i * i))"; done
}
# describe_parts TOPIC: the PartitionCount kafka-topics --describe reports.
describe_parts() { topics --describe --topic "$1" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p'; }

case $check in
topics)
	t=$prefix-topics
	topics --create --topic "$t" --partitions 2 --replication-factor 1 | grep -q "Created topic $t" || fail "create: no confirmation"
	[ "$(describe_parts "$t")" = 2 ] || fail "describe after create: PartitionCount $(describe_parts "$t"), want 2"
	# Creating it again fails (TopicExistsException) with a non-zero exit.
	if timeout 60 java "$log4j" -cp "$lib/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$boot" \
		--create --topic "$t" --partitions 2 >"$tmp/again" 2>&1; then
		fail "second --create succeeded"
	fi
	grep -q "already exists" "$tmp/again" || fail "second --create: $(tail -1 "$tmp/again")"
	topics --alter --topic "$t" --partitions 5
	[ "$(describe_parts "$t")" = 5 ] || fail "describe after --alter: PartitionCount $(describe_parts "$t"), want 5"
	[ "$(topics --describe --topic "$t" | grep -c 'Leader: 1')" = 5 ] || fail "describe: not every partition has leader 1"
	topics --list | grep -qx "$t" || fail "--list does not show $t"
	;;
console-round-trip)
	t=$prefix-console
	topics --create --topic "$t" --partitions 1 --replication-factor 1 >/dev/null
	lines 200 >"$tmp/in"
	produce "$t" <"$tmp/in"
	consume "$t" "$prefix-console-group" 200 >"$tmp/out"
	# One partition: the records come back in order, at offsets 0..199.
	awk '{ print NR - 1 "\t" $0 }' "$tmp/in" >"$tmp/want"
	cmp -s "$tmp/want" "$tmp/out" || fail "consumed records differ from produced: $(diff "$tmp/want" "$tmp/out" | head -3 | tr '\n' ' ')"
	;;
consumer-groups)
	t=$prefix-cg g=$prefix-cg-group
	topics --create --topic "$t" --partitions 1 --replication-factor 1 >/dev/null
	lines 30 | produce "$t"
	consume "$t" "$g" 30 >/dev/null # commits 30 when it closes
	groups --describe --group "$g" >"$tmp/desc"
	# GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
	awk -v t="$t" '$2 == t && $3 == 0 { print $4, $5, $6 }' "$tmp/desc" | grep -qx '30 30 0' ||
		fail "describe: want current 30, end 30, lag 0; got: $(grep "$t" "$tmp/desc")"
	groups --list | grep -qx "$g" || fail "--list does not show $g"
	groups --reset-offsets --to-earliest --execute --group "$g" --topic "$t" >"$tmp/reset"
	awk -v t="$t" '$2 == t && $3 == 0 { print $4 }' "$tmp/reset" | grep -qx 0 || fail "reset: $(cat "$tmp/reset")"
	groups --describe --group "$g" >"$tmp/desc"
	awk -v t="$t" '$2 == t && $3 == 0 { print $4, $6 }' "$tmp/desc" | grep -qx '0 30' ||
		fail "describe after reset: want current 0, lag 30; got: $(grep "$t" "$tmp/desc")"
	# The group reads from the start again.
	consume "$t" "$g" 1 | grep -q "^0	key-0:value 0 " || fail "after reset the group did not resume at offset 0"
	;;
configs)
	t=$prefix-configs
	topics --create --topic "$t" --partitions 1 --replication-factor 1 >/dev/null
	configs --alter --entity-type topics --entity-name "$t" --add-config retention.ms=123456,max.message.bytes=2000000 |
		grep -q "Completed updating config" || fail "alter: no confirmation"
	configs --describe --entity-type topics --entity-name "$t" >"$tmp/desc"
	grep -q '^  retention.ms=123456 ' "$tmp/desc" || fail "describe after alter: $(tr '\n' ' ' <"$tmp/desc")"
	grep -q '^  max.message.bytes=2000000 ' "$tmp/desc" || fail "describe after alter: $(tr '\n' ' ' <"$tmp/desc")"
	configs --alter --entity-type topics --entity-name "$t" --delete-config retention.ms >/dev/null
	configs --describe --entity-type topics --entity-name "$t" >"$tmp/desc"
	if grep -q 'retention.ms=123456' "$tmp/desc"; then fail "retention.ms still set after --delete-config"; fi
	# An invalid value is refused (INVALID_CONFIG): non-zero exit.
	if timeout 60 java "$log4j" -cp "$lib/*" kafka.admin.ConfigCommand --bootstrap-server "$boot" --alter --entity-type topics \
		--entity-name "$t" --add-config cleanup.policy=nonsense >"$tmp/bad" 2>&1; then
		fail "invalid cleanup.policy accepted"
	fi
	;;
*)
	fail "unknown check $check"
	;;
esac
