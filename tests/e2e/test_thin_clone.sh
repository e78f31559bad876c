#!/usr/bin/env bash
# test_thin_clone.sh: a thin clone (issue 14) with real parts. `clonefs clone --thin` of a donor under
# a write load, over TLS, mounts a writable clone at DATA DIRECTORY; mysqld_safe starts on it while it
# hydrates; mariadb-check --all-databases is clean; the donor's binary log replayed from the recorded
# position gives the donor's checksums (the clone held the snapshot instant and took every write);
# status carries upper and bytes_written. After a clean shutdown and unmount, a remount with the same
# upper= has everything, a mismatching snapshot= is one ERROR line, and `clonefs materialize` of the
# stopped clone gives a plain datadir that starts with the same checksums. --thin without DATA
# DIRECTORY is one ERROR line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/thin.sh"

T=$(t_tmpdir)
export CLONEFS_LOCK_DIR=$T
THIN_PW='S3cret-pw'
tls_make "$T/tls"
cfs_donor_up "$T" 20 "$THIN_PW" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
thin_recipient_cnf "$T/r.cnf"
stmt="CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$PORT IDENTIFIED BY '$THIN_PW'"

t_log "--thin without DATA DIRECTORY is refused"
rc=0
echo "$stmt REQUIRE SSL" | "$CLONEFS_BIN/clonefs" clone - --thin --no-progress --recipient-defaults-file="$T/r.cnf" \
	-o "ssl_ca=$T/tls/ca.pem" >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] || { cat "$T/out" "$T/err"; t_fail "clone --thin without DATA DIRECTORY exited $rc"; }
cfs_assert_one_error "$T/err" 7006
grep -q "needs DATA DIRECTORY" "$T/err" || t_fail "the error does not say why: $(cat "$T/err")"

t_log "clonefs clone --thin while the donor is being written"
mkdir -p "$T/r"
db_write_load_start "$DONOR_SOCK"
sleep 1
echo "$stmt DATA DIRECTORY = '$T/r/thin' REQUIRE SSL" |
	"$CLONEFS_BIN/clonefs" clone - --thin --no-progress --recipient-defaults-file="$T/r.cnf" \
		-o "ssl_ca=$T/tls/ca.pem" >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; t_fail "clone --thin failed"; }
t_on_exit "fusermount3 -u -z '$T/r/thin' 2>/dev/null || true"
db_write_load_stop
cat "$T/out"
grep -q "^start it with: mysqld_safe --datadir=$T/r/thin$" "$T/out" || t_fail "no mysqld_safe line"
[ -d "$T/r/.clonefs-upper-thin/root" ] || t_fail "no upper beside the clone"
read -r binlog_file binlog_pos _ <"$T/r/thin/clonefs_binlog_info" || true
[ -n "$binlog_file" ] && [ -n "$binlog_pos" ] || t_fail "no binlog position in clonefs_binlog_info"

t_log "mysqld_safe on the thin clone while it hydrates"
thin_start_safe "$T/r/thin" "$T/run"
CLONE_SOCK="$T/run/mysql.sock"
mariadb-check --no-defaults -S "$CLONE_SOCK" -u root --all-databases >"$T/check.out" 2>&1 ||
	{ cat "$T/check.out"; t_fail "mariadb-check failed"; }
grep -v 'OK$' "$T/check.out" | grep -qi 'error\|corrupt\|warning' && { cat "$T/check.out"; t_fail "mariadb-check is not clean"; }

t_log "replay the donor's binary log from $binlog_file:$binlog_pos into the thin clone"
cfs_replay_binlog "$T/donor" "$binlog_file" "$binlog_pos" "$CLONE_SOCK"
db_sql "$CLONE_SOCK" "CREATE DATABASE thin_own; CREATE TABLE thin_own.t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
	USE thin_own; INSERT INTO thin_own.t SELECT seq, REPEAT('t', 500) FROM seq_1_to_5000;
	ALTER TABLE sample.t_myisam ADD COLUMN extra INT; ALTER TABLE sample.t_myisam DROP COLUMN extra;
	OPTIMIZE TABLE sample.t_compact;" >/dev/null
diff <(db_checksums "$DONOR_SOCK") <(db_checksums "$CLONE_SOCK" | grep -v thin_own) >"$T/diff" ||
	{ cat "$T/diff"; t_fail "checksums differ after replaying the binlog from the recorded position"; }
db_checksums "$CLONE_SOCK" >"$T/sums.1"
"$CLONEFS_BIN/clonefs" status "$T/r/thin" --json >"$T/status.json"
python3 - "$T/status.json" "$T/r/.clonefs-upper-thin" <<'PY' || t_fail "status lacks upper/bytes_written"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["upper"] == sys.argv[2], d["upper"]
assert d["bytes_written"] > 1000000, d["bytes_written"]
print("status: upper", d["upper"], "bytes_written", d["bytes_written"], "state", d["state"])
PY

"$CLONEFS_BIN/clonefs" status "$T/r/thin" | grep -q "^upper      $T/r/.clonefs-upper-thin, .* written by the clone$" ||
	t_fail "clonefs status shows no upper line"
t_log "clean shutdown, unmount, remount the same upper=: everything is there"
db_stop "$T/run"
fusermount3 -u "$T/r/thin"
snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/status.json")
rc=0
CLONEFS_PASSWORD=$THIN_PW "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/r/thin" \
	-o "ssl_ca=$T/tls/ca.pem,cache_dir=$T/r/.clonefs-cache-thin,rw,upper=$T/r/.clonefs-upper-thin,snapshot=new" \
	>"$T/err" 2>&1 || rc=$?
[ $rc != 0 ] || t_fail "a remount with another snapshot was accepted"
cfs_assert_one_error "$T/err" 7004
CLONEFS_PASSWORD=$THIN_PW "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/r/thin" \
	-o "ssl_ca=$T/tls/ca.pem,cache_dir=$T/r/.clonefs-cache-thin,rw,upper=$T/r/.clonefs-upper-thin"
grep -q "\"snapshot_id\":\"$snap\"" "$T/r/thin/.clonefs/status" || t_fail "the remount is not of snapshot $snap"
thin_start_safe "$T/r/thin" "$T/run"
diff "$T/sums.1" <(db_checksums "$CLONE_SOCK") || t_fail "checksums changed across a clean remount"
db_stop "$T/run"

t_log "materialize the stopped thin clone into a plain datadir"
"$CLONEFS_BIN/clonefs" materialize "$T/r/thin" "$T/plain" --owner=mysql --no-progress >"$T/mat.out" ||
	{ cat "$T/mat.out"; t_fail "materialize of a thin clone failed"; }
fusermount3 -u "$T/r/thin"
thin_start_safe "$T/plain" "$T/run2"
diff "$T/sums.1" <(db_checksums "$T/run2/mysql.sock") || t_fail "the materialized thin clone has other checksums"
t_log "a new thin clone of the same name neither reuses nor removes the old one's upper"
rmdir "$T/r/thin"
rc=0
echo "$stmt DATA DIRECTORY = '$T/r/thin' REQUIRE SSL" |
	"$CLONEFS_BIN/clonefs" clone - --thin --no-progress --recipient-defaults-file="$T/r.cnf" \
		-o "ssl_ca=$T/tls/ca.pem" >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] || { cat "$T/out" "$T/err"; t_fail "a thin clone over an earlier one's upper exited $rc"; }
cfs_assert_one_error "$T/err" 7006
[ -f "$T/r/.clonefs-upper-thin/clonefs-upper" ] && [ ! -e "$T/r/thin" ] || t_fail "the earlier upper was touched"
t_log "PASS: thin clone started, checksums equal after replay, across a remount and materialized"
