#!/usr/bin/env bash
# test_replica_donor.sh: clones of a replica. A primary under a write load and two GTID replicas of
# it (binary log on; log_slave_updates OFF, and ON), each with its datadir in a btrfs subvolume and
# clonefsd on it. For each replica and each method (btrfs, mariabackup; dir on a stopped replica):
# the clone starts clean (no master.info, relay-log.info or relay logs: no replication configured, no
# relay-log error), the facts give one position for both uses, and running clonefs_slave_info's
# statements after a CHANGE MASTER TO the primary makes it catch up with the primary (checksums
# equal); with log_slave_updates ON a second clone of the same snapshot, made a replica of the donor
# replica from clonefs_binlog_info's file and position, reaches the donor's checksums.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/btrfs.sh"
command -v mariabackup >/dev/null || t_skip "mariabackup is not installed"

T=$(t_tmpdir)
btrfs_loop_mount "$T" 1G
MNT=$BTRFS_MNT
P_PORT=$(t_free_port)
t_log "primary on 127.0.0.1:$P_PORT"
db_start "$T/primary" --skip-networking=0 --port="$P_PORT" --bind-address=127.0.0.1 --skip-name-resolve
P_SOCK="$T/primary/mysql.sock"
db_sql "$P_SOCK" "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw';
	GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
db_load_sample "$P_SOCK" 4
# Created on the primary, so the replicas have them too; SLAVE MONITOR lets the snapshot read SHOW
# ALL SLAVES STATUS (the primary's coordinates), REPLICATION SLAVE ADMIN stop the SQL thread while
# it is made (the load writes Aria tables, which BLOCK_COMMIT alone does not keep in step with
# gtid_slave_pos).
cfs_make_clone_user "$P_SOCK" cloner 'pw'
db_sql "$P_SOCK" "GRANT SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO 'cloner'@'127.0.0.1'"

# replica NAME SERVER_ID LOG_SLAVE_UPDATES: a GTID replica of the primary, datadir in subvolume
# $MNT/NAME; caught up. Sets R_PORT_<NAME>.
replica() {
	local name=$1 id=$2 lsu=$3 port
	port=$(t_free_port)
	btrfs_subvol "$MNT/$name"
	db_start "$MNT/$name" --server-id="$id" --log-slave-updates="$lsu" --skip-networking=0 --port="$port" \
		--bind-address=127.0.0.1 --skip-name-resolve
	db_sql "$MNT/$name/mysql.sock" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$P_PORT, MASTER_USER='repl',
		MASTER_PASSWORD='repl-pw', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE;"
	eval "R_PORT_$name=$port"
}
replica r_off 2 OFF
replica r_on 3 ON
caught_up() { # SOCK [GTID]: the server's gtid_slave_pos is the primary's gtid_binlog_pos
	local want=${2:-$(db_sql "$P_SOCK" "SELECT @@gtid_binlog_pos")}
	t_wait_for "[ \"\$(db_sql '$1' 'SELECT @@gtid_slave_pos')\" = '$want' ]" 120
}
slave_field() { mariadb --no-defaults -S "$1" -u root -e "SHOW SLAVE STATUS\G" | sed -n "s/^ *$2: //p"; }
for r in r_off r_on; do
	caught_up "$MNT/$r/mysql.sock" || t_fail "replica $r did not catch up: $(slave_field "$MNT/$r/mysql.sock" Last_Error)"
done
db_sql "$MNT/r_on/mysql.sock" "SELECT @@gtid_binlog_pos" | grep -q . || t_fail "r_on's binary log holds no GTID"
[ -z "$(db_sql "$MNT/r_off/mysql.sock" "SELECT @@gtid_binlog_pos")" ] || t_fail "r_off logged replicated transactions"

n_clone=0
# clone_start DATADIR: mysqld_safe on it with a server id of its own. Sets C_SOCK, C_DIR.
clone_start() {
	n_clone=$((n_clone + 1))
	C_DIR="$T/run$n_clone"
	mkdir -p "$C_DIR"
	chown mysql:mysql "$C_DIR"
	mysqld_safe --no-defaults --datadir="$1" --socket="$C_DIR/mysql.sock" --pid-file="$C_DIR/mysqld.pid" \
		--log-error="$C_DIR/error.log" --skip-networking --user=mysql --server-id=$((100 + n_clone)) \
		>"$C_DIR/mysqld_safe.log" 2>&1 &
	t_on_exit "db_stop '$C_DIR'"
	C_SOCK="$C_DIR/mysql.sock"
	t_wait_for "mariadb-admin --no-defaults -S '$C_SOCK' -u root ping >/dev/null 2>&1" 120 ||
		{ tail -20 "$C_DIR/error.log"; t_fail "the clone in $1 did not start"; }
}
# starts_clean DATADIR: no replica state in it (the server writes an empty multi-master.info when
# it starts), then started: nothing configured, no relay-log error.
starts_clean() {
	local f
	for f in master.info relay-log.info multi-master.info; do
		[ ! -e "$1/$f" ] || t_fail "the clone carries $f"
	done
	ls "$1" | grep -q -- '-relay-bin' && t_fail "the clone carries relay logs: $(ls "$1" | grep -- '-relay-bin')"
	clone_start "$1"
	[ -z "$(mariadb --no-defaults -S "$C_SOCK" -u root -e 'SHOW ALL SLAVES STATUS')" ] ||
		t_fail "the clone starts with replication configured"
	grep -Ei "relay log|master info" "$C_DIR/error.log" && t_fail "the clone's error log complains about replica state"
	return 0
}
# replicate SOCK HOST PORT [STATEMENTS]: CHANGE MASTER TO HOST:PORT, the statements, START SLAVE.
replicate() {
	db_sql "$1" "CHANGE MASTER TO MASTER_HOST='$2', MASTER_PORT=$3, MASTER_USER='repl', MASTER_PASSWORD='repl-pw',
		MASTER_CONNECT_RETRY=1; ${4:-} START SLAVE;"
}
running() {
	t_wait_for "[ \"\$(slave_field '$1' Slave_SQL_Running)\" = Yes ] && [ \"\$(slave_field '$1' Slave_IO_Running)\" = Yes ]" 60 ||
		{ mariadb --no-defaults -S "$1" -u root -e "SHOW SLAVE STATUS\G"; t_fail "replication does not run on $1"; }
}
facts() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["replication"]; print(d["gtid_pos"] + "|" + r["gtid_binlog_pos"] + "|" + r["gtid_slave_pos"])' "$1/clonefs_info.json"; }

# The clones made a replica of the primary are checked once the load has stopped.
to_check=()
declare -A GTIDS
for r in r_off r_on; do
	R_SOCK="$MNT/$r/mysql.sock"
	for method in btrfs mariabackup; do
		t_log "== $r ($(db_sql "$R_SOCK" 'SELECT @@log_slave_updates')), --snapshot-method=$method"
		# The primary is written while each snapshot is made (and only then: the clones catch up faster).
		db_write_load_start "$P_SOCK"
		sleep 1
		PORT=$(t_free_port)
		cfs_start_donor "$T/d-$r-$method" "$PORT" "$R_SOCK" "$MNT/$r/data" --snapshot-method="$method" \
			--state-dir="$MNT/state-$r-$method"
		mnt="$T/mnt-$r-$method"
		mkdir -p "$mnt"
		CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$mnt" \
			-o "ssl_mode=disabled,cache_dir=$T/cache-$r-$method"
		db_write_load_stop
		t_on_exit "fusermount3 -u '$mnt' 2>/dev/null || true"
		c="$T/c-$r-$method"
		"$CLONEFS_BIN/clonefs" materialize "$mnt" "$c" --owner=mysql --no-progress >"$T/mat.out"
		grep -q "to make it a replica: $c/clonefs_slave_info" "$T/mat.out" || { cat "$T/mat.out"; t_fail "materialize does not name clonefs_slave_info"; }
		GTIDS[$method-$r]=$(facts "$c")
		t_log "facts gtid_pos|gtid_binlog_pos|gtid_slave_pos: ${GTIDS[$method-$r]}"
		IFS='|' read -r gpos gbin gslave <<<"${GTIDS[$method-$r]}"
		[ -n "$gpos" ] && [ "$gpos" = "$gslave" ] || t_fail "$method: gtid_pos '$gpos' is not the replica's gtid_slave_pos '$gslave'"
		if [ $r = r_on ]; then
			[ "$gbin" = "$gpos" ] || t_fail "$method: gtid_binlog_pos '$gbin' differs from gtid_pos '$gpos' with log_slave_updates ON"
		else
			[ -z "$gbin" ] || t_fail "$method: gtid_binlog_pos '$gbin' with log_slave_updates OFF"
		fi
		grep -q "^SET GLOBAL gtid_slave_pos = '$gslave';$" "$c/clonefs_slave_info" &&
			grep -q "^CHANGE MASTER TO master_use_gtid = slave_pos;$" "$c/clonefs_slave_info" ||
			{ cat "$c/clonefs_slave_info"; t_fail "$method: clonefs_slave_info lacks the GTID statements"; }
		# mariabackup --slave-info gives no file and position when the replica uses GTID.
		[ $method = mariabackup ] || grep -q "primary's file and position: CHANGE MASTER TO MASTER_LOG_FILE='binlog.[0-9]*', MASTER_LOG_POS=[0-9]*;" "$c/clonefs_slave_info" ||
			{ cat "$c/clonefs_slave_info"; t_fail "$method: clonefs_slave_info lacks the primary's coordinates"; }
		if [ $r = r_on ]; then
			"$CLONEFS_BIN/clonefs" materialize "$mnt" "$c-of-donor" --owner=mysql --no-progress >/dev/null
		fi
		fusermount3 -u "$mnt"
		kill "$CFS_DONOR_PID"
		wait "$CFS_DONOR_PID" 2>/dev/null || true
		grep -i "error" "$T/d-$r-$method/clonefsd.log" && t_fail "clonefsd logged an error"

		t_log "$method: the clone starts clean and follows the primary from clonefs_slave_info"
		starts_clean "$c"
		replicate "$C_SOCK" 127.0.0.1 "$P_PORT" "$(grep -v '^--' "$c/clonefs_slave_info")"
		running "$C_SOCK"
		to_check+=("$C_SOCK $R_SOCK")
		if [ $r = r_on ]; then
			t_log "$method: a second clone of the snapshot follows the donor replica from clonefs_binlog_info"
			IFS=$'\t' read -r bfile bpos _ <"$c-of-donor/clonefs_binlog_info"
			starts_clean "$c-of-donor"
			replicate "$C_SOCK" 127.0.0.1 "${R_PORT_r_on}" "CHANGE MASTER TO MASTER_LOG_FILE='$bfile', MASTER_LOG_POS=$bpos;"
			running "$C_SOCK"
			to_check+=("$C_SOCK $R_SOCK")
		fi
	done
done

want=$(db_sql "$P_SOCK" "SELECT @@gtid_binlog_pos")
t_log "load stopped at $want: every clone catches up; its checksums equal its donor replica's, its data the primary's"
# The mysql schema's grant and routine tables are each server's own (mariadb-install-db made them).
db_checksums "$P_SOCK" | grep -v '^mysql\.' >"$T/primary.sum"
for r in r_off r_on; do
	caught_up "$MNT/$r/mysql.sock" "$want" || t_fail "replica $r did not reach $want"
done
for pair in "${to_check[@]}"; do
	read -r s donor <<<"$pair"
	caught_up "$s" "$want" || { mariadb --no-defaults -S "$s" -u root -e "SHOW SLAVE STATUS\G"; t_fail "$s did not reach $want"; }
	[ "$(slave_field "$s" Last_SQL_Errno)" = 0 ] || t_fail "$s: replication error $(slave_field "$s" Last_SQL_Error)"
	db_checksums "$s" >"$T/clone.sum"
	diff <(db_checksums "$donor") "$T/clone.sum" >"$T/diff" || { cat "$T/diff"; t_fail "$s's checksums differ from its donor's"; }
	diff "$T/primary.sum" <(grep -v '^mysql\.' "$T/clone.sum") >"$T/diff" || { cat "$T/diff"; t_fail "$s's data differs from the primary's"; }
done
t_log "${#to_check[@]} clones caught up with equal checksums"

t_log "== dir: a stopped replica's datadir starts clean and follows the primary"
caught_up "$MNT/r_off/mysql.sock" "$want" || t_fail "r_off did not catch up"
db_stop "$MNT/r_off"
PORT=$(t_free_port)
cfs_start_donor "$T/d-dir" "$PORT" "$P_SOCK" "$MNT/r_off/data" --snapshot-method=dir
mkdir -p "$T/mnt-dir"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt-dir" -o "ssl_mode=disabled,cache_dir=$T/cache-dir"
t_on_exit "fusermount3 -u '$T/mnt-dir' 2>/dev/null || true"
[ -e "$MNT/r_off/data/master.info" ] || t_fail "the stopped replica has no master.info to leave out"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt-dir" "$T/c-dir" --owner=mysql --no-progress >/dev/null
fusermount3 -u "$T/mnt-dir"
starts_clean "$T/c-dir"
# Its own mysql.gtid_slave_pos carries the replica's position.
replicate "$C_SOCK" 127.0.0.1 "$P_PORT" "CHANGE MASTER TO MASTER_USE_GTID=slave_pos;"
db_sql "$P_SOCK" "INSERT INTO sample.txlog (note) VALUES ('after the dir clone')"
caught_up "$C_SOCK" || t_fail "the dir clone did not catch up"
diff <(db_checksums "$P_SOCK" | grep -v '^mysql\.') <(db_checksums "$C_SOCK" | grep -v '^mysql\.') >"$T/diff" ||
	{ cat "$T/diff"; t_fail "the dir clone's data differs from the primary's"; }
t_log "PASS: clones of replicas (log_slave_updates OFF and ON; btrfs, mariabackup, dir) start clean and replicate from the recorded positions"
