# common.sh: sourced by every end-to-end test: temp dirs, cleanup on exit, bounded waits, failure.
# Nothing here waits without a bound.

CLONEFS_BIN=${CLONEFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bin}
export CLONEFS_BIN

_t_cleanups=()
# t_on_exit CMD: run CMD at exit (also on INT/TERM), last registered first.
t_on_exit() { _t_cleanups+=("$1"); }
_t_run_cleanups() {
	local i
	for ((i = ${#_t_cleanups[@]} - 1; i >= 0; i--)); do eval "${_t_cleanups[$i]}" >/dev/null 2>&1 || true; done
	_t_cleanups=()
	# Last, the directories t_tmpdir made (listed in a file: it runs in a $(...) subshell).
	if [ -f "$_t_tmplist" ]; then
		while read -r d; do rm -rf --one-file-system "$d" 2>/dev/null || true; done <"$_t_tmplist"
		rm -f "$_t_tmplist"
	fi
}
_t_tmplist="${TMPDIR:-/tmp}/clonefs-test-dirs.$$"
trap '_t_run_cleanups' EXIT
trap 'echo "interrupted (SIGINT)" >&2; exit 130' INT
trap 'echo "terminated (SIGTERM)" >&2; exit 143' TERM

# t_tmpdir: a fresh directory (mode 755 so the mysql user can traverse it), removed at exit
# unless KEEP_TMP=1.
t_tmpdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/clonefs-test.XXXXXX")
	chmod 755 "$d"
	[ "${KEEP_TMP:-0}" = 1 ] || echo "$d" >>"$_t_tmplist"
	echo "$d"
}

t_log() { echo "-- $*"; }
t_fail() { echo "FAIL: $*"; exit 1; }
t_skip() { echo "SKIP: $*"; exit 77; }

# t_free_port: a free loopback TCP port.
t_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# t_wait_for CMD SECONDS: poll CMD every 0.1 s until it succeeds; 1 after SECONDS.
t_wait_for() {
	local cmd=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		eval "$cmd" && return 0
		sleep 0.1
	done
	return 1
}

# Donor keys pinned on first use (docs/security.md) go to a store of this test's, not root's
# /var/lib/clonefs/known_donors: ports are reused across tests, each with its own donor key.
if [ -z "${CLONEFS_KNOWN_DONORS:-}" ]; then
	CLONEFS_KNOWN_DONORS="$(t_tmpdir)/known_donors"
	export CLONEFS_KNOWN_DONORS
fi

[ "$(id -u)" = 0 ] || t_skip "end-to-end tests run as root (FUSE mounts, mysqld as mysql)"
