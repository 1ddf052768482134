#!/usr/bin/env bash
# The Java client's transactions (kafka-clients from Maven Central) against a
# Strata agent: compat/java/src/TxnCheck.java, a consume-transform-produce
# loop with a transactional producer, offsets sent to its transactions with
# the group member's metadata, an abort, a fenced zombie, and read_committed
# and read_uncommitted consumers (what it checks: the head of TxnCheck.java).
#
# Usage: compat/java/txn_check.sh BOOTSTRAP PREFIX LIBDIR CLASSDIR
#
# Exits 0 on success, or prints the reason last ("FAIL: ...") and exits 1.
set -euo pipefail

boot=$1 prefix=$2 lib=$3 classes=$4
. "$(dirname "$0")/jvm.sh"
exec java "${java_opts[@]}" -cp "$classes:$lib/*" TxnCheck "$boot" "$prefix"
