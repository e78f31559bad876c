#!/usr/bin/env bash
# test_replica_provision.sh: a materialized clone becomes a replica of its donor: the donor (binary
# logs, TCP on loopback, a replication account) is snapshotted under a write load, the clone is
# materialized and started with mysqld_safe and another server id, gtid_slave_pos is set to the GTID
# recorded in clonefs_binlog_info and CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos started while the
# donor is still written; once the load stops the replica reaches the donor's gtid_binlog_pos with no
# replication error and exactly the donor's checksums (so the recorded GTID was the snapshot instant).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
DB_PORT=$(t_free_port)
t_log "donor with binary logs, listening on 127.0.0.1:$DB_PORT"
# db_start passes --skip-networking; the options after it win.
db_start "$T/donor" --skip-networking=0 --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve
DONOR_SOCK="$T/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 20
cfs_make_clone_user "$DONOR_SOCK" cloner 'pw'
db_sql "$DONOR_SOCK" "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw';
	GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"

db_write_load_start "$DONOR_SOCK"
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data"
sleep 1 # let the load commit before and while the snapshot is taken

t_log "mount and materialize while the donor is being written"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress
fusermount3 -u "$T/mnt"
IFS=$'\t' read -r bfile bpos gtid <"$T/clone/clonefs_binlog_info" || true
[ -n "$bfile" ] && [ -n "$bpos" ] || t_fail "no binlog position in clonefs_binlog_info: '$(cat "$T/clone/clonefs_binlog_info")'"
[[ $gtid =~ ^[0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*$ ]] ||
	t_fail "clonefs_binlog_info holds no GTID position: '$(cat "$T/clone/clonefs_binlog_info")'"
t_log "snapshot at $bfile:$bpos, GTID $gtid"

t_log "start the clone with mysqld_safe --server-id=2"
# As db_start_safe, plus a server id of its own: a replica with the master's id refuses to replicate.
R="$T/replica"
mkdir -p "$R"
chown mysql:mysql "$R"
mysqld_safe --no-defaults --datadir="$T/clone" --socket="$R/mysql.sock" --pid-file="$R/mysqld.pid" \
	--log-error="$R/error.log" --skip-networking --user=mysql --server-id=2 >"$R/mysqld_safe.log" 2>&1 &
t_on_exit "db_stop '$R'"
t_wait_for "mariadb-admin --no-defaults -S '$R/mysql.sock' -u root ping >/dev/null 2>&1" 120 ||
	{ tail -20 "$R/error.log"; t_fail "the clone did not start"; }
REPLICA_SOCK="$R/mysql.sock"
[ "$(db_sql "$REPLICA_SOCK" "SELECT @@server_id")" = 2 ] || t_fail "the replica's server_id is not 2"
at_snapshot=$(db_sql "$REPLICA_SOCK" "SELECT COUNT(*) FROM sample.txlog")

t_log "CHANGE MASTER TO 127.0.0.1:$DB_PORT, MASTER_USE_GTID=slave_pos from $gtid"
db_sql "$REPLICA_SOCK" "SET GLOBAL gtid_slave_pos = '$gtid';
	CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$DB_PORT, MASTER_USER='repl',
		MASTER_PASSWORD='repl-pw', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;
	START SLAVE;"

# slave_field NAME: one column of SHOW SLAVE STATUS on the replica.
slave_field() {
	mariadb --no-defaults -S "$REPLICA_SOCK" -u root -e "SHOW SLAVE STATUS\G" | sed -n "s/^ *$1: //p"
}
show_slave() { mariadb --no-defaults -S "$REPLICA_SOCK" -u root -e "SHOW SLAVE STATUS\G"; tail -20 "$R/error.log"; }

t_wait_for "[ \"\$(slave_field Slave_IO_Running)\" = Yes ] && [ \"\$(slave_field Slave_SQL_Running)\" = Yes ]" 60 ||
	{ show_slave; t_fail "replication is not running: Slave_IO_Running=$(slave_field Slave_IO_Running) Slave_SQL_Running=$(slave_field Slave_SQL_Running) Last_SQL_Errno=$(slave_field Last_SQL_Errno)"; }
# The replica applies the donor's live writes before the load stops.
t_wait_for "[ \"\$(db_sql '$REPLICA_SOCK' 'SELECT @@gtid_slave_pos')\" != '$gtid' ]" 60 ||
	{ show_slave; t_fail "the replica applied nothing from the donor after $gtid"; }
t_log "replicating: the replica is at $(db_sql "$REPLICA_SOCK" 'SELECT @@gtid_slave_pos') while the donor is written"
db_write_load_stop

donor_pos=$(db_sql "$DONOR_SOCK" "SELECT @@gtid_binlog_pos")
t_log "load stopped; wait until the replica reaches the donor's gtid_binlog_pos $donor_pos"
t_wait_for "[ \"\$(db_sql '$REPLICA_SOCK' 'SELECT @@gtid_slave_pos')\" = '$donor_pos' ]" 300 ||
	{ show_slave; t_fail "the replica did not reach $donor_pos (at $(db_sql "$REPLICA_SOCK" 'SELECT @@gtid_slave_pos'))"; }
sql_errno=$(slave_field Last_SQL_Errno)
io_errno=$(slave_field Last_IO_Errno)
[ "$sql_errno" = 0 ] && [ "$io_errno" = 0 ] ||
	{ show_slave; t_fail "replication error: Last_SQL_Errno=$sql_errno Last_IO_Errno=$io_errno"; }
[ "$(slave_field Seconds_Behind_Master)" = 0 ] || { show_slave; t_fail "Seconds_Behind_Master is not 0"; }
[ "$(db_sql "$DONOR_SOCK" "SELECT @@gtid_binlog_pos")" = "$donor_pos" ] || t_fail "the donor was written after the load stopped"

cfs_assert_same_data "$DONOR_SOCK" "$REPLICA_SOCK" "the replica"
n=$CFS_NSUMS
applied=$(($(db_sql "$REPLICA_SOCK" "SELECT COUNT(*) FROM sample.txlog") - at_snapshot))
[ "$applied" -gt 0 ] || t_fail "no load transaction reached the replica"
t_log "PASS: replica from GTID $gtid reached $donor_pos, Last_SQL_Errno 0, $n checksums equal ($applied load transactions replicated)"
