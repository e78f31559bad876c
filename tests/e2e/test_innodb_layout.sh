#!/usr/bin/env bash
# test_innodb_layout.sh: donors whose InnoDB files are not all in the datadir. Undo tablespaces
# (--innodb-undo-tablespaces=3 --innodb-undo-directory elsewhere) and the redo log
# (--innodb-log-group-home-dir elsewhere) in the datadir's btrfs subvolume: the btrfs, mariabackup
# and auto methods each give a clone holding them in its data directory, which starts with
# mysqld_safe --datadir alone, says so (clonefs_info.json, materialize's output), and equals the
# donor (checksums). The redo log on another file system: --snapshot-method=btrfs is refused with
# one 7005 naming ib_logfile0 and mariabackup, and auto takes mariabackup, whose clone starts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/btrfs.sh"
command -v mariabackup >/dev/null || t_skip "mariabackup is not installed"

T=$(t_tmpdir)
btrfs_loop_mount "$T" 1G
MNT=$BTRFS_MNT
btrfs_subvol "$MNT/sub"
mkdir -p "$MNT/sub/undo" "$MNT/sub/redo" "$MNT/sub/undo-b" "$T/redo"
chown mysql:mysql "$MNT/sub/undo" "$MNT/sub/redo" "$MNT/sub/undo-b" "$T/redo"

t_log "donor A: undo tablespaces in $MNT/sub/undo, redo log in $MNT/sub/redo (the datadir's subvolume)"
DB_INSTALL_ARGS="--innodb-undo-tablespaces=3 --innodb-undo-directory=$MNT/sub/undo --innodb-log-group-home-dir=$MNT/sub/redo" \
	db_start "$MNT/sub/a" --innodb-undo-tablespaces=3 --innodb-undo-directory="$MNT/sub/undo" \
	--innodb-log-group-home-dir="$MNT/sub/redo"
A_SOCK="$MNT/sub/a/mysql.sock"
ls "$MNT/sub/undo" | grep -q '^undo003$' || t_fail "the donor has no undo003 in $MNT/sub/undo: $(ls "$MNT/sub/undo")"
[ -e "$MNT/sub/redo/ib_logfile0" ] && [ ! -e "$MNT/sub/a/data/ib_logfile0" ] || t_fail "the redo log is not in $MNT/sub/redo"
db_load_sample "$A_SOCK" 4
cfs_make_clone_user "$A_SOCK" cloner 'pw'
db_checksums "$A_SOCK" >"$T/a.sum"

# clone NAME SOCK DATADIR METHOD [-- expect]: clonefsd with METHOD, mount, materialize into $T/c-NAME,
# mysqld_safe on it with nothing but --datadir; checksums equal the donor's (file $T/NAME.sum).
clone() {
	local name=$1 sock=$2 datadir=$3 method=$4 port
	port=$(t_free_port)
	cfs_start_donor "$T/d-$name" "$port" "$sock" "$datadir" --snapshot-method="$method" --state-dir="$MNT/state-$name"
	mkdir -p "$T/mnt-$name"
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$port" "$T/mnt-$name" \
		-o "ssl_mode=disabled,cache_dir=$T/cache-$name"
	t_on_exit "fusermount3 -u '$T/mnt-$name' 2>/dev/null || true"
	CLONE_METHOD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["donor"]["method"])' "$T/mnt-$name/.clonefs/status")
	"$CLONEFS_BIN/clonefs" materialize "$T/mnt-$name" "$T/c-$name" --owner=mysql --no-progress >"$T/mat-$name.out"
	fusermount3 -u "$T/mnt-$name"
	kill "$CFS_DONOR_PID"
	wait "$CFS_DONOR_PID" 2>/dev/null || true
}
check_clone() { # name donor-sum: started with only --datadir, equal checksums
	local name=$1 f
	for f in undo001 undo002 undo003 ib_logfile0; do
		[ -f "$T/c-$name/$f" ] || t_fail "$name: the clone has no $f in its data directory: $(ls "$T/c-$name")"
	done
	grep -q "^note: the donor kept .*undo001.* outside its datadir; the clone has them in its data directory: start it with innodb_undo_directory=. innodb_log_group_home_dir=." "$T/mat-$name.out" ||
		{ cat "$T/mat-$name.out"; t_fail "$name: materialize does not say where the undo and redo files went"; }
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "innodb_undo_directory=." in d["innodb_note"]' "$T/c-$name/clonefs_info.json" ||
		t_fail "$name: clonefs_info.json has no innodb_note"
	db_start_safe "$T/c-$name" "$T/run-$name"
	diff "$2" <(db_checksums "$T/run-$name/mysql.sock") >"$T/diff" || { cat "$T/diff"; t_fail "$name: checksums differ from the donor's"; }
	db_stop "$T/run-$name"
}

for method in btrfs mariabackup auto; do
	t_log "donor A, --snapshot-method=$method"
	clone "a-$method" "$A_SOCK" "$MNT/sub/a/data" "$method"
	[ $method != auto ] || [ "$CLONE_METHOD" = btrfs ] || t_fail "auto took $CLONE_METHOD for donor A, not btrfs"
	check_clone "a-$method" "$T/a.sum"
	t_log "ok: $method clone starts with --datadir alone, $(wc -l <"$T/a.sum") checksums equal"
done
db_stop "$MNT/sub/a"

t_log "donor B: the redo log in $T/redo, off the datadir's subvolume"
DB_INSTALL_ARGS="--innodb-undo-tablespaces=3 --innodb-undo-directory=$MNT/sub/undo-b --innodb-log-group-home-dir=$T/redo" \
	db_start "$MNT/sub/b" --innodb-undo-tablespaces=3 --innodb-undo-directory="$MNT/sub/undo-b" --innodb-log-group-home-dir="$T/redo"
B_SOCK="$MNT/sub/b/mysql.sock"
db_load_sample "$B_SOCK" 2
cfs_make_clone_user "$B_SOCK" cloner 'pw'
db_checksums "$B_SOCK" >"$T/b.sum"
port=$(t_free_port)
cfs_start_donor "$T/d-b" "$port" "$B_SOCK" "$MNT/sub/b/data" --snapshot-method=btrfs --state-dir="$MNT/state-b"
mkdir -p "$T/mnt-b"
rc=0
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$port" "$T/mnt-b" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-b" 2>"$T/err" || rc=$?
[ $rc = 1 ] || { fusermount3 -u "$T/mnt-b"; t_fail "btrfs with the redo log off the subvolume: mount exit $rc"; }
cfs_assert_one_error "$T/err" 7005
grep -q "the redo log '$T/redo/ib_logfile0' is outside '$MNT/sub'.*--snapshot-method=mariabackup" "$T/err" ||
	{ cat "$T/err"; t_fail "the refusal does not name the redo log and the method that works"; }
t_log "ok: $(cat "$T/err")"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
"$CLONEFS_BIN/clonefsd" --explain-methods --datadir="$MNT/sub/b/data" --state-dir="$MNT/state-b" >"$T/explain" || true
clone "b-auto" "$B_SOCK" "$MNT/sub/b/data" auto
[ "$CLONE_METHOD" = mariabackup ] || t_fail "auto took $CLONE_METHOD for donor B, not mariabackup"
grep -q "btrfs.*refused: the redo log" "$T/d-b-auto/clonefsd.log" && t_fail "auto tried btrfs"
check_clone "b-auto" "$T/b.sum"
t_log "PASS: undo and redo outside the datadir: btrfs, mariabackup and auto clones start and equal the donor; btrfs refuses a redo log off its subvolume, auto takes mariabackup"
