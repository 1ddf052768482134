#!/usr/bin/env bash
# scripts/install-tools.sh — install, from Debian's packages, the tools the
# tests need and the machine lacks. scripts/test.sh runs it first;
# compat/run.sh runs it for its clients' runtimes.
#
#   scripts/install-tools.sh [TOOL...]    (default: all of them)
#
#   TOOL      checked by                          Debian package
#   kcat      kcat on PATH                        kcat        (cmd/strata/kcat_test.go)
#   postgres  initdb + pg_ctl (as start-postgres.sh finds them)  postgresql
#   java      `java -version` runs                default-jre-headless (Kafka CLI tools)
#   javac     javac on PATH                       default-jdk-headless (compat/java/src)
#   maven     mvn on PATH                         maven       (compat and bench fetch Kafka's jars)
#   venv      `python3 -m venv --help` runs and ensurepip imports   python3-venv
#   node      node and npm on PATH                nodejs, then npm (kafkajs)
#   curl      curl on PATH                        curl        (start-minio.sh's readiness probe)
#   cc        cc on PATH                          gcc         (cgo, which go test -race needs)
#
# Debian ships the venv module with python3 itself but ensurepip, which
# `python3 -m venv` needs to put pip in the venv, only in python3-venv: so
# `python3 -m venv --help` alone succeeds where creating a venv fails.
# npm is installed after nodejs, and only if still missing: a nodejs from
# NodeSource (as on the CI machines) bundles npm and conflicts with
# Debian's npm package.
#
# `apt-get update` runs once, and only when something is missing; apt-get
# runs with sudo when not root. What is installed is said on stderr, apt's
# own output goes to a log that is shown if the install fails. Exits
# non-zero if a tool is still missing afterwards. Go itself is not
# installed: the README asks for Go 1.26+.
set -euo pipefail

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }
have_tool() {
	case $1 in
	kcat) have kcat ;;
	postgres)
		local d
		for d in /usr/lib/postgresql/*/bin; do
			if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
				return 0
			fi
		done
		have initdb && have pg_ctl
		;;
	java) have java && java -version >/dev/null 2>&1 ;;
	javac) have javac ;;
	maven) have mvn ;;
	venv) have python3 && python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' >/dev/null 2>&1 ;;
	node) have node && have npm ;;
	curl) have curl ;;
	cc) have cc ;;
	*) die "unknown tool $1 (want kcat, postgres, java, javac, maven, venv, node, curl or cc)" ;;
	esac
}
packages_for() {
	case $1 in
	kcat) echo kcat ;;
	postgres) echo postgresql ;;
	java) echo default-jre-headless ;;
	javac) echo default-jdk-headless ;;
	maven) echo maven ;;
	venv) echo python3-venv ;;
	node) have node || echo nodejs ;; # npm in a second round, see above
	curl) echo curl ;;
	cc) echo gcc ;;
	esac
}

tools=("$@")
if [ ${#tools[@]} = 0 ]; then
	tools=(kcat postgres java javac maven venv node curl cc)
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
	sudo=(sudo)
fi
apt_log=$(mktemp /tmp/strata-install-tools.XXXXXX)
trap 'rm -f "$apt_log"' EXIT
updated=""
apt_install() {
	if [ ${#sudo[@]} != 0 ] && ! have sudo; then
		die "not root and no sudo: install these Debian packages by hand: $*"
	fi
	if [ -z "$updated" ]; then
		log "apt-get update"
		"${sudo[@]}" apt-get update -qq >>"$apt_log" 2>&1 || {
			tail -n 20 "$apt_log" >&2
			die "apt-get update failed"
		}
		updated=1
	fi
	log "apt-get install $*"
	local start=$SECONDS
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "$@" >>"$apt_log" 2>&1 || {
		tail -n 30 "$apt_log" >&2
		die "apt-get install $* failed"
	}
	log "installed $* in $((SECONDS - start))s"
}

missing=() pkgs=()
for t in "${tools[@]}"; do
	if ! have_tool "$t"; then
		missing+=("$t")
		read -r -a p <<<"$(packages_for "$t")"
		pkgs+=("${p[@]}")
	fi
done
if [ ${#missing[@]} = 0 ]; then
	exit 0
fi
log "missing: ${missing[*]}"
if [ ${#pkgs[@]} != 0 ]; then
	apt_install "${pkgs[@]}"
fi
for t in "${missing[@]}"; do
	if [ "$t" = node ] && have node && ! have npm; then
		apt_install npm
	fi
done
hash -r
for t in "${missing[@]}"; do
	have_tool "$t" || die "$t is still missing after installing $(packages_for "$t")"
done
