#!/usr/bin/env bash
# test_clone_replace.sh: `clonefs clone` without DATA DIRECTORY replaces the data of the recipient
# instance named by --recipient-defaults-file: under mysqld_safe it is stopped, its data swapped
# only once the new data is complete, and restarted by mysqld_safe with the donor's checksums; an
# account without SHUTDOWN is refused (1227) before anything happens, and so is cloning the instance
# from itself (3871); with no supervisor it ends in
# ERROR 3707 with the donor's data in place, and a manual start finishes the clone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
export CLONEFS_LOCK_DIR=$T
cfs_donor_up "$T" 5 pw

# recipient DIR: a MariaDB instance's option file DIR/my.cnf and an empty datadir DIR/data.
recipient() {
	local dir=$1
	mkdir -p "$dir/data" "$dir/tmp"
	chown -R mysql:mysql "$dir"
	cat >"$dir/my.cnf" <<EOF
[mysqld]
datadir=$dir/data
socket=$dir/mysql.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
tmpdir=$dir/tmp
skip-networking
proxy-protocol-networks=localhost
user=mysql
character-set-server=latin1
collation-server=latin1_swedish_ci
innodb-buffer-pool-size=64M
[client]
user=root
socket=$dir/mysql.sock
[clonefs]
valid_donor_list=127.0.0.1:$PORT
EOF
	mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=normal --skip-test-db \
		>"$dir/install.log" 2>&1 || { tail "$dir/install.log"; t_fail "mariadb-install-db failed"; }
	t_on_exit "db_stop '$dir'"
}
stmt="CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$PORT IDENTIFIED BY 'pw'"
db_checksums "$DONOR_SOCK" >"$T/donor.sums"

t_log "under mysqld_safe: stopped, replaced, restarted by it"
recipient "$T/r"
mysqld_safe --defaults-file="$T/r/my.cnf" >"$T/r/mysqld_safe.log" 2>&1 &
_db_wait_ready "$T/r/mysql.sock" "$T/r/error.log"
db_sql "$T/r/mysql.sock" "CREATE DATABASE recipient_only; CREATE USER 'noshut'@'localhost'; GRANT SELECT ON *.* TO 'noshut'@'localhost'"
old_pid=$(cat "$T/r/mysqld.pid")
# An account that cannot shut the recipient down is refused first (the seed's CLONE_ADMIN).
sed 's/^user=root$/user=noshut/' "$T/r/my.cnf" >"$T/r/noshut.cnf"
rc=0
echo "$stmt" | "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/r/noshut.cnf" \
	>/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 1227 || t_fail "no 1227 for an account without SHUTDOWN (exit $rc)"
grep -q SHUTDOWN "$T/err" || t_fail "1227 does not name SHUTDOWN"
[ "$(cat "$T/r/mysqld.pid")" = "$old_pid" ] || t_fail "the recipient was restarted after 1227"
t_log "ok: $(cat "$T/err")"

# Cloning the recipient from itself would replace the data it is serving: MySQL's 3871.
cfs_make_clone_user "$T/r/mysql.sock" cloner pw
SELF=$(t_free_port)
cfs_start_donor "$T/self" "$SELF" "$T/r/mysql.sock" "$T/r/data"
sed "s/^valid_donor_list=.*/valid_donor_list=127.0.0.1:$SELF/" "$T/r/my.cnf" >"$T/r/self.cnf"
rc=0
echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$SELF IDENTIFIED BY 'pw'" |
	"$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/r/self.cnf" >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 3871 || t_fail "cloning the recipient from itself: exit $rc"
[ "$(cat "$T/r/mysqld.pid")" = "$old_pid" ] || t_fail "the recipient was restarted after 3871"
t_log "ok: $(cat "$T/err")"

echo "$stmt" | "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/r/my.cnf" \
	>"$T/clone.out" 2>"$T/err" || { cat "$T/clone.out" "$T/err"; t_fail "clone (replace) failed"; }
cat "$T/clone.out"
grep -q 'RECOVERY   Completed' "$T/clone.out" || t_fail "no RECOVERY stage"
new_pid=$(cat "$T/r/mysqld.pid")
[ "$new_pid" != "$old_pid" ] || t_fail "the server was not restarted"
pgrep -f "mysqld_safe --defaults-file=$T/r/my.cnf" >/dev/null || t_fail "the server is not under mysqld_safe again"
db_checksums "$T/r/mysql.sock" >"$T/r.sums"
diff "$T/donor.sums" "$T/r.sums" || t_fail "the replaced recipient's checksums differ from the donor's"
[ -z "$(db_sql "$T/r/mysql.sock" "SHOW DATABASES LIKE 'recipient_only'")" ] || t_fail "the recipient's old data is still served"
[ ! -e "$T/r/data.clonefs-old" ] && [ ! -e "$T/r/data.clonefs-new" ] || t_fail "old or new data left beside the datadir"
# The stages as performance_schema.clone_progress has them, and clone_status's facts.
"$CLONEFS_BIN/clonefs" status --clone --json >"$T/progress.json"
python3 - "$T/progress.json" "$T/r/data" "127.0.0.1:$PORT" <<'PY' || t_fail "clonefs status --clone --json is not the clone's progress"
import json, sys
d = json.load(open(sys.argv[1]))
stages = {s["stage"]: s for s in d["stages"]}
assert d["state"] == "Completed" and d["error_no"] == 0, d
assert d["destination"] == sys.argv[2] and d["source"] == sys.argv[3], d
assert d["binlog_file"] and d["binlog_position"] and d["gtid_executed"], d
for name in ("SNAPSHOT", "DROP DATA", "FILE COPY", "FILE SYNC", "RESTART", "RECOVERY"):
    assert stages[name]["state"] == "Completed" and stages[name]["begin_time"] <= stages[name]["end_time"], stages[name]
assert stages["FILE COPY"]["data"] == stages["FILE COPY"]["estimate"] > 0
PY
"$CLONEFS_BIN/clonefs" status --clone | grep -q '^RECOVERY *Completed' || t_fail "clonefs status --clone does not show RECOVERY"
t_log "ok: restarted by mysqld_safe (pid $old_pid -> $new_pid), $(wc -l <"$T/r.sums") checksums equal"
db_stop "$T/r"

t_log "no supervisor: ERROR 3707, the donor's data in place for a manual start"
recipient "$T/n"
mariadbd --defaults-file="$T/n/my.cnf" >/dev/null 2>&1 &
_db_wait_ready "$T/n/mysql.sock" "$T/n/error.log"
rc=0
echo "$stmt" | "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/n/my.cnf" \
	>"$T/clone.out" 2>"$T/err" || rc=$?
[ $rc = 1 ] || { cat "$T/clone.out" "$T/err"; t_fail "expected exit 1 without a supervisor, got $rc"; }
cfs_assert_one_error "$T/err" 3707
grep -qx 'ERROR 3707 (HY000): Restart server failed (mysqld is not managed by supervisor process).' "$T/err" ||
	t_fail "3707 not in MySQL's words"
t_log "ok: $(cat "$T/err")"
"$CLONEFS_BIN/clonefs" status --clone --json | python3 -c 'import json, sys; d = json.load(sys.stdin)
assert d["state"] == "Failed" and d["error_no"] == 3707, d
assert [s["state"] for s in d["stages"] if s["stage"] == "RESTART"] == ["Failed"], d' ||
	t_fail "the progress does not show the failed RESTART"
[ -f "$T/n/data/clonefs_info.json" ] || t_fail "the donor's data is not in place"
mariadbd --defaults-file="$T/n/my.cnf" >/dev/null 2>&1 &
_db_wait_ready "$T/n/mysql.sock" "$T/n/error.log"
db_checksums "$T/n/mysql.sock" >"$T/n.sums"
diff "$T/donor.sums" "$T/n.sums" || t_fail "after a manual start the checksums differ from the donor's"
t_log "PASS: replaced under mysqld_safe; 3707 without a supervisor and the data complete for a manual start"
