#!/usr/bin/env bash
# test_btrfs_snapshot.sh: --snapshot-method=btrfs on a MariaDB donor under a write load, its datadir
# a plain directory inside a btrfs subvolume (loop-mounted image): the snapshot is a read-only
# subvolume taken under BACKUP STAGE BLOCK_COMMIT; the clone starts (InnoDB crash recovery) and the
# donor's binary log replayed from the recorded position reaches exactly the donor's checksums;
# the subvolume is made beside the datadir (DATADIR/../.clonefs-snapshots/ID/subvol), --state-dir
# holds metadata only. A snapshot left the way clonefsd made them before D46 (the subvolume in
# --state-dir) is reloaded after a kill -9 and restart, served, and deleted after the TTL. Also:
# --explain-methods, auto takes btrfs; a state dir off btrfs works (the snapshot is served, reloaded
# after a kill -9, both its parts removed after the TTL); a kill -9 between the subvolume and the
# metadata, and subvolume data nobody's metadata names, leave nothing after a restart; a tablespace
# elsewhere in the subvolume is served from the snapshot (not its live path), one off the subvolume
# makes auto take mariabackup and --snapshot-method=btrfs refuse with 7005 naming it. CLONE LOCAL
# into another subvolume of the same btrfs is a reflink snapshot, not a copy; of a datadir that is a
# subvolume of its own, a writable btrfs snapshot, equal to the donor after binlog replay.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

. "$here/../lib/btrfs.sh"
T=$(t_tmpdir)
btrfs_loop_mount "$T"
MNT=$BTRFS_MNT
btrfs_subvol "$MNT/sub"

t_log "MariaDB donor with its datadir at $MNT/sub/donor/data (subvolume $MNT/sub)"
db_start "$MNT/sub/donor"
DONOR_SOCK="$MNT/sub/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 10
cfs_make_clone_user "$DONOR_SOCK" cloner 'pw'
# State dir on the same filesystem, in its top-level subvolume (as before D46: it still works).
STATE="$MNT/state"
SNAPS="$MNT/sub/donor/.clonefs-snapshots" # the default snapshot dir: beside the datadir
mkdir -p "$T/d"

db_write_load_start "$DONOR_SOCK"
PORT=$(t_free_port)
# The snapshot is kept while the clone starts and replays, however long that takes on a busy host;
# the restarted clonefsd below expires it after 3 s.
cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/sub/donor/data" \
	--snapshot-method=btrfs --state-dir="$STATE" --snapshot-ttl=600
sleep 1 # let the load commit while the snapshot is taken

t_log "mount while the donor is being written"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache,network_timeout=60"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
db_write_load_stop

status=$(cat "$T/mnt/.clonefs/status")
field() { echo "$status" | cfs_status_field - "$1"; }
id=$(field snapshot_id)
method=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["donor"]["method"])')
[ "$method" = btrfs ] || t_fail "the snapshot's method is '$method', not btrfs"
binlog_file=$(field binlog_file)
binlog_pos=$(field binlog_pos)
[ -n "$binlog_file" ] && [ -n "$binlog_pos" ] || t_fail "no binlog position recorded in the status"
grep -q "snapshot $id: backup lock held for [0-9]* ms (BACKUP STAGE BLOCK_COMMIT to BACKUP STAGE END)" "$T/d/clonefsd.log" ||
	{ cat "$T/d/clonefsd.log"; t_fail "clonefsd did not log how long the backup lock was held"; }
lock_line=$(grep -o "backup lock held for [0-9]* ms" "$T/d/clonefsd.log")
# assert_subvol DIR: DIR/subvol is a read-only btrfs subvolume.
assert_subvol() {
	btrfs subvolume show "$1/subvol" >"$T/subvol.txt" 2>&1 || { cat "$T/subvol.txt"; t_fail "no subvolume at $1/subvol"; }
	grep -q "Flags:.*readonly" "$T/subvol.txt" || { cat "$T/subvol.txt"; t_fail "the subvolume $1/subvol is not read-only"; }
}
assert_subvol "$SNAPS/$id"
[ -e "$STATE/$id/snapshot.meta" ] && [ ! -e "$STATE/$id/subvol" ] || { ls -la "$STATE/$id"; t_fail "$STATE/$id does not hold the metadata alone"; }
t_log "snapshot $id: read-only subvolume $SNAPS/$id/subvol, binlog $binlog_file:$binlog_pos, $lock_line"
ls "$T/mnt" | grep -Eq '^binlog|\.pid$|^mysql\.sock$' && t_fail "binary logs, pid files or sockets are served"

t_log "materialize"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress
read -r f p g <"$T/clone/clonefs_binlog_info" || true
[ "$f" = "$binlog_file" ] && [ "$p" = "$binlog_pos" ] ||
	t_fail "clonefs_binlog_info '$f $p' disagrees with the status '$binlog_file $binlog_pos'"

t_log "start the clone with mysqld_safe --datadir (InnoDB crash recovery)"
db_start_safe "$T/clone" "$T/clone-run"
CLONE_SOCK="$T/clone-run/mysql.sock"
grep -Eq "Starting crash recovery|crash recovery" "$T/clone-run/error.log" &&
	t_log "the clone's error log: $(grep -Em1 "crash recovery" "$T/clone-run/error.log" | sed 's/^.*\[Note\] //')"

t_log "replay the donor's binary log from $binlog_file:$binlog_pos into the clone"
cfs_replay_and_compare "$MNT/sub/donor" "$binlog_file" "$binlog_pos" "$DONOR_SOCK" "$CLONE_SOCK"
t_log "$CFS_NSUMS checksums equal (donor vs clone + binlog replay from the snapshot position)"

t_log "CLONE LOCAL into another subvolume of the datadir's btrfs: a reflink snapshot (reflinks cross subvolumes), not a copy"
btrfs_subvol "$MNT/local"
"$CLONEFS_BIN/clonefs" clone "CLONE LOCAL DATA DIRECTORY = '$MNT/local/clone'" --socket="$DONOR_SOCK" -u root \
	>"$T/local.out" 2>"$T/local.err" || { cat "$T/local.out" "$T/local.err"; t_fail "CLONE LOCAL failed"; }
grep -q "^CLONE LOCAL DATA DIRECTORY '$MNT/local/clone': a reflink snapshot of '$MNT/sub/donor/data'" "$T/local.out" ||
	{ cat "$T/local.out"; t_fail "CLONE LOCAL into another subvolume was not a reflink snapshot"; }
db_start_safe "$MNT/local/clone" "$T/local-run"
cfs_assert_same_data "$DONOR_SOCK" "$T/local-run/mysql.sock" "CLONE LOCAL into another subvolume"
db_stop "$T/local-run"
t_log "ok: $(cut -c1-140 "$T/local.out")...: started, equal to the idle donor"

t_log "CLONE LOCAL of a datadir that is a subvolume of its own, under a write load: a writable btrfs snapshot"
mkdir -p "$MNT/own"
btrfs_subvol "$MNT/own/data"
db_start "$MNT/own"
OWN_SOCK="$MNT/own/mysql.sock"
db_load_sample "$OWN_SOCK" 2
db_write_load_start "$OWN_SOCK"
sleep 0.5
"$CLONEFS_BIN/clonefs" clone "CLONE LOCAL DATA DIRECTORY = '$MNT/local/own'" --socket="$OWN_SOCK" -u root \
	>"$T/own.out" 2>"$T/own.err" || { cat "$T/own.out" "$T/own.err"; t_fail "CLONE LOCAL of a subvolume failed"; }
db_write_load_stop
grep -q "^CLONE LOCAL DATA DIRECTORY '$MNT/local/own': a btrfs subvolume snapshot of '$MNT/own/data'" "$T/own.out" ||
	{ cat "$T/own.out"; t_fail "CLONE LOCAL of a subvolume datadir was not a btrfs snapshot"; }
btrfs subvolume show "$MNT/local/own" >"$T/own-subvol.txt" 2>&1 || { cat "$T/own-subvol.txt"; t_fail "$MNT/local/own is not a subvolume"; }
grep -q "Flags:.*readonly" "$T/own-subvol.txt" && t_fail "the CLONE LOCAL subvolume is read-only"
[ -z "$(ls -A "$MNT/local" | grep clonefs-partial)" ] || { ls -la "$MNT/local"; t_fail "leftovers beside the clone"; }
read -r own_file own_pos _ <"$MNT/local/own/clonefs_binlog_info"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["method"] == "btrfs" and d["binlog_pos"] == sys.argv[2]' \
	"$MNT/local/own/clonefs_info.json" "$own_pos" || t_fail "clonefs_info.json disagrees with clonefs_binlog_info"
db_start_safe "$MNT/local/own" "$T/own-run"
cfs_replay_and_compare "$MNT/own" "$own_file" "$own_pos" "$OWN_SOCK" "$T/own-run/mysql.sock"
db_stop "$T/own-run"
db_stop "$MNT/own"
t_log "ok: $(cut -c1-140 "$T/own.out")...: started, equal to the donor after replay from $own_file:$own_pos"

t_log "kill -9 clonefsd; the snapshot moved back to where clonefsd made them before D46 (its subvolume in"
t_log "--state-dir); restart: it is reloaded, served, and its subvolume deleted after the TTL"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
# Unmounted only now: a snapshot nobody reads expires after its 3 s TTL, which the steps above
# (a server start, a replay) outlast; the restart gives it its TTL again.
fusermount3 -u "$T/mnt"
btrfs -q subvolume snapshot -r "$SNAPS/$id/subvol" "$STATE/$id/subvol" >/dev/null
btrfs -q subvolume delete "$SNAPS/$id/subvol" >/dev/null
rm "$SNAPS/$id/state-dir"
rmdir "$SNAPS/$id"
rm "$STATE/$id/btrfs.where"
# snapshot.meta: {u32 length, SNAP_INFO payload, u16 length, root, u8 owns_root}; its root moves too.
python3 - "$STATE/$id/snapshot.meta" "$SNAPS/$id/subvol" "$STATE/$id/subvol" <<'PY'
import struct, sys
path, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
b = open(path, 'rb').read()
n = struct.unpack('>I', b[:4])[0]
info, rest = b[:4 + n], b[4 + n:]
k = struct.unpack('>H', rest[:2])[0]
root, tail = rest[2:2 + k], rest[2 + k:]
assert root.startswith(old + b'/'), root
root = new + root[len(old):]
open(path, 'wb').write(info + struct.pack('>H', len(root)) + root + tail)
PY
cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/sub/donor/data" \
	--snapshot-method=btrfs --state-dir="$STATE" --snapshot-ttl=3
grep -q "snapshot $id reloaded" "$T/d/clonefsd.log" || { cat "$T/d/clonefsd.log"; t_fail "snapshot $id was not reloaded"; }
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-old,prefetch=off,snapshot=$id"
cmp -s "$T/mnt/sample/t_dynamic.frm" "$STATE/$id/subvol/donor/data/sample/t_dynamic.frm" ||
	{ ls "$T/mnt/sample" | head; t_fail "the reloaded snapshot of the old layout does not serve its subvolume's files"; }
fusermount3 -u "$T/mnt"
t_wait_for "[ ! -e '$STATE/$id' ]" 30 || { cat "$T/d/clonefsd.log"; t_fail "snapshot $id still on the donor after its TTL"; }
btrfs subvolume list "$MNT" >"$T/subvols.txt"
grep -q "$id" "$T/subvols.txt" && { cat "$T/subvols.txt"; t_fail "the subvolume of $id is still listed"; }
t_log "ok: snapshot $id of the old layout reloaded, served, deleted after its TTL"

t_log "--explain-methods sees btrfs whatever --state-dir is"
for sd in "$STATE" "$T/plain-state"; do
	"$CLONEFS_BIN/clonefsd" --explain-methods --datadir="$MNT/sub/donor/data" --state-dir="$sd" >"$T/explain"
	grep -q "^btrfs  *available: the datadir '$MNT/sub/donor/data' is in btrfs subvolume '$MNT/sub'; snapshots go to '$SNAPS'" "$T/explain" &&
		grep -q "^auto  *would take btrfs" "$T/explain" || { cat "$T/explain"; t_fail "--explain-methods does not offer btrfs (--state-dir=$sd)"; }
done

t_log "a state dir off btrfs: the snapshot is served, its subvolume beside the datadir, reloaded after a kill -9"
PSTATE="$T/plain-state"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
PORT2=$(t_free_port) # another donor key (kept in its state dir): another address to pin it to
start_plain() { cfs_start_donor "$T/d2" "$PORT2" "$DONOR_SOCK" "$MNT/sub/donor/data" --snapshot-method=btrfs --state-dir="$PSTATE" --snapshot-ttl=3; }
start_plain
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT2" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-plain,prefetch=off"
id=$(cfs_status_field "$T/mnt" snapshot_id)
assert_subvol "$SNAPS/$id"
[ -e "$PSTATE/$id/snapshot.meta" ] && [ ! -e "$PSTATE/$id/subvol" ] || { ls -la "$PSTATE/$id"; t_fail "$PSTATE/$id does not hold the metadata alone"; }
cmp -s "$T/mnt/sample/t_dynamic.frm" "$SNAPS/$id/subvol/donor/data/sample/t_dynamic.frm" || t_fail "the snapshot is not served from $SNAPS/$id/subvol"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
fusermount3 -u "$T/mnt"
start_plain
grep -q "snapshot $id reloaded" "$T/d2/clonefsd.log" || { cat "$T/d2/clonefsd.log"; t_fail "snapshot $id was not reloaded"; }
t_wait_for "[ ! -e '$PSTATE/$id' ] && [ ! -e '$SNAPS/$id' ]" 30 ||
	{ cat "$T/d2/clonefsd.log"; ls -la "$PSTATE" "$SNAPS"; t_fail "snapshot $id still on the donor after its TTL"; }
btrfs subvolume list "$MNT" >"$T/subvols.txt"
grep -q "$id" "$T/subvols.txt" && { cat "$T/subvols.txt"; t_fail "the subvolume of $id is still listed"; }
t_log "ok: snapshot $id at $SNAPS/$id/subvol with its metadata in $PSTATE, reloaded, both removed after the TTL"

t_log "kill -9 between the subvolume and the metadata, and a subvolume nobody's metadata names: a restart leaves nothing"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
CLONEFS_TEST_BTRFS_PAUSE_MS=30000 start_plain
CLONEFS_PASSWORD=pw timeout 60 "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT2" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-crash,prefetch=off" >"$T/crash-mount.out" 2>&1 &
mpid=$!
t_wait_for "grep -q 'CLONEFS_TEST_BTRFS_PAUSE_MS: pausing 30000 ms' '$T/d2/clonefsd.log'" 30 ||
	{ cat "$T/d2/clonefsd.log"; t_fail "the snapshot did not reach its pause"; }
crash=$(ls "$SNAPS")
[ "$(echo "$crash" | wc -w)" = 1 ] && [ -e "$PSTATE/$crash/btrfs.where" ] && [ ! -e "$PSTATE/$crash/snapshot.meta" ] ||
	{ ls -la "$SNAPS" "$PSTATE"/*; t_fail "not one snapshot half made"; }
assert_subvol "$SNAPS/$crash"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
kill "$mpid" 2>/dev/null || true # no retry may ask the restarted clonefsd for a snapshot
wait "$mpid" 2>/dev/null || true
orphan=20260101-000000-0123456789ab
mkdir "$SNAPS/$orphan"
btrfs -q subvolume snapshot -r "$MNT/sub" "$SNAPS/$orphan/subvol" >/dev/null
# Another clonefsd's snapshot (its state dir elsewhere) in the same snapshot dir: not ours to sweep.
theirs=20260101-000000-0123456789ac
mkdir -p "$SNAPS/$theirs/data"
printf '%s' "$T/another-state" >"$SNAPS/$theirs/state-dir"
start_plain
[ -d "$SNAPS/$theirs/data" ] || t_fail "the restart removed $SNAPS/$theirs, another clonefsd's snapshot"
rm -r "${SNAPS:?}/$theirs"
[ -z "$(ls -A "$SNAPS")" ] && [ ! -e "$PSTATE/$crash" ] ||
	{ cat "$T/d2/clonefsd.log"; ls -la "$SNAPS" "$PSTATE"; t_fail "the restart left snapshot data behind"; }
btrfs subvolume list "$MNT" >"$T/subvols.txt"
grep -Eq "$crash|$orphan" "$T/subvols.txt" && { cat "$T/subvols.txt"; t_fail "a subvolume of $crash or $orphan is still listed"; }
t_log "ok: the half-made snapshot $crash and the orphan $orphan removed at the restart, another clonefsd's $theirs kept"

t_log "auto takes btrfs; a tablespace outside the datadir but in its subvolume is served from the snapshot"
mkdir -p "$MNT/sub/ext"
chown mysql:mysql "$MNT/sub/ext"
db_sql "$DONOR_SOCK" "CREATE TABLE sample.t_in (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB DATA DIRECTORY='$MNT/sub/ext';
	INSERT INTO sample.t_in SELECT seq, REPEAT('x', 200) FROM sample.seq_1_to_100"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/sub/donor/data" \
	--snapshot-method=auto --state-dir="$STATE" --snapshot-ttl=3
mkdir -p "$T/mnt2"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=disabled,cache_dir=$T/cache2,prefetch=off"
t_on_exit "fusermount3 -u '$T/mnt2' 2>/dev/null || true"
st2() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["donor"]["method"], d["snapshot_id"])' "$T/mnt2/.clonefs/status"; }
read -r method id2 < <(st2)
[ "$method" = btrfs ] || t_fail "--snapshot-method=auto took '$method', not btrfs"
live="$MNT/sub/ext/sample/t_in.ibd"
# The live tablespace changes after the snapshot; the mount (lazy: nothing read yet) must serve the snapshot's copy.
db_sql "$DONOR_SOCK" "INSERT INTO sample.t_in SELECT seq, REPEAT('y', 200) FROM sample.seq_101_to_3000;
	FLUSH TABLES sample.t_in FOR EXPORT; UNLOCK TABLES"
cmp -s "$T/mnt2/.external$live" "$SNAPS/$id2/subvol/ext/sample/t_in.ibd" ||
	t_fail "the external tablespace served differs from the snapshot's copy"
cmp -s "$T/mnt2/.external$live" "$live" && t_fail "the external tablespace is served from its live path"
t_log "ok: .external$live read through the mount equals the snapshot's copy, not the live file ($(stat -c %s "$T/mnt2/.external$live") vs $(stat -c %s "$live") bytes)"
fusermount3 -u "$T/mnt2"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/sub/donor/data" \
	--snapshot-method=auto --state-dir="$STATE" --snapshot-ttl=3
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=disabled,cache_dir=$T/cache2b,prefetch=off,snapshot=$id2"
cmp -s "$T/mnt2/.external$live" "$SNAPS/$id2/subvol/ext/sample/t_in.ibd" ||
	t_fail "after a restart, the external tablespace served differs from the snapshot's copy"
fusermount3 -u "$T/mnt2"
t_log "ok: the same after a kill -9 and restart of clonefsd (snapshot $id2 reloaded)"
t_log "a tablespace outside the subvolume: auto takes mariabackup, btrfs is refused with 7005 naming it"
mkdir -p "$T/ext"
chown mysql:mysql "$T/ext"
db_sql "$DONOR_SOCK" "CREATE TABLE sample.t_ext (id INT PRIMARY KEY) ENGINE=InnoDB DATA DIRECTORY='$T/ext'"
# auto no longer takes btrfs for it: a method that works (mariabackup).
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=disabled,cache_dir=$T/cache3a,prefetch=off"
read -r method _ < <(st2)
fusermount3 -u "$T/mnt2"
[ "$method" = mariabackup ] || t_fail "auto took '$method' with a tablespace off the subvolume, not mariabackup"
t_log "ok: auto takes mariabackup"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/sub/donor/data" \
	--snapshot-method=btrfs --state-dir="$STATE" --snapshot-ttl=3
before=$(ls "$STATE" "$SNAPS")
rc=0
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=disabled,cache_dir=$T/cache3" 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "a donor with a tablespace off the subvolume: mount exit $rc"
cfs_assert_one_error "$T/err" 7005
grep -q "'$T/ext/sample/t_ext.ibd' is not on the datadir's subvolume" "$T/err" || { cat "$T/err"; t_fail "the refusal does not name the tablespace"; }
t_log "ok: $(cat "$T/err")"
[ "$(ls "$STATE" "$SNAPS")" = "$before" ] || { ls -la "$STATE" "$SNAPS"; t_fail "a refused snapshot left files in $STATE or $SNAPS"; }
t_log "PASS: btrfs snapshot $id ($lock_line), clone recovered, replay equals donor, subvolume deleted after the TTL"
