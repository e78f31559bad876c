#!/usr/bin/env bash
# test_donor_protocol.sh: clonefsd held to docs/protocol.md by a recipient written from the spec
# alone (test_donor_protocol.py), against a real MariaDB: the server's errors relayed exactly (1045,
# 1227, a mariabackup failure as 7005), no password in clear, replayed AUTH and foreign protocol
# versions refused (3863), malformed frames answered with 7000; a mariabackup snapshot whose every
# chunk matches its digest (protocol 2's XXH64, checked with libxxhash; protocol 1's SHA-256 on a
# client that asks for version 1 only) and the snapshot's files, PROGRESS while it is made, no metadata, pid
# files or binary logs in it, an external tablespace under .external/, and a tree built from the
# chunks alone that mysqld starts on with the donor's checksums; one snapshot made at a time (3634),
# sharing by id, --max-connections (3634), TTL expiry, reload after kill -9, a clean stop during a
# snapshot; the dir method refusing a live datadir, sending holes as zero chunks and leaving out
# symlinks that leave the tree; start-up errors as one line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
PY="python3 $here/test_donor_protocol.py"

T=$(t_tmpdir)
# This test is the donor refusing things: every refusal and broken session is logged, as it should.
t_log_expect "authentication of '[a-z]*' refused: ERROR [0-9]+ "
t_log_expect "session of '[a-z]*' ended: "
t_log_expect "snapshot '[^']*' for '[a-z]*' refused: ERROR [0-9]+ "
t_log_expect "snapshot [0-9a-f-]+ failed: ERROR 7005: mariabackup --backup (failed: FATAL ERROR: failed to execute query SHOW MASTER STATUS: Access denied|stopped: clonefsd is stopping)"
db_start "$T/donor"
SOCK="$T/donor/mysql.sock"
db_load_sample "$SOCK" 5
mkdir -p "$T/ext" && chown mysql:mysql "$T/ext"
db_sql "$SOCK" "CREATE TABLE sample.t_ext (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB DATA DIRECTORY='$T/ext';
	INSERT INTO sample.t_ext VALUES (1, 'outside'), (2, 'the datadir');
	CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weak-pw'; GRANT SELECT ON *.* TO 'weak'@'localhost';
	CREATE USER 'ronly'@'localhost' IDENTIFIED BY 'ronly-pw'; GRANT RELOAD ON *.* TO 'ronly'@'localhost';
	CREATE USER 'rp'@'localhost' IDENTIFIED BY 'rp-pw'; GRANT RELOAD, PROCESS ON *.* TO 'rp'@'localhost';"
# A password that needs quoting in mariabackup's defaults file: backslash, quote, '#', ';'.
cfs_make_clone_user "$SOCK" cloner 'S3c\\r "pw" #x;'
export CFS_USER=cloner CFS_PASSWORD='S3c\r "pw" #x;'
tls_make "$T/tls"

# mariabackup as clonefsd runs it, made slow on demand ($T/slow seconds before --backup).
mkdir -p "$T/wrap"
printf '#!/bin/sh\n[ "$2" = --backup ] && sleep "$(cat %s/slow 2>/dev/null || echo 0)"\nexec %s "$@"\n' \
	"$T" "$(command -v mariabackup)" >"$T/wrap/mariabackup"
chmod 755 "$T/wrap/mariabackup"
slow() { echo "$1" >"$T/slow"; }
donor() { # donor DIR PORT [options]: clonefsd with the slow-able mariabackup
	local dir=$1 port=$2
	shift 2
	PATH="$T/wrap:$PATH" cfs_start_donor "$dir" "$port" "$SOCK" "$T/donor/data" "$@"
}

PORT=$(t_free_port)
donor "$T/a" "$PORT" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem" \
	--snapshot-ttl=4 --max-connections=4
STATE="$T/a/state"

t_log "authentication: the server's own errors, and no password in clear"
$PY "$PORT" auth_error cloner wrong-pw 1045 28000 "Access denied for user 'cloner'@'localhost' (using password: YES)"
CFS_TLS=1 $PY "$PORT" auth_error cloner wrong-pw 1045 28000 "Access denied for user 'cloner'@'localhost' (using password: YES)"
$PY "$PORT" auth_error weak weak-pw 1227 42000 "Access denied; you need (at least one of) the RELOAD privilege(s) for this operation"
$PY "$PORT" clear_without_tls
$PY "$PORT" replay
$PY "$PORT" version
$PY "$PORT" garbage

t_log "a mariabackup snapshot over TLS, read whole through the protocol"
slow 3
out=$(CFS_TLS=1 CFS_CA="$T/tls/ca.pem" $PY "$PORT" snapshot "$STATE" "$T/tree" 1)
echo "$out"
ID=$(echo "$out" | sed -n 's/^SNAPSHOT //p')
[ -n "$ID" ] || t_fail "no snapshot id"
slow 0
[ -f "$T/tree/.external$T/ext/sample/t_ext.ibd" ] || t_fail "the external tablespace is not under .external/"
[ ! -e "$T/tree/sample/t_ext.ibd" ] || t_fail "the external tablespace is also in its schema directory"

t_log "mysqld starts on the tree built from the chunks, with the donor's data"
mkdir -p "$T/relocated/sample"
mv "$T/tree/.external$T/ext/sample/t_ext.ibd" "$T/relocated/sample/t_ext.ibd"
rm -rf "$T/tree/.external"
printf '%s' "$T/relocated/sample/t_ext.ibd" >"$T/tree/sample/t_ext.isl"
chown -R mysql:mysql "$T/tree" "$T/relocated"
db_start_safe "$T/tree" "$T/clone"
db_checksums "$SOCK" >"$T/donor.sums"
db_checksums "$T/clone/mysql.sock" >"$T/clone.sums"
diff "$T/donor.sums" "$T/clone.sums" || t_fail "the clone's checksums differ from the donor's"
[ "$(db_sql "$T/clone/mysql.sock" "SELECT GROUP_CONCAT(v ORDER BY id) FROM sample.t_ext")" = "outside,the datadir" ] ||
	t_fail "the external table does not read back on the clone"
db_stop "$T/clone"
t_log "ok: $(wc -l <"$T/donor.sums") checksums equal"

t_log "one snapshot made at a time; the second recipient shares it by id"
slow 3
$PY "$PORT" concurrent >/dev/null
slow 0
$PY "$PORT" maxconn 4
# The server's refusals reach the recipient as they are: a facts query, then mariabackup's own.
CFS_USER=ronly CFS_PASSWORD=ronly-pw $PY "$PORT" snap_error 1227 "PROCESS" 42000
CFS_USER=rp CFS_PASSWORD=rp-pw $PY "$PORT" snap_error 7005 "mariabackup --backup failed: FATAL ERROR: failed to execute query SHOW MASTER STATUS"

t_log "snapshots expire after the TTL once nobody reads them"
t_wait_for "[ -z \"\$(ls '$STATE' | grep -v -e rsa.pem -e rsa-public.pem -e clonefsd.pid)\" ]" 30 ||
	t_fail "snapshots left after the TTL: $(ls "$STATE")"
$PY "$PORT" open "$ID" 7005

t_log "kill -9 and a restart on the same state dir: the snapshot is served again, then expires"
ID=$(CFS_PROTO=1 $PY "$PORT" snapshot "$STATE" - | sed -n 's/^SNAPSHOT //p')
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
mv "$T/a/clonefsd.log" "$T/a/clonefsd.log.1"
donor "$T/a" "$PORT" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem" --snapshot-ttl=4
grep -q "snapshot $ID reloaded" "$T/a/clonefsd.log" || t_fail "snapshot $ID was not reloaded"
$PY "$PORT" open "$ID"
t_wait_for "[ ! -d '$STATE/$ID' ]" 30 || t_fail "snapshot $ID did not expire after the restart"
$PY "$PORT" open "$ID" 7005

t_log "SIGTERM while mariabackup runs: it is stopped, nothing is left, clonefsd exits"
slow 60
($PY "$PORT" snapshot "$STATE" - >"$T/cut.out" 2>&1 || true) &
cut_pid=$!
t_wait_for "pgrep -f '$T/wrap/mariabackup' >/dev/null" 30 || t_fail "mariabackup did not start"
kill -TERM "$CFS_DONOR_PID"
t_wait_for "! kill -0 $CFS_DONOR_PID 2>/dev/null" 30 || t_fail "clonefsd did not stop within 30 s"
wait "$CFS_DONOR_PID" 2>/dev/null || true
slow 0
pgrep -f "$T/wrap/mariabackup" >/dev/null && t_fail "mariabackup outlived clonefsd"
[ -z "$(ls "$STATE" | grep -v -e rsa.pem -e rsa-public.pem)" ] || t_fail "left in the state dir: $(ls "$STATE")"
grep -q "stopped" "$T/a/clonefsd.log" || t_fail "no clean stop in the log"
wait "$cut_pid"  # not a bare wait: the donor's mariadbd is a child of this shell too

t_log "method dir: a live datadir is refused; a cold one is served with holes and safe symlinks"
DPORT=$(t_free_port)
cfs_start_donor "$T/b" "$DPORT" "$SOCK" "$T/donor/data" --snapshot-method=dir
$PY "$DPORT" snap_error 7005 "running server"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
cp -a "$T/tree" "$T/cold"
python3 -c 'import sys; f = open(sys.argv[1], "wb"); f.write(b"x" * 1000); f.seek((5 << 20) + 100); f.write(b"y" * 10)' \
	"$T/cold/sparse.bin"
ln -s ../../etc "$T/cold/escape"
ln -s /etc "$T/cold/abs"
ln -s sample/db.opt "$T/cold/inlink"
touch "$T/cold/mysqld.pid" "$T/cold/host.err" "$T/cold/mysql-bin.000001" "$T/cold/mysql-bin.index"
DPORT=$(t_free_port)
rm -rf "$T/b/state"
cfs_start_donor "$T/b" "$DPORT" "$SOCK" "$T/cold" --snapshot-method=dir
$PY "$DPORT" holes "$T/cold"

t_log "start-up errors: one line each, exit 1"
expect_start_error() { # CODE clonefsd-options...
	local code=$1 rc=0
	shift
	"$CLONEFS_BIN/clonefsd" --socket="$SOCK" --foreground "$@" >"$T/start.out" 2>&1 &
	local pid=$!
	t_wait_for "! kill -0 $pid 2>/dev/null" 10 || { kill "$pid"; t_fail "clonefsd $* did not exit"; }
	wait "$pid" || rc=$?
	[ $rc = 1 ] || t_fail "clonefsd $*: exit $rc"
	cfs_assert_one_error "$T/start.out" "$code"
	t_log "ok: $(cat "$T/start.out")"
}
expect_start_error 7007 --listen="127.0.0.1:$DPORT" --state-dir="$T/c"
expect_start_error 7005 --listen="127.0.0.1:$(t_free_port)" --state-dir="$T/b/state"
expect_start_error 7006 --listen="127.0.0.1:$(t_free_port)" --state-dir="$T/c" --max-connections=none
expect_start_error 2026 --listen="127.0.0.1:$(t_free_port)" --state-dir="$T/c" --ssl-cert=/etc/hostname --ssl-key=/etc/hostname

if grep -h -e 'S3cret' -e 'wrong-pw' -e 'weak-pw' -e 'ronly-pw' -e 'rp-pw' "$T"/a/clonefsd.log* "$T/b/clonefsd.log"; then
	t_fail "a password is in clonefsd's log"
fi
t_log "PASS: clonefsd speaks protocol 1 as written"
