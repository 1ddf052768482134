# Shared by compat/java/connect_check.sh and streams_check.sh (sourced):
# fail, the JVM options, and stopping a background JVM.

# fail REASON: the check's last line, and exit 1.
fail() {
	echo "FAIL: $*"
	exit 1
}

# C1 only and the serial GC: quick starts, two cores. Log4j 2 (the SLF4J
# binding): warnings and errors only, on stderr.
java_opts=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss1m -Xmx512m
	"-Dlog4j2.configurationFile=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/log4j2.properties")

# stop_jvm PID SECONDS: SIGTERM (the JVM runs its shutdown hooks: a
# graceful close), then waits up to SECONDS before killing it; returns 1
# if it had to.
stop_jvm() {
	local pid=$1 rc=0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
		rc=1
	fi
	wait "$pid" 2>/dev/null || true
	return $rc
}
