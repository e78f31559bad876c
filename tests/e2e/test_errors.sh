#!/usr/bin/env bash
# test_errors.sh: each error a DBA can cause at the start of a clone is one clear line in MySQL's
# form, exit status 1, and nothing written: wrong password (1045), missing privilege (1227), TLS
# required against a donor without a certificate (2026), an untrusted donor certificate (2026),
# relative CLONE_DIR (1525), existing CLONE_DIR (1007).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
# The refusals below, as the donors log them.
t_log_expect "authentication of '[a-z]*' refused: ERROR (1045|1227|1129) "
t_log_expect "blocked for 60 s after 10 failed logins"
t_log_expect "TLS handshake failed: ERROR 2026: SSL connection error: handshake with [0-9.:]+ failed: tlsv1 alert unknown ca"
t_log_expect "session of '' ended: ERROR 7000: expected AUTH, got CLOSE"
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 5
cfs_make_clone_user "$DONOR_SOCK" cloner 'right-pw'
db_sql "$DONOR_SOCK" "CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weak-pw'; GRANT SELECT ON *.* TO 'weak'@'localhost';"
tls_make "$T/tls"
PORT=$(t_free_port)
cfs_start_donor "$T/tlsdonor" "$PORT" "$DONOR_SOCK" "$T/donor/data" \
	--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
PLAIN=$(t_free_port)
cfs_start_donor "$T/plaindonor" "$PLAIN" "$DONOR_SOCK" "$T/donor/data"
mkdir -p "$T/mnt"

# expect_mount_error CODE PASSWORD USER PORT OPTIONS: mount fails with one line, nothing mounted.
expect_mount_error() {
	local code=$1 pw=$2 user=$3 port=$4 opts=$5 rc=0
	CLONEFS_PASSWORD="$pw" "$CLONEFS_BIN/mount.clonefs" "$user@127.0.0.1:$port" "$T/mnt" \
		-o "cache_dir=$T/cache,$opts" 2>"$T/err" >/dev/null || rc=$?
	[ $rc = 1 ] || { cat "$T/err"; t_fail "mount exited $rc, expected 1 (ERROR $code)"; }
	cfs_assert_one_error "$T/err" "$code"
	mountpoint -q "$T/mnt" && t_fail "something is mounted after ERROR $code"
	t_log "ok: $(cat "$T/err")"
}

expect_mount_error 1045 wrong-pw cloner "$PORT" "ssl_mode=required"
grep -q "Access denied for user 'cloner'" "$T/err" || t_fail "1045 does not name the user"
expect_mount_error 1227 weak-pw weak "$PORT" "ssl_mode=required"
grep -q RELOAD "$T/err" || t_fail "1227 does not name the RELOAD privilege"
expect_mount_error 2026 right-pw cloner "$PLAIN" "ssl_mode=required"
expect_mount_error 2026 right-pw cloner "$PORT" "ssl_mode=required,ssl_ca=$T/tls/other-ca.pem"
grep -qi "verif" "$T/err" || t_fail "the certificate failure does not say why"

# A good mount for the CLONE_DIR rules (purely lazy: nothing is needed).
CLONEFS_PASSWORD=right-pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,prefetch=off,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"

mkdir -p "$T/work" && cd "$T/work"
rc=0; "$CLONEFS_BIN/clonefs" materialize "$T/mnt" relative/clone --no-progress 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "relative CLONE_DIR: exit $rc"
cfs_assert_one_error "$T/err" 1525
grep -q "Incorrect path value: 'relative/clone'" "$T/err" || t_fail "1525 message: $(cat "$T/err")"
[ -z "$(ls -A "$T/work")" ] || t_fail "a relative CLONE_DIR wrote something: $(ls -A "$T/work")"
t_log "ok: $(cat "$T/err")"

mkdir -p "$T/exists" && echo keep >"$T/exists/f"
rc=0; "$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/exists" --no-progress 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "existing CLONE_DIR: exit $rc"
cfs_assert_one_error "$T/err" 1007
[ "$(ls -A "$T/exists")" = f ] && [ "$(cat "$T/exists/f")" = keep ] || t_fail "the existing CLONE_DIR was touched"
ls -a "$T" | grep -q clonefs-partial && t_fail "a partial directory was created"
t_log "ok: $(cat "$T/err")"

# Guessing passwords: after 10 failed logins from one host within a minute, clonefsd refuses that
# host (MySQL's 1129) before asking its server, even with the right password, for a minute.
fusermount3 -u "$T/mnt" 2>/dev/null || true
for i in $(seq 9); do
	CLONEFS_PASSWORD=guess$i "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PLAIN" "$T/mnt" \
		-o "cache_dir=$T/cache,ssl_mode=disabled" 2>/dev/null && t_fail "a wrong password mounted"
done
expect_mount_error 1045 guess10 cloner "$PLAIN" "ssl_mode=disabled"
expect_mount_error 1129 right-pw cloner "$PLAIN" "ssl_mode=disabled"
grep -q "Host '127.0.0.1' is blocked because of many connection errors" "$T/err" || t_fail "1129 wording"
grep -q "blocked for 60 s after 10 failed logins" "$T/plaindonor/clonefsd.log" || t_fail "the block is not logged"
t_log "PASS: every error was one line, exit 1, nothing written; password guessing blocked"
