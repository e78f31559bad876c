#!/usr/bin/env bash
# test_reflink_snapshot.sh: --snapshot-method=reflink (taken by auto) on a loop-mounted XFS (or
# btrfs with the datadir in its top-level subvolume: REFLINK_FS=btrfs) with a real MariaDB whose
# redo log and buffer pool are tiny, under a bank-transfer load, so that checkpoints and page
# flushing happen while each snapshot is made. REFLINK_ROUNDS snapshots in a row (default 4, to
# stay near 90 s; `make test-reflink-soak` runs 20 on XFS and 6 on btrfs), each mounted,
# materialized and started: the sum of balances
# holds, mariadb-check is clean, and the donor's binary log replayed from the recorded position
# reaches the donor's checksums. Also: snapshot data beside the datadir, metadata in --state-dir,
# both removed after the TTL; a clonefsd killed mid-snapshot leaves nothing after its restart; a
# redo log that wraps past the recorded checkpoint is refused with one ERROR line and nothing left;
# --explain-methods on XFS/btrfs and on ext4.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/reflink.sh"

FS=${REFLINK_FS:-xfs}
ROUNDS=${REFLINK_ROUNDS:-4}
EXTRAS=${REFLINK_EXTRAS:-1} # the TTL, kill, wrap and ext4 cases
ROWS=20000
command -v losetup >/dev/null || t_skip "losetup is not installed (util-linux)"
T=$(t_tmpdir)
[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf '$T'"
loopfs_mount "$FS" 1G "$T"
MNT=$LOOPFS_MNT

t_log "MariaDB donor on $FS at $MNT/donor/data: 4 MiB redo log (the smallest), 6 MiB buffer pool"
db_start "$MNT/donor" --innodb-log-file-size=4M --innodb-buffer-pool-size=6M
DONOR_SOCK="$MNT/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 2
bank_load "$DONOR_SOCK" "$ROWS"
SUM=$(bank_sum "$DONOR_SOCK")
cfs_make_clone_user "$DONOR_SOCK" cloner 'pw'
STATE="$T/d/state" # metadata: off the datadir's filesystem
SNAPS="$MNT/donor/.clonefs-snapshots"

t_log "--explain-methods: reflink available, auto takes it"
"$CLONEFS_BIN/clonefsd" --explain-methods --datadir="$MNT/donor/data" --state-dir="$STATE" >"$T/explain"
grep -q "^reflink  *available: the datadir '$MNT/donor/data' is on $FS, which shares extents" "$T/explain" &&
	grep -q "^auto  *would take reflink" "$T/explain" || { cat "$T/explain"; t_fail "--explain-methods does not offer reflink"; }

PORT=$(t_free_port)
# The rounds pause 1 s between the two phases (test-only: as a larger datadir's clones would take),
# so that InnoDB's checkpoint moves while each snapshot is made.
start_donor() { cfs_start_donor "$T/d" "$PORT" "$DONOR_SOCK" "$MNT/donor/data" --snapshot-method=auto --snapshot-ttl=2 "$@"; }
CLONEFS_TEST_REFLINK_PAUSE_MS=1000 start_donor
moved=0

load_start() {
	bank_transfers_start "$DONOR_SOCK" "$ROWS" 2
	sleep 0.5
}
load_stop() { bank_transfers_stop; }

for ((round = 1; round <= ROUNDS; round++)); do
	load_start
	mkdir -p "$T/mnt"
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
		-o "ssl_mode=disabled,cache_dir=$T/cache$round,network_timeout=60"
	t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
	load_stop
	read -r method id file pos < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print(d["donor"]["method"], d["snapshot_id"], d["binlog_file"], d["binlog_pos"])' "$T/mnt/.clonefs/status")
	[ "$method" = reflink ] || t_fail "round $round: auto took '$method', not reflink"
	[ -d "$SNAPS/$id/data" ] || { ls -la "$SNAPS" "$STATE" || true; t_fail "round $round: no snapshot data at $SNAPS/$id/data"; }
	[ -e "$STATE/$id/snapshot.meta" ] || t_fail "round $round: no metadata at $STATE/$id"
	[ -e "$STATE/$id/data" ] && t_fail "round $round: snapshot data in the state dir"
	info=$(grep -o "snapshot $id: backup lock held for [0-9]* ms.*" "$T/d/clonefsd.log") ||
		{ cat "$T/d/clonefsd.log"; t_fail "round $round: no lock line in clonefsd's log"; }

	"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress >/dev/null
	fusermount3 -u "$T/mnt"
	db_start_safe "$T/clone" "$T/clone-run"
	CLONE_SOCK="$T/clone-run/mysql.sock"
	sum=$(bank_sum "$CLONE_SOCK")
	[ "$sum" = "$SUM" ] || t_fail "round $round: the clone's sum of balances is $sum, not $SUM"
	db_check_clean "$CLONE_SOCK" "$T/check.out"
	cfs_replay_binlog "$MNT/donor" "$file" "$pos" "$CLONE_SOCK"
	diff <(db_checksums "$DONOR_SOCK") <(db_checksums "$CLONE_SOCK") >"$T/diff" ||
		{ cat "$T/diff"; t_fail "round $round: checksums differ after replaying the binlog from $file:$pos"; }
	recovery=$(grep -c "Starting crash recovery" "$T/clone-run/error.log" || true)
	read -r c0 own < <(echo "$info" | sed -n 's/.*from checkpoint LSN \([0-9]*\) (the copy.s own: \([0-9]*\)).*/\1 \2/p')
	[ "${own:-0}" -gt "${c0:-0}" ] && moved=$((moved + 1))
	db_stop "$T/clone-run"
	rm -rf "$T/clone" "$T/clone-run" "$T/cache$round"
	t_log "round $round/$ROUNDS: snapshot $id at $file:$pos: sum $sum, mariadb-check clean, replay equals donor" \
		"(crash recovery: $recovery; ${info#snapshot $id: })"
done
[ "$(bank_sum "$DONOR_SOCK")" = "$SUM" ] || t_fail "the donor's own sum changed"
t_log "InnoDB's checkpoint moved during $moved of the $ROUNDS snapshots (their redo logs were reset to the earlier one)"
[ $moved -gt 0 ] || t_fail "the checkpoint never moved while a snapshot was made: the test shows nothing"

if [ "$EXTRAS" != 1 ]; then
	t_log "PASS: $ROUNDS reflink snapshots on $FS under load, each recovered, consistent and equal to the donor after replay"
	exit 0
fi
t_log "after the TTL the snapshots' data and metadata are gone"
t_wait_for "[ -z \"\$(ls -A '$SNAPS')\" ] && [ -z \"\$(ls '$STATE' | grep -v -e rsa.pem -e rsa-public.pem -e clonefsd)\" ]" 30 ||
	{ ls -la "$SNAPS" "$STATE"; t_fail "snapshots left after their TTL"; }

t_log "clonefsd killed -9 in the middle of a snapshot: nothing is left after its restart"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
# Also data whose metadata was lost (a state dir wiped): removed at the start too.
mkdir -p "$SNAPS/20200101-000000-0123456789ab/data/sample"
CLONEFS_TEST_REFLINK_PAUSE_MS=20000 start_donor
[ ! -e "$SNAPS/20200101-000000-0123456789ab" ] || t_fail "snapshot data without metadata was not removed at start"
CLONEFS_PASSWORD=pw timeout 60 "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-kill,network_timeout=60" >/dev/null 2>&1 &
mpid=$!
t_wait_for "grep -q 'pausing 20000 ms' '$T/d/clonefsd.log'" 30 || { cat "$T/d/clonefsd.log"; t_fail "the snapshot did not start"; }
[ -n "$(ls -A "$SNAPS")" ] || t_fail "no snapshot data while the snapshot is being made"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
wait "$mpid" 2>/dev/null || true
start_donor
grep -q "removing unfinished or unreadable snapshot" "$T/d/clonefsd.log" || { cat "$T/d/clonefsd.log"; t_fail "the unfinished snapshot was not removed"; }
[ -z "$(ls -A "$SNAPS")" ] || { ls -la "$SNAPS"; t_fail "a killed snapshot left data in $SNAPS"; }
db_sql "$DONOR_SOCK" "SELECT 1" >/dev/null # the server released its backup lock with the connection

t_log "a redo log that wraps past the recorded checkpoint is refused: one ERROR line, nothing left"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
CLONEFS_TEST_REFLINK_PAUSE_MS=3000 start_donor
before=$(ls "$STATE")
(
	t_wait_for "grep -q 'pausing 3000 ms' '$T/d/clonefsd.log'" 30 || exit 0
	# Several times the 4 MiB log while the snapshot waits between its two phases.
	for i in 1 2 3 4 5 6; do
		db_sql "$DONOR_SOCK" "INSERT INTO bank.hist (a, b, amt, pad) SELECT seq, seq, 0, REPEAT('w', 200) FROM bank.seq_1_to_10000"
	done
) &
wpid=$!
rc=0
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache-wrap,network_timeout=60" 2>"$T/err" || rc=$?
wait "$wpid" || true
[ $rc = 1 ] || t_fail "a snapshot whose redo log wrapped: mount exit $rc"
cfs_assert_one_error "$T/err" 7005
grep -q "redo log wrapped while the snapshot was made" "$T/err" || { cat "$T/err"; t_fail "the refusal does not say the log wrapped"; }
t_log "ok: $(cat "$T/err")"
[ -z "$(ls -A "$SNAPS")" ] || { ls -la "$SNAPS"; t_fail "a refused snapshot left data in $SNAPS"; }
[ "$(ls "$STATE")" = "$before" ] || { ls -la "$STATE"; t_fail "a refused snapshot left files in $STATE"; }

if [ "$FS" = xfs ] && command -v mkfs.ext4 >/dev/null; then
	t_log "on ext4, reflink is not available and auto takes mariabackup"
	mkdir -p "$T/e"
	loopfs_mount ext4 64M "$T/e"
	mkdir -p "$LOOPFS_MNT/data"
	"$CLONEFS_BIN/clonefsd" --explain-methods --datadir="$LOOPFS_MNT/data" --state-dir="$STATE" >"$T/explain-ext4"
	grep -q "^reflink  *not available: the datadir '$LOOPFS_MNT/data' is on ext4, which cannot share extents" "$T/explain-ext4" &&
		grep -q "^auto  *would take mariabackup" "$T/explain-ext4" ||
		{ cat "$T/explain-ext4"; t_fail "--explain-methods on ext4"; }
	t_log "ok: $(grep '^reflink' "$T/explain-ext4")"
fi
t_log "PASS: $ROUNDS reflink snapshots on $FS under load, each recovered, consistent and equal to the donor after replay"
