#!/usr/bin/env bash
# bench/kafka/fetch.sh — fetch Apache Kafka's jars (the benchmark peer) from
# Maven Central into the cache and print the directory holding them.
#
#   lib=$(bench/kafka/fetch.sh)     # then: java -cp "$lib/*" kafka.Kafka server.properties
#
# Resolves org.apache.kafka:kafka_2.13 (the broker) and kafka-tools (the
# StorageTool and ProducerPerformance) with their dependencies, as listed in
# bench/kafka/pom.xml, with
#   mvn dependency:copy-dependencies -Dmaven.repo.local=$STRATA_CACHE/m2
# into ${STRATA_CACHE:-$HOME/.cache/strata}/kafka/<version>/lib. A second
# call finds them there and does nothing. The jars are never committed.
# Needs mvn and Java 17; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${STRATA_CACHE:-$HOME/.cache/strata}
lib=$cache/kafka/$version/lib
say() { printf 'kafka/fetch: %s\n' "$*" >&2; }

if [ -f "$lib/.complete" ]; then
	echo "$lib"
	exit 0
fi
command -v mvn >/dev/null || { say "mvn not found (apt-get install maven)"; exit 1; }
command -v java >/dev/null || { say "java not found (Java 17 needed)"; exit 1; }
mkdir -p "$cache/kafka/$version"
exec 9>"$cache/kafka/$version/.lock"
flock 9
if [ ! -f "$lib/.complete" ]; then
	say "resolving Apache Kafka $version from Maven Central into $lib"
	tmp=$(mktemp -d "$cache/kafka/$version/.lib.XXXXXX")
	if ! mvn -q -B -f "$here/pom.xml" -Dmaven.repo.local="$cache/m2" \
		dependency:copy-dependencies -DoutputDirectory="$tmp" >&2; then
		rm -rf "$tmp"
		say "mvn failed"
		exit 1
	fi
	touch "$tmp/.complete"
	rm -rf "$lib"
	mv "$tmp" "$lib"
	say "$(ls "$lib" | wc -l) jars"
fi
echo "$lib"
