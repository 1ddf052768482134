#!/usr/bin/env bash
# Kafka Streams (kafka-streams from Maven Central) against a Strata agent:
# compat/java/src/WordCount.java, a word count into a KTable.
#
# Usage: compat/java/streams_check.sh BOOTSTRAP PREFIX LIBDIR CLASSDIR [MODE]
#
# MODE at-least-once (the default): produces a known text (kcat) to a
# 2-partition input topic, runs WordCount and waits until the latest count
# per word on the output topic equals the exact count of that word in the
# text. Checks that Streams created its changelog topic compacted. Then stops
# the app (a clean close), wipes its state directory, produces more text and
# starts it again: it must restore its store from the changelog (reported by
# its restore listener) and end with the exact counts of all the text
# produced. Under at-least-once a count may appear more than once on the
# output; only the last one per word counts.
#
# MODE exactly-once: WordCount with processing.guarantee=exactly_once_v2.
# Once it has counted a first text, more text is fed to the input for a few
# seconds; while the app is counting it (its committed counts have moved
# past the first text), the app is killed with SIGKILL, mid-transaction, and
# started again on the same state directory, which SIGKILL left without a
# checkpoint: it must restore its store from the changelog up to the last
# committed transaction and end with the exact counts of all the text. Read
# with read_committed, the output must show every word's counts strictly
# increasing: no count emitted twice, as reprocessing after the kill would
# under at-least-once.
#
# Exits 0 on success, or prints the reason last ("FAIL: ...") and exits 1.
set -euo pipefail

boot=$1 prefix=$2 lib=$3 classes=$4 mode=${5:-at-least-once}
tmp=$(mktemp -d)
app_pid="" app_log="" feed=""
cleanup() {
	if [ -n "$feed" ]; then kill "$feed" 2>/dev/null || true; fi
	stop_app 10 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/jvm.sh"
java_opts+=(-cp "$classes:$lib/*")
app=$prefix-wordcount guarantee=at_least_once
[ "$mode" = exactly-once ] && guarantee=exactly_once_v2
input=$prefix-text output=$prefix-counts
changelog=$app-word-counts-changelog

# text SEED LINES: lines of lower-case words from a 60-word vocabulary,
# single spaces, skewed frequencies (a fixed Park-Miller sequence).
text() {
	awk -v seed="$1" -v n="$2" 'BEGIN {
		split("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu one two three four five six seven eight nine ten red orange yellow green blue indigo violet black white grey north south east west up down left right in out sun moon star sky", v, " ")
		x = seed
		for (i = 0; i < n; i++) {
			x = (x * 16807) % 2147483647
			k = 3 + x % 9
			s = ""
			for (j = 0; j < k; j++) {
				x = (x * 16807) % 2147483647
				r = x % 3600
				w = v[1 + int(sqrt(r))] # word i has weight ~ 2i+1
				s = (j ? s " " : "") w
			}
			print s
		}
	}'
}
# expected FILE: "word count" lines, sorted, for the words in FILE.
expected() { tr ' ' '\n' <"$1" | grep -v '^$' | sort | uniq -c | awk '{ print $2, $1 }' | sort; }
# counts: "word count" lines, every count on the output in offset order per
# partition (a word's counts are all in one partition), read_committed.
counts() {
	timeout 30 kcat -C -b "$boot" -t "$output" -o beginning -e -q -X isolation.level=read_committed \
		-f '%k %s\n' -s key=s -s value=Q 2>"$tmp/kcat.err"
}
# latest: "word count" lines, sorted: the last count per word on the output.
latest() { counts | awk '{ last[$1] = $2 } END { for (w in last) print w, last[w] }' | sort; }
produce() { # FILE
	timeout 30 kcat -P -b "$boot" -t "$input" -X acks=all <"$1" 2>"$tmp/kcat.err" ||
		fail "kcat produce: $(tail -1 "$tmp/kcat.err")"
}
start_app() { # N
	app_log=$tmp/app.$1.log
	# Its own java.io.tmpdir: RocksDB unpacks its native library there, and
	# Streams warns about a state.dir inside the system temp directory.
	mkdir -p "$tmp/jvm"
	java "${java_opts[@]}" "-Djava.io.tmpdir=$tmp/jvm" WordCount "$boot" "$app" "$input" "$output" "$tmp/state" "$guarantee" >"$app_log" 2>&1 &
	app_pid=$!
}
# stop_app SECONDS: SIGTERM, on which WordCount closes Streams (committing
# what it processed) and exits; killed if still running after SECONDS (and
# then returns 1).
stop_app() {
	[ -n "$app_pid" ] || return 0
	local pid=$app_pid
	app_pid=""
	stop_jvm "$pid" "$1"
}
# stop_clean: stop_app, which must end in a clean close.
stop_clean() {
	stop_app 40 || fail "WordCount did not stop within 40 s of SIGTERM"
	grep -q '^[0-9.]* closed clean$' "$app_log" || fail "WordCount did not close cleanly: $(tail -1 "$app_log")"
}
# wait_counts WANTFILE SECONDS: until the latest counts equal WANTFILE.
wait_counts() {
	local deadline=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$deadline" ]; do
		latest >"$tmp/got"
		if cmp -s "$1" "$tmp/got"; then return 0; fi
		if ! kill -0 "$app_pid" 2>/dev/null; then
			grep -A3 'uncaught exception' "$app_log" | head -4 >&2 || true
			fail "WordCount exited: $(grep -m1 -A1 'uncaught exception' "$app_log" | tail -1 | head -c 300)"
		fi
		sleep 0.5
	done
	return 1
}
# records TOPIC ISOLATION: how many records that consumer sees in TOPIC.
records() { timeout 30 kcat -C -b "$boot" -t "$1" -o beginning -e -q -X isolation.level="$2" -f '%o\n' 2>/dev/null | wc -l; }
# total_count: the sum of the latest counts (read_committed).
total_count() { latest | awk '{ n += $2 } END { print n + 0 }'; }
# wait_running SECONDS: until the app's log says it is RUNNING.
wait_running() {
	local deadline=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if grep -q ' state REBALANCING -> RUNNING$' "$app_log"; then return 0; fi
		kill -0 "$app_pid" 2>/dev/null || fail "WordCount exited: $(tail -1 "$app_log")"
		sleep 0.2
	done
	return 1
}
# diff_report WANTFILE: the first differences between WANTFILE and the output.
diff_report() {
	echo "$(wc -l <"$tmp/got") words on the output, want $(wc -l <"$1"); first differences (want < > got): $(diff "$1" "$tmp/got" | grep '^[<>]' | head -4 | tr '\n' ' ')"
}

java "${java_opts[@]}" CompatAdmin "$boot" create 2 "$input" "$output" >"$tmp/create" 2>"$tmp/create.err" ||
	fail "creating $input and $output: $(tail -1 "$tmp/create.err")"

case $mode in
at-least-once)
	text 1 1500 >"$tmp/text1"
	produce "$tmp/text1"
	expected "$tmp/text1" >"$tmp/want1"
	start_app 1
	wait_counts "$tmp/want1" 75 || fail "first run: counts not exact within 75 s: $(diff_report "$tmp/want1")"
	echo "first run: $(wc -l <"$tmp/want1") words, $(wc -w <"$tmp/text1") occurrences, counts exact (${SECONDS}s)"

	java "${java_opts[@]}" CompatAdmin "$boot" describe "$changelog" >"$tmp/changelog" 2>"$tmp/changelog.err" ||
		fail "describing $changelog: $(tail -1 "$tmp/changelog.err")"
	grep -q "^$changelog partitions=2 cleanup.policy=compact$" "$tmp/changelog" ||
		fail "changelog topic: $(cat "$tmp/changelog"), want 2 partitions, cleanup.policy=compact"

	stop_clean
	rm -rf "$tmp/state"
	text 2 1000 >"$tmp/text2"
	produce "$tmp/text2"
	cat "$tmp/text1" "$tmp/text2" >"$tmp/all"
	expected "$tmp/all" >"$tmp/want2"
	start_app 2
	wait_counts "$tmp/want2" 75 || fail "after wiping the state and restarting: counts not exact within 75 s: $(diff_report "$tmp/want2")"
	# The store came back from the changelog, not from nothing: with an empty
	# store the counts could not be exact, but say so plainly.
	restored=$(awk '$2 == "restored" && $3 == "word-counts" { n += $5 } END { print n + 0 }' "$app_log")
	[ "$restored" -gt 0 ] || fail "after the restart WordCount restored no records from $changelog"
	echo "after restart: restored $restored records from the changelog; $(wc -l <"$tmp/want2") words, $(wc -w <"$tmp/all") occurrences, counts exact (${SECONDS}s)"
	stop_clean
	;;
exactly-once)
	text 1 1500 >"$tmp/text1"
	produce "$tmp/text1"
	expected "$tmp/text1" >"$tmp/want1"
	start_app 1
	wait_counts "$tmp/want1" 75 || fail "first run: counts not exact within 75 s: $(diff_report "$tmp/want1")"
	echo "first run: $(wc -w <"$tmp/text1") occurrences counted exactly (${SECONDS}s)"
	# The feed: 2,400 more lines in 40 pieces over about 10 s.
	text 2 2400 >"$tmp/text2"
	cat "$tmp/text1" "$tmp/text2" >"$tmp/all"
	expected "$tmp/all" >"$tmp/want2"
	total=$(wc -w <"$tmp/all") base=$(wc -w <"$tmp/text1")
	(
		for i in $(seq 0 39); do
			sed -n "$((i * 60 + 1)),$((i * 60 + 60))p" "$tmp/text2"
			sleep 0.25
		done
	) | timeout 60 kcat -P -b "$boot" -t "$input" -X acks=all 2>"$tmp/feed.err" &
	feed=$!
	# SIGKILL 3 s into the feed. (Not on what the output shows: a consumer
	# reaching the end of the output while transactions keep committing
	# waits for a quiet moment.)
	sleep 3
	kill -9 "$app_pid"
	wait "$app_pid" 2>/dev/null || true
	app_pid=""
	feeding=no
	if kill -0 "$feed" 2>/dev/null; then feeding=yes; fi
	# What the killed app committed (a transaction it left open holds the
	# last stable offset: read_committed stops before it), and what it wrote
	# in that transaction to the repartition topic and the output (only
	# read_uncommitted sees it).
	at_kill=$(total_count)
	open_records=0
	for t in "$app-word-counts-repartition" "$output"; do
		open_records=$((open_records + $(records "$t" read_uncommitted) - $(records "$t" read_committed)))
	done
	[ "$at_kill" -lt "$total" ] || fail "the app had counted all the text when it was killed: not killed mid-run"
	echo "killed with SIGKILL with $at_kill of $total occurrences committed, $open_records records of its open transaction in the repartition topic and the output, feed still running: $feeding (${SECONDS}s)"
	start_app 2
	wait_running 60 || fail "the restarted app did not reach RUNNING within 60 s: $(tail -1 "$app_log")"
	wait "$feed" || fail "feeding the input: $(tail -1 "$tmp/feed.err")"
	feed=""
	wait_counts "$tmp/want2" 90 || fail "after the SIGKILL and restart: counts not exact within 90 s: $(diff_report "$tmp/want2")"
	restored=$(awk '$2 == "restored" && $3 == "word-counts" { n += $5 } END { print n + 0 }' "$app_log")
	[ "$restored" -gt 0 ] || fail "after the SIGKILL the restarted app restored nothing from $changelog"
	# Strictly increasing counts per word under read_committed.
	counts >"$tmp/seq"
	repeats=$(awk '$1 in last && $2 <= last[$1] { n++; if (!ex) ex = $1 " " last[$1] " then " $2 } { last[$1] = $2 } END { print n + 0, ex }' "$tmp/seq")
	[ "${repeats%% *}" = 0 ] || fail "counts not strictly increasing on the output (read_committed): ${repeats%% *} repeats, e.g. ${repeats#* }"
	echo "exactly-once: after SIGKILL mid-run and a restart (restored $restored records from the changelog), $(wc -l <"$tmp/want2") words, $(wc -w <"$tmp/all") occurrences counted exactly; $(wc -l <"$tmp/seq") committed counts on the output, each word's strictly increasing (${SECONDS}s)"
	stop_clean
	;;
*)
	fail "unknown mode $mode"
	;;
esac
