#!/usr/bin/env bash
# compat/run.sh — Strata against Kafka clients nobody on this team wrote.
#
#   compat/run.sh            (from any directory; scripts/test.sh runs it)
#
# Builds the agent, starts ONE agent on a free 127.0.0.1 port with a temp
# data dir and --auto-create-topics, then runs every check of every client
# against it, each with its own topic and group names and a hard time
# limit. Prints `PASS name` or `FAIL name: reason` per check, writes
# compat/MATRIX.md (and its copy in README.md), and ends with
# `N passed, N failed`; exits 1 on any failure.
#
# Clients are pinned (compat/python/requirements.txt, compat/node/
# package.json, compat/java/pom.xml, franz-go from go.mod) and installed
# outside the clone under ${STRATA_CACHE:-$HOME/.cache/strata}/compat/,
# keyed by the hash of the file that pins them, so a warm run installs
# nothing; so do the Java programs of compat/java/src, compiled against
# those jars. An install that fails fails that client's checks. The runtimes
# they need (python3-venv, Node.js and npm, a Java runtime and javac, Maven,
# kcat, curl) are
# installed from Debian's packages first when missing, by
# scripts/install-tools.sh. How long this step takes, cold and warm:
# README.md, "Quick start".
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
cache=${STRATA_CACHE:-$HOME/.cache/strata}/compat
mkdir -p "$cache"
work=$(mktemp -d /tmp/strata-compat.XXXXXX)
agent_pid=""
cleanup() {
	if [ -n "$agent_pid" ]; then
		kill "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

franzgo_version=$(go list -m -f '{{.Version}}' github.com/twmb/franz-go)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' compat/java/pom.xml)
confluent_version=$(sed -n 's/^confluent-kafka==//p' compat/python/requirements.txt)
kafkapython_version=$(sed -n 's/^kafka-python==//p' compat/python/requirements.txt)
kafkajs_version=$(sed -n 's/.*"kafkajs": "\(.*\)".*/\1/p' compat/node/package.json)

hash() { sha256sum "$@" | sha256sum | cut -c1-12; }
log() { printf '%s\n' "$*" >&2; }

# --- Installs (cached) -----------------------------------------------------
install_start=$SECONDS
scripts/install-tools.sh venv node java javac maven kcat curl
# Each sets a variable to the installed location, or leaves it empty (and
# the reason in $work/install.<client>) when the install failed.
py_venv="$cache/venv-$(hash compat/python/requirements.txt)"
if [ ! -e "$py_venv/.ok" ]; then
	log "installing Python clients into $py_venv"
	rm -rf "$py_venv"
	if python3 -m venv "$py_venv" >"$work/install.python" 2>&1 &&
		timeout 600 "$py_venv/bin/pip" install -q --disable-pip-version-check -r compat/python/requirements.txt >>"$work/install.python" 2>&1; then
		touch "$py_venv/.ok"
	fi
fi
[ -e "$py_venv/.ok" ] || py_venv=""

npm_dir="$cache/npm-$(hash compat/node/package.json)"
if [ ! -e "$npm_dir/.ok" ]; then
	log "installing kafkajs into $npm_dir"
	rm -rf "$npm_dir" && mkdir -p "$npm_dir"
	cp compat/node/package.json "$npm_dir/"
	if (cd "$npm_dir" && timeout 600 npm install --no-audit --no-fund --no-package-lock --omit=dev) >"$work/install.node" 2>&1; then
		touch "$npm_dir/.ok"
	fi
fi
[ -e "$npm_dir/.ok" ] || npm_dir=""

kafka_lib="$cache/kafka-$kafka_version-$(hash compat/java/pom.xml)/lib"
if [ ! -e "$kafka_lib/.ok" ]; then
	log "resolving Kafka $kafka_version jars into $kafka_lib"
	rm -rf "$kafka_lib"
	if timeout 900 mvn -B -q -f compat/java/pom.xml -Dmaven.repo.local="$cache/m2" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_lib" >"$work/install.java" 2>&1; then
		touch "$kafka_lib/.ok"
	fi
fi
[ -e "$kafka_lib/.ok" ] || kafka_lib=""

# The Java programs of the Connect and Streams checks (compat/java/src),
# compiled against those jars.
java_classes=""
if [ -n "$kafka_lib" ]; then
	java_classes="$cache/java-classes-$(hash compat/java/pom.xml compat/java/src/*.java)"
	if [ ! -e "$java_classes/.ok" ]; then
		log "compiling compat/java/src into $java_classes"
		rm -rf "$java_classes" && mkdir -p "$java_classes"
		if javac --release 17 -d "$java_classes" -cp "$kafka_lib/*" compat/java/src/*.java >"$work/install.javac" 2>&1; then
			touch "$java_classes/.ok"
		fi
	fi
	[ -e "$java_classes/.ok" ] || java_classes=""
fi
log "client installs: $((SECONDS - install_start))s"
# "1.7.1" and "2.0.2": kcat's version and its librdkafka's.
kcat_version=$(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\) .*librdkafka \([^ ]*\) .*/\1 (librdkafka \2)/p')

# --- The agent ---------------------------------------------------------------
log "building the agent"
go build -o "$work/strata" ./cmd/strata
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_agent() {
	port=$(free_port)
	boot=127.0.0.1:$port
	# A second listener with SASL (SCRAM) for franz-go's TestSCRAMAuth and
	# TestSCRAMAuthBadCredentials (KGO_TEST_SCRAM_SEEDS below).
	sasl_port=$(free_port)
	sasl_boot=127.0.0.1:$sasl_port
	# --flush-interval 10ms: acks=all answers once the batch is in object
	# storage, at most one flush interval later; franz-go's
	# TestClient_Produce makes 20,000 sequential-ish ProduceSync calls, which
	# at the 100ms default take minutes instead of seconds.
	"$work/strata" agent --listeners "PLAINTEXT://$boot,SASL_PLAINTEXT://$sasl_boot" --admin-listen off --data-dir "$work/data" \
		--auto-create-topics --flush-interval 10ms >"$work/agent.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 1 300); do
		if grep -q 'msg="agent started"' "$work/agent.log" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
for attempt in 1 2 3; do
	if start_agent; then break; fi
	kill "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=""
	if [ "$attempt" = 3 ] || ! grep -q "address already in use" "$work/agent.log"; then
		log "the agent did not start:"
		tail -20 "$work/agent.log" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
log "agent on $boot, SASL_PLAINTEXT on $sasl_boot (data in $work/data)"
# A SCRAM user for franz-go's SCRAM tests, added while the agent runs.
printf 'compat-secret\n' >"$work/scram-password"
"$work/strata" users add compat --mechanism SCRAM-SHA-256 --password-file "$work/scram-password" --data-dir "$work/data" >/dev/null
export KGO_TEST_SCRAM_SEEDS=$sasl_boot KGO_TEST_SCRAM=compat:compat-secret:256

# --- Checks ------------------------------------------------------------------
passed=0 failed=0
results=$work/results # name<TAB>PASS|FAIL<TAB>detail

# check NAME SECONDS CMD...: runs CMD (its output kept), PASS on exit 0.
check() {
	local name=$1 limit=$2
	shift 2
	local out="$work/out.${name//\//_}" reason
	local start=$SECONDS
	if timeout --kill-after=5 "$limit" "$@" >"$out" 2>&1; then
		echo "PASS $name"
		log "    ($((SECONDS - start))s)"
		printf '%s\tPASS\t%s\n' "$name" "$(tail -1 "$out")" >>"$results"
		passed=$((passed + 1))
	else
		local rc=$?
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			reason="timed out after ${limit}s; last output: $(grep -v '^\s*$' "$out" | tail -1)"
		else
			reason=$(grep -h '^FAIL' "$out" | tail -1)
			reason=${reason#FAIL: }
			[ -n "$reason" ] || reason="exit $rc: $(grep -v '^\s*$' "$out" | tail -1)"
		fi
		echo "FAIL $name: $reason"
		printf '%s\tFAIL\t%s\n' "$name" "$reason" >>"$results"
		failed=$((failed + 1))
		sed 's/^/    | /' "$out" | tail -25
	fi
}
# install_failed NAME CLIENT: the check fails because its client did not install.
install_failed() {
	echo "FAIL $1: could not install $2: $(tail -1 "$work/install.$2" 2>/dev/null)"
	printf '%s\tFAIL\tinstall failed\n' "$1" >>"$results"
	failed=$((failed + 1))
}

# 1. confluent-kafka-python (librdkafka)
for c in admin-create-topic produce-consume group-commit transactions; do
	if [ -n "$py_venv" ]; then
		check "confluent-kafka-python/$c" 90 "$py_venv/bin/python" compat/python/confluent_checks.py "$c" "$boot" "ckp-$c"
	else
		install_failed "confluent-kafka-python/$c" python
	fi
done

# 2. kafka-python
for c in produce-consume group-commit; do
	if [ -n "$py_venv" ]; then
		check "kafka-python/$c" 90 "$py_venv/bin/python" compat/python/kafka_python_checks.py "$c" "$boot" "kp-$c"
	else
		install_failed "kafka-python/$c" python
	fi
done

# 3. kafkajs
for c in admin-create-topic produce-consume group-commit transactions; do
	if [ -n "$npm_dir" ]; then
		check "kafkajs/$c" 100 env NODE_PATH="$npm_dir/node_modules" node compat/node/kafkajs_checks.js "$c" "$boot" "kjs-$c"
	else
		install_failed "kafkajs/$c" node
	fi
done

# 3b. kcat (Debian's, on Debian's librdkafka): its transactional producer
# and read_committed consumer (compat/kcat_checks.sh; the topic is created
# with confluent-kafka-python's admin client)
if [ -n "$py_venv" ]; then
	check "kcat/transactions" 90 compat/kcat_checks.sh transactions "$boot" kcat "$py_venv/bin/python"
else
	install_failed "kcat/transactions" python
fi

# 4. Apache Kafka's Java client, through its CLI tools
for c in topics console-round-trip consumer-groups configs; do
	if [ -n "$kafka_lib" ]; then
		check "kafka-cli/$c" 180 compat/java/cli_checks.sh "$c" "$boot" "kcli-$c" "$kafka_lib"
	else
		install_failed "kafka-cli/$c" java
	fi
done

# 5. Kafka Connect in distributed mode, FileStreamSource -> topic ->
# FileStreamSink, across a worker restart (compat/java/connect_check.sh)
# 6. Kafka Streams word count into a KTable, restored from its changelog
# after its state is wiped, and again under exactly_once_v2 across a SIGKILL
# (compat/java/streams_check.sh)
# 7. the Java client's transactions: a consume-transform-produce loop
# (compat/java/txn_check.sh)
for c in kafka-connect/distributed-file-round-trip:connect_check.sh:kconnect: \
	kafka-streams/wordcount-ktable:streams_check.sh:kstreams:at-least-once \
	kafka-streams/wordcount-exactly-once-sigkill:streams_check.sh:kstreams-eos:exactly-once \
	kafka-clients/transactions:txn_check.sh:kclients-txn:; do
	IFS=: read -r name script prefix mode <<<"$c"
	if [ -n "$java_classes" ]; then
		check "$name" 180 "compat/java/$script" "$boot" "$prefix" "$kafka_lib" "$java_classes" ${mode:+"$mode"}
	elif [ -n "$kafka_lib" ]; then
		install_failed "$name" javac
	else
		install_failed "$name" java
	fi
done

# 8. franz-go's own kgo integration tests (see compat/franz-go.sh)
check "franz-go/kgo-integration" 600 compat/franz-go.sh "$boot" "$franzgo_version" "$work/franz-go"

# --- Matrix --------------------------------------------------------------------
status() { # NAME: pass / FAIL / not tested yet
	local s
	s=$(awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$results")
	case $s in
	PASS) echo "pass" ;;
	FAIL) echo "**FAIL**" ;;
	*) echo "not tested yet" ;;
	esac
}
fg_counts=$(sed -n 's/^franz-go kgo tests: //p' "$work/franz-go/summary" 2>/dev/null || true)
{
	echo "<!-- generated by compat/run.sh; do not edit by hand -->"
	echo "Generated by \`compat/run.sh\` (run by \`scripts/test.sh\`, so on every CI run) against one"
	echo "agent on embedded backends. \"pass\" means the check asserted real outcomes: records,"
	echo "keys, headers and bytes equal, offsets, committed offsets, error codes."
	echo
	echo "| client | version | create topics | produce | consume | consumer group + commit | admin tools | transactions |"
	echo "|---|---|---|---|---|---|---|---|"
	pc=$(status confluent-kafka-python/produce-consume)
	echo "| confluent-kafka-python (librdkafka) | $confluent_version | $(status confluent-kafka-python/admin-create-topic) | $pc (keys, headers, idempotent, acks=all) | $pc (assign from beginning) | $(status confluent-kafka-python/group-commit) | not tested yet | $(status confluent-kafka-python/transactions) (\`init_transactions\`; committed, aborted and open transactions across 2 partitions, \`send_offsets_to_transaction\`: the group's offset is the committed one's; \`isolation.level=read_committed\` sees exactly the committed records and ends at the last stable offset while one is open, \`read_uncommitted\` sees all) |"
	pc=$(status kafka-python/produce-consume)
	echo "| kafka-python | $kafkapython_version | $pc | $pc (keys, headers) | $pc (assign, seek to beginning, end offsets) | $(status kafka-python/group-commit) | not tested yet | not tested yet |"
	pc=$(status kafkajs/produce-consume)
	echo "| kafkajs | $kafkajs_version | $(status kafkajs/admin-create-topic) | $pc (keys, headers, idempotent) | $pc (group, from beginning) | $(status kafkajs/group-commit) | not tested yet | $(status kafkajs/transactions) (\`producer.transaction()\`: send + commit, send + abort, \`sendOffsets\`; a group member with the default \`readUncommitted: false\` sees only the committed records, \`readUncommitted: true\` all) |"
	echo "| kcat (Debian's) | ${kcat_version:-not installed} | | (in \`go test\`) | (in \`go test\`) | | | $(status kcat/transactions) (\`-X transactional.id\`: one transaction per run, committed at the end of input; one left open by SIGKILL is aborted by the next run's InitProducerId; \`-X isolation.level=read_committed\` sees exactly the committed records, at their offsets, and stops before the open one. A client abort is not tested: kcat aborts only on a signal, which 1.7.1 notices once more input arrives) |"
	rt=$(status kafka-cli/console-round-trip)
	echo "| Apache Kafka CLI tools + Java client | $kafka_version | $(status kafka-cli/topics) (kafka-topics --create/--describe/--alter/--list) | $rt (console producer) | $rt (console consumer) | $(status kafka-cli/consumer-groups) (kafka-consumer-groups --describe/--list/--reset-offsets) | $(status kafka-cli/configs) (kafka-configs --describe/--alter) | $(status kafka-clients/transactions) (KafkaProducer: \`initTransactions\`, \`sendOffsetsToTransaction\` with the group member's metadata, commit, abort, a zombie fenced by a second \`initTransactions\`: ProducerFencedException; a read_committed KafkaConsumer sees each transformed record once) |"
	kc=$(status kafka-connect/distributed-file-round-trip)
	echo "| Kafka Connect, distributed mode (connect-runtime, connect-file) | $kafka_version | $kc (the worker creates its config, offset and status topics, compacted; the source's topic by topic.creation) | $kc (FileStreamSource, 5,000 lines, connectors created through the REST API) | $kc (FileStreamSink: the file comes back byte-identical) | $kc (worker group; source offsets and sink commits survive a worker restart: no line lost or repeated) | | not tested yet (exactly-once source support) |"
	ks=$(status kafka-streams/wordcount-ktable)
	echo "| Kafka Streams | $kafka_version | $ks (repartition and changelog topics; the changelog compacted) | $ks (word count into a KTable, at-least-once) | $ks (latest count per word exact) | $ks (static member; state wiped and restored from the changelog, counts still exact) | | $(status kafka-streams/wordcount-exactly-once-sigkill) (\`processing.guarantee=exactly_once_v2\`: SIGKILL mid-run with input still arriving, restarted, store restored from the changelog; counts exact and every word's counts strictly increasing under read_committed) |"
	echo "| franz-go pkg/kgo test suite | $franzgo_version | ${fg_counts:-no result}; expected list: $(status franz-go/kgo-integration) (details below) | | | | | TestTxnEtl (GroupTransactSession: exactly-once consume-transform-produce) in the expected list |"
	echo
	echo "franz-go: its own \`pkg/kgo\` tests (unit and integration, top-level tests counted)"
	echo "run against the agent by \`compat/franz-go.sh\`. CI fails if any test listed in"
	echo "\`compat/franz-go-expected.txt\` does not pass. Not passing:"
	echo
	if [ -s "$work/franz-go/results" ]; then
		awk -F'\t' '$2 != "pass" { print $1 "\t" $2 }' "$work/franz-go/results" | while IFS=$'\t' read -r t s; do
			case $t in
			TestConsumeRegex) why="fails: Metadata does not list the internal topic \`__consumer_offsets\`" ;;
			Test848* | *848*) why="skips itself: KIP-848 consumer groups (ConsumerGroupHeartbeat) not supported" ;;
			*Share*) why="skips itself: share groups (KIP-932) not supported" ;;
			*SCRAM*) why="skips itself: needs SASL/SCRAM (not supported)" ;;
			*) why="$s" ;;
			esac
			echo "- \`$t\`: $why"
		done
	else
		echo "- (no results: the run did not complete)"
	fi
	echo
	echo "Also tested by \`go test\` (not by compat/run.sh): franz-go kgo/kadm $franzgo_version in"
	echo "\`agent/*_test.go\` and \`cmd/strata/*_test.go\` (every codec, acks 0/1/all, idempotence,"
	echo "eager and cooperative-sticky groups, static members, every admin API in the table), and"
	echo "kcat / librdkafka from Debian in \`cmd/strata/kcat_test.go\`."
	echo
	echo "Not tested yet: sarama, Kafka Connect's exactly-once source support, KIP-848 consumer groups."
} >compat/MATRIX.md

# README.md's "Compatibility" section holds a copy, between its markers.
awk 'FNR == NR { if (FNR > 1) m = m $0 "\n"; next }
	/<!-- compat-matrix:start -->/ { print; printf "%s", m; skip = 1; next }
	/<!-- compat-matrix:end -->/ { skip = 0 }
	!skip' compat/MATRIX.md README.md >"$work/README.md"
cp "$work/README.md" README.md
log "matrix written to compat/MATRIX.md and README.md"
if [ "$failed" != 0 ]; then
	log "agent log (last 30 lines):"
	tail -30 "$work/agent.log" >&2
	if grep -q 'WARNING: DATA RACE\|panic:' "$work/agent.log"; then log "the agent panicked or raced"; fi
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
