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
}

# The daemons' logs (clonefsd*.log*, mount.clonefs's mount.log) under the test's directories are
# read at exit, once every cleanup has stopped the daemons (a leak report at exit is in them too):
# a sanitizer report, or an error line that no t_log_expect pattern names, fails a test that passed.
# A recipient that goes away in the middle of a reply (unmounted, killed by its test) is seen by
# the donor as a broken or reset connection: expected in every test.
_t_log_expected=("session of '[^']*' ended: (write to|read from) [^ ]+ failed: (Broken pipe|Connection reset by peer)")
# t_log_expect ERE: error lines matching ERE are what this test provokes (a refused login, a lost
# donor), not a fault.
t_log_expect() { _t_log_expected+=("$1"); }
_T_LOG_ERRORS='error|cannot|failed|sanitizer|runtime error|leak'
_T_LOG_FATAL='Sanitizer|runtime error:'
_t_check_logs() {
	local d f found ok=0 expected
	expected=$(IFS='|'; echo "${_t_log_expected[*]:-}")
	[ -f "$_t_tmplist" ] || return 0
	while read -r d; do
		[ -d "$d" ] || continue
		while IFS= read -r -d '' f; do
			# Sanitizer reports always count; other error lines unless the test expects them.
			found=$(grep -Ei "$_T_LOG_ERRORS" "$f" | while IFS= read -r l; do
				[[ $l =~ $_T_LOG_FATAL ]] || [ -z "$expected" ] || ! [[ $l =~ $expected ]] || continue
				echo "$l"
			done)
			[ -z "$found" ] && continue
			echo "FAIL: ${f#"$d"/} has errors this test did not provoke:"
			echo "$found" | sed 's/^/    /' | head -30
			ok=1
		done < <(find "$d" -xdev -type f \( -name 'clonefsd*.log*' -o -name mount.log \) -print0 2>/dev/null)
	done <"$_t_tmplist"
	return $ok
}
_t_exit() {
	local rc=$?
	_t_run_cleanups
	if [ "$rc" = 0 ] && ! _t_check_logs; then rc=1; fi
	# Last, the directories t_tmpdir made (listed in a file: it runs in a $(...) subshell).
	if [ -f "$_t_tmplist" ]; then
		while read -r d; do rm -rf --one-file-system "$d" 2>/dev/null || true; done <"$_t_tmplist"
		rm -f "$_t_tmplist"
	fi
	exit "$rc"
}
_t_tmplist="${TMPDIR:-/tmp}/clonefs-test-dirs.$$"
trap '_t_exit' EXIT
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
