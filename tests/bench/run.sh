#!/usr/bin/env bash
# run.sh: `make bench`: clonefs against the peers a DBA would use instead, measured in one run on
# one donor, printed as a table of ratios and written to bench-results.json (tests/bench/README.md).
#   BENCH_SIZE=MB  (default 2048): size of the sysbench donor (8 tables)
#   BENCH_TABLES=N (default 2000, 0 to skip): the many-small-tables donor of many_tables.sh
#   BENCH_STORE=0: leave out the object-store part (store.sh: radosgw, clonefs publish, rclone copy)
# The donor's datadir lives in a btrfs subvolume of a loop-mounted image when btrfs is usable, so the
# same donor is snapshotted by both methods; without btrfs the btrfs figures are null.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/../lib/e2e.sh"
. "$here/btrfs.sh"

size_mb=${BENCH_SIZE:-2048}
T=$(t_tmpdir)
. "$here/bench_lib.sh"

# The image is removed with $T, after the umount and losetup -d (registered after this, run before).
[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf --one-file-system '$T'"
DONOR_DIR="$T/donor" BTRFS_WHY=
btrfs_up || say "btrfs: not measured ($BTRFS_WHY); the donor is on $(df --output=fstype "$T" | tail -1)"

say "donor: sysbench oltp_read_write prepare, 8 tables, about $size_mb MB, datadir $DONOR_DIR/data"
bench_donor "$DONOR_DIR" "$size_mb"
tls_make "$T/tls"
db_sql "$SOCK" "FLUSH TABLES"
size=$(du -sb --apparent-size "$DONOR_DIR/data" | cut -f1)
cold

say "cp -a of the datadir + sync (the local limit)"
t0=$(now); cp -a "$DONOR_DIR/data" "$T/cp"; sync; cp_s=$(since "$t0"); rm -rf "$T/cp"

# The peer copies with as many threads as clonefsd's mariabackup method does (--parallel, its default).
parallel=$(nproc); [ "$parallel" -le 4 ] || parallel=4
say "mariabackup --backup --parallel=$parallel --stream=mbstream over TLS (socat) into mbstream -x, then --prepare"
MBPORT=$(t_free_port)
mkdir -p "$T/mb"
socat -u "OPENSSL-LISTEN:$MBPORT,reuseaddr,cert=$T/tls/server.pem,key=$T/tls/server-key.pem,verify=0" STDOUT 2>"$T/socat.log" |
	(cd "$T/mb" && mbstream -x) &
rx=$!
t_wait_for "ss -ltn | grep -q ':$MBPORT '" 10 || t_fail "socat did not listen"
cold
t0=$(now)
mariabackup --no-defaults --backup --parallel="$parallel" --stream=mbstream --user=root --socket="$SOCK" --datadir="$DONOR_DIR/data" \
	--target-dir="$T/mbtmp" 2>"$T/mb-backup.log" |
	socat -u STDIN "OPENSSL:127.0.0.1:$MBPORT,cafile=$T/tls/ca.pem,verify=1" 2>>"$T/socat.log"
wait $rx
mariabackup --no-defaults --prepare --target-dir="$T/mb" >"$T/mb-prepare.log" 2>&1 || { tail "$T/mb-prepare.log"; t_fail "mariabackup --prepare failed"; }
mb_s=$(since "$t0"); rm -rf "$T/mb"

# clone_whole METHOD PORT: the whole clone as a DBA runs it, `clonefs clone "CLONE INSTANCE ... DATA
# DIRECTORY ... REQUIRE SSL"` against the clonefsd on PORT (a new snapshot, the checks, a private
# mount, the copy, its scratch removed), timed from start to the datadir in place; sets cclone_METHOD.
# Then, untimed: mysqld_safe starts the datadir, sbtest1 has the donor's rows, the server is stopped
# and the datadir removed. The recipient's option file gives the donor's settings a clone must share
# and names only PORT as a valid donor; the statement goes on stdin (no password on a command line).
clone_whole() {
	local method=$1 port=$2 dir="$T/cclone-$1" cnf="$T/recipient-$1.cnf" t0 rc=0 n cs coll fs page
	read -r cs coll fs page < <(db_sql "$SOCK" \
		"SELECT @@character_set_server, @@collation_server, @@character_set_filesystem, @@innodb_page_size")
	printf '[mysqld]\ncharacter-set-server=%s\ncollation-server=%s\ncharacter-set-filesystem=%s\ninnodb-page-size=%s\n[clonefs]\nvalid_donor_list=127.0.0.1:%s\n' \
		"$cs" "$coll" "$fs" "$page" "$port" >"$cnf"
	cold
	t0=$(now)
	echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$port IDENTIFIED BY 'pw' DATA DIRECTORY '$dir' REQUIRE SSL" |
		CLONEFS_LOCK_DIR="$T" "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$cnf" \
		-o "ssl_ca=$T/tls/ca.pem" >"$T/cclone-$method.out" 2>"$T/cclone-$method.err" || rc=$?
	printf -v "cclone_$method" '%s' "$(since "$t0")"
	[ $rc = 0 ] || { cat "$T/cclone-$method.out" "$T/cclone-$method.err" >&2
		t_fail "clonefs clone ($method snapshot) exited $rc: $(grep -m1 '^ERROR' "$T/cclone-$method.err")"; }
	n=$(find "$T" -maxdepth 1 -name '.*clonefs*' -printf '%f ')
	[ -z "$n" ] || t_fail "clonefs clone ($method snapshot) left its scratch beside the datadir: $n"
	db_start_safe "$dir" "$T/cclone-$method-run"
	n=$(db_sql "$T/cclone-$method-run/mysql.sock" "SELECT COUNT(*) FROM sbtest.sbtest1")
	[ "$n" = "$rows" ] || t_fail "the clone ($method snapshot) has $n rows in sbtest.sbtest1, the donor $rows"
	db_stop "$T/cclone-$method-run"
	rm -rf "$dir" "$T/cclone-$method-run"
}

say "clonefs: clonefsd (mariabackup snapshot) -> TLS -> mount -> materialize"
PORT=$(t_free_port)
cfs_start_donor "$T/cfs" "$PORT" "$SOCK" "$DONOR_DIR/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
mkdir -p "$T/mnt"
cold
t0=$(now)
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache,snapshot=new"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
mount_s=$(since "$t0")
head -c 16384 "$T/mnt/ibdata1" >/dev/null
first_read_s=$(since "$t0")
t1=$(now)
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --no-progress >"$T/materialize.out"
materialize_s=$(since "$t1")
clonefs_s=$(since "$t0")
cp "$T/mnt/.clonefs/status" "$T/status.json"
mat_times=$(sed -n 's/^time: reading through the mount \([0-9.]*\) s, writing \([0-9.]*\) s, syncing \([0-9.]*\) s$/\1 \2 \3/p' "$T/materialize.out")
[ -n "$mat_times" ] || mat_times="null null null"
mpid=$(pgrep -f "mount.clonefs cloner@127.0.0.1:$PORT" | head -1)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$mpid/status")
read -r ut st cut cst < <(awk '{print $14, $15, $16, $17}' "/proc/$CFS_DONOR_PID/stat")
hz=$(getconf CLK_TCK)
snapshot_s=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["facts"].get("created_at",""))' "$T/mnt/.clonefs/status")

# cold_reads MOUNT: 16 KiB reads, each in a different 1 MiB region of the snapshot's tablespaces (200,
# or as many regions as there are), through a prefetch=off mount with an empty cache: each read is
# cold. Prints p50 and p99 in ms and the number of reads.
cold_reads() {
	python3 - "$1" <<'PY'
import os, random, sys, time
m = sys.argv[1]
regions = []
for d, _, fs in os.walk(m):
    if "/.clonefs" in d:
        continue
    for f in sorted(fs):
        if f.endswith(".ibd"):
            p = os.path.join(d, f)
            regions += [(p, r) for r in range(os.path.getsize(p) >> 20)]
random.seed(1)
random.shuffle(regions)
lat = []
for p, r in sorted(regions[:200], key=lambda x: random.random()):
    fd = os.open(p, os.O_RDONLY)
    off = (r << 20) + random.randrange(64) * 16384
    t = time.perf_counter(); os.pread(fd, 16384, off); lat.append(time.perf_counter() - t)
    os.close(fd)
lat.sort()
print(f"{lat[len(lat) // 2] * 1000:.2f} {lat[max(int(len(lat) * 0.99) - 1, 0)] * 1000:.2f} {len(lat)}")
PY
}

# Read latency and throughput through the mount (issue 4): cold 16 KiB reads at random chunks of the
# largest tablespace on a second, purely lazy mount of the same snapshot with an empty cache (each
# read fetches one chunk), then the whole file read sequentially through the hydrated mount against
# the same file read from the materialized copy, both warm in the page cache.
say "reads through the mount: cold random 16 KiB, warm sequential"
snap_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/mnt/.clonefs/status")
big=$(cd "$T/clone" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
mkdir -p "$T/lazy"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/lazy" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/lazycache,snapshot=$snap_id,prefetch=off"
t_on_exit "fusermount3 -u '$T/lazy' 2>/dev/null || true"
read -r cold_p50 cold_p99 cold_n < <(cold_reads "$T/lazy")
read -r warm_mount warm_local < <(python3 - "$T/mnt/$big" "$T/clone/$big" <<'PY'
import os, sys, time
mnt, local = sys.argv[1:3]
def rate(path):
    # The first pass warms the page cache; the best of the next five is the figure (one pass of a
    # file in the page cache takes milliseconds, so a single one is mostly scheduling noise).
    best = 0
    buf = bytearray(1 << 20)
    for i in range(6):
        fd = os.open(path, os.O_RDONLY); n = 0; t = time.perf_counter()
        while True:
            k = os.readv(fd, [buf])
            if not k: break
            n += k
        el = time.perf_counter() - t; os.close(fd)
        if i:
            best = max(best, n / el)
    return best
print(f"{rate(mnt):.0f} {rate(local):.0f}")
PY
)
fusermount3 -u "$T/lazy"
fusermount3 -u "$T/mnt"

# clonefsd makes one snapshot at a time (a second request meanwhile gets 3634); a snapshot kept for
# its TTL after its last reader, as the one above is now, does not count: only one being made does.
# Nothing else asks this clonefsd for a snapshot from here on.
say "clonefs clone ... DATA DIRECTORY ... REQUIRE SSL (mariabackup snapshot), then mysqld_safe on it"
cclone_mariabackup=null cclone_btrfs=null
clone_whole mariabackup "$PORT"

# stall_load_start SOCK: a steady write load for the stall figures, one connection committing
# single-row INSERTs into sbtest.stall back to back (bounded to 300 s) until stall_load_stop.
stall_load_start() {
	STALL_SOCK=$1 STALL_STOP="$T/stall.stop.$RANDOM"
	db_sql "$1" "CREATE TABLE sbtest.stall (id BIGINT AUTO_INCREMENT PRIMARY KEY,
		at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
	(
		end=$((SECONDS + 300))
		while [ ! -e "$STALL_STOP" ] && [ $SECONDS -lt $end ]; do echo "INSERT INTO sbtest.stall () VALUES ();"; done |
			mariadb --no-defaults -S "$1" -u root
	) &
	STALL_PID=$!
	t_on_exit "touch '$STALL_STOP'; kill $STALL_PID 2>/dev/null"
}
stall_load_stop() {
	touch "$STALL_STOP"
	t_wait_for "! kill -0 $STALL_PID 2>/dev/null" 60 || kill "$STALL_PID" 2>/dev/null || true
	wait "$STALL_PID" 2>/dev/null || true
}
# stall_gaps SOCK T0 T1: gaps between the load's consecutive commits: the longest one that overlaps
# [T0, T1] (snapshot requested, first read), the longest one wholly before T0 (the load's own
# jitter), in ms, and the number of commits; the table is dropped.
stall_gaps() {
	db_sql "$1" "SELECT UNIX_TIMESTAMP(at) FROM sbtest.stall ORDER BY id" |
		python3 -c '
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
ts = [float(x) for x in sys.stdin.read().split()]
stall = base = 0.0
for a, b in zip(ts, ts[1:]):
    if b >= t0 and a <= t1:
        stall = max(stall, b - a)
    elif b < t0:
        base = max(base, b - a)
print(f"{stall * 1000:.1f} {base * 1000:.1f} {len(ts)}")' "$2" "$3"
	db_sql "$1" "DROP TABLE sbtest.stall"
}

# The btrfs method: time to first read, clonefsd's lock time, and the longest commit gap of a steady
# write load (one connection, autocommit single-row INSERTs stamped with the statement's start
# time: a commit held by BACKUP STAGE BLOCK_COMMIT delays the next statement's stamp by as long).
btrfs_first=null btrfs_full=null btrfs_lock=null btrfs_log_lock=null btrfs_stall=null btrfs_base=null btrfs_commits=0
if [ -z "$BTRFS_WHY" ]; then
	say "clonefs: clonefsd (btrfs snapshot) -> TLS -> mount -> first read of ibdata1, under a write load"
	BPORT=$(t_free_port)
	cfs_start_donor "$T/cfsb" "$BPORT" "$SOCK" "$DONOR_DIR/data" --snapshot-method=btrfs \
		--state-dir="$T/btrfs/state" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
	stall_load_start "$SOCK"
	cold
	sleep 2 # the load's steady state before the snapshot: its gaps are the baseline
	mkdir -p "$T/bmnt"
	t0=$(now)
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$BPORT" "$T/bmnt" \
		-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/bcache,snapshot=new"
	t_on_exit "fusermount3 -u '$T/bmnt' 2>/dev/null || true"
	head -c 16384 "$T/bmnt/ibdata1" >/dev/null
	btrfs_first=$(since "$t0")
	t_end=$(now)
	sleep 1
	stall_load_stop
	btrfs_lock=$(sed -n 's/^lock_ms\t//p' "$T/bmnt/.clonefs/facts")
	btrfs_log_lock=$(grep -o 'backup lock held for [0-9]* ms' "$T/cfsb/clonefsd.log" | tail -1 | grep -o '[0-9][0-9]*')
	[ -n "$btrfs_lock" ] || { cat "$T/bmnt/.clonefs/facts"; t_fail "the btrfs snapshot has no lock_ms fact"; }
	[ -n "$btrfs_log_lock" ] || { cat "$T/cfsb/clonefsd.log"; t_fail "clonefsd did not log its backup lock time"; }
	fusermount3 -u "$T/bmnt"
	# A whole clone with the btrfs method, timed like the one above: a new snapshot, an empty
	# cache, mount, materialize (the load is stopped, as it was for the mariabackup clone).
	say "clonefs: clonefsd (btrfs snapshot) -> TLS -> mount -> materialize"
	cold
	t0b=$(now)
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$BPORT" "$T/bmnt" \
		-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/bcache2,snapshot=new"
	"$CLONEFS_BIN/clonefs" materialize "$T/bmnt" "$T/bclone" --no-progress >/dev/null
	btrfs_full=$(since "$t0b")
	fusermount3 -u "$T/bmnt"
	rm -rf "$T/bclone" "$T/bcache2"
	# The btrfs clonefsd's earlier snapshots are made and only kept for their TTL: no clash.
	say "clonefs clone ... DATA DIRECTORY ... REQUIRE SSL (btrfs snapshot), then mysqld_safe on it"
	clone_whole btrfs "$BPORT"
	# Gaps between consecutive commits: the longest one that overlaps [snapshot requested, first
	# read], and the longest one wholly before the request (the load's own jitter).
	read -r btrfs_stall btrfs_base btrfs_commits < <(stall_gaps "$SOCK" "$t0" "$t_end")
fi

# The reflink method on a second copy of the donor on XFS (a loop image with direct I/O, as the
# btrfs one), made by mariabackup and started with its own binary log: time to first read, the
# whole clone, the lock and the write stall (measured as for btrfs), the donor's write throughput
# (sysbench oltp_write_only, BENCH_TPS_SECONDS each) before a snapshot and after it (its extents
# then shared: copy-on-write), and CLONE LOCAL against cp -a --reflink=never of the same datadir, at
# the bench's size and, unless BENCH_LOCAL_4X=0, at 4x (the sbtest tables copied into 3 more schemas).
reflink_first=null reflink_lock=null reflink_stall=null reflink_base=null reflink_commits=0
reflink_tps_before=null reflink_tps_after=null cclone_reflink=null
local_1x=null local_4x=null local_cp_1x=null local_cp_4x=null XFS_WHY=
xfs_up() {
	command -v mkfs.xfs >/dev/null || { XFS_WHY="mkfs.xfs is not installed (xfsprogs)"; return 1; }
	truncate -s "$((size_mb * 10 + 4096))M" "$T/xfs.img"
	mkfs.xfs -q "$T/xfs.img" >"$T/mkfs-xfs.log" 2>&1 || { XFS_WHY="mkfs.xfs: $(tail -1 "$T/mkfs-xfs.log")"; return 1; }
	XLOOP=$(losetup --direct-io=on --find --show "$T/xfs.img" 2>"$T/losetup-xfs.err") ||
		{ XFS_WHY="no loop device: $(cat "$T/losetup-xfs.err")"; return 1; }
	t_on_exit "losetup -d '$XLOOP'"
	mkdir -p "$T/xfs"
	mount -t xfs "$XLOOP" "$T/xfs" 2>"$T/mount-xfs.err" || { XFS_WHY="cannot mount xfs: $(cat "$T/mount-xfs.err")"; return 1; }
	t_on_exit "umount '$T/xfs' || umount -l '$T/xfs'"
	chmod 755 "$T/xfs"
}
# tps SOCK: sysbench oltp_write_only for BENCH_TPS_SECONDS on SOCK's sbtest; transactions per second.
tps() {
	sysbench oltp_write_only --mysql-socket="$1" --mysql-user=root --mysql-db=sbtest --tables=8 --table-size="$rows" \
		--threads=2 --time="${BENCH_TPS_SECONDS:-30}" run 2>&1 | sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.)/\1/p'
}
# clone_local DIR: seconds of CLONE LOCAL of the XFS donor into DIR (then removed), and of
# cp -a --reflink=never of its datadir (cp would reflink by default on XFS), both from a cold cache.
clone_local() {
	local t0 a b
	cold
	t0=$(now)
	"$CLONEFS_BIN/clonefs" clone "CLONE LOCAL DATA DIRECTORY = '$1'" --socket="$XSOCK" --user=root \
		>"$T/clone-local.out" 2>"$T/clone-local.err" || { cat "$T/clone-local.out" "$T/clone-local.err" >&2; t_fail "CLONE LOCAL failed"; }
	a=$(since "$t0")
	rm -rf "$1"
	cold
	t0=$(now); cp -a --reflink=never "$XDIR/data" "$1.cp"; sync; b=$(since "$t0")
	rm -rf "$1.cp"
	echo "$a $b"
}
if xfs_up; then
	XDIR="$T/xfs/donor"
	say "reflink: a second donor on XFS (mariabackup copy of the first), with its own binary log"
	mkdir -p "$XDIR/binlog"
	mariabackup --no-defaults --backup --parallel="$parallel" --user=root --socket="$SOCK" --datadir="$DONOR_DIR/data" \
		--target-dir="$XDIR/data" >"$T/mbx.log" 2>&1 && mariabackup --no-defaults --prepare --target-dir="$XDIR/data" \
		>>"$T/mbx.log" 2>&1 || { tail "$T/mbx.log"; t_fail "mariabackup copy onto XFS failed"; }
	rm -f "$XDIR/data"/xtrabackup_* "$XDIR/data"/mariadb_backup_* "$XDIR/data/backup-my.cnf"
	chown -R mysql:mysql "$XDIR"
	mariadbd --no-defaults --datadir="$XDIR/data" --socket="$XDIR/mysql.sock" --pid-file="$XDIR/mysqld.pid" \
		--log-error="$XDIR/error.log" --skip-networking --user=mysql --log-bin="$XDIR/binlog/binlog" --server-id=2 \
		--binlog-format=ROW --innodb-buffer-pool-size=512M --proxy-protocol-networks=localhost >/dev/null 2>&1 &
	t_on_exit "db_stop '$XDIR'"
	XSOCK="$XDIR/mysql.sock"
	t_wait_for "mariadb-admin --no-defaults -S '$XSOCK' -u root ping >/dev/null 2>&1" 120 || { tail "$XDIR/error.log"; t_fail "the XFS donor did not start"; }
	XPORT=$(t_free_port)
	cfs_start_donor "$T/cfsx" "$XPORT" "$XSOCK" "$XDIR/data" --snapshot-method=reflink \
		--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
	say "reflink: sysbench oltp_write_only ${BENCH_TPS_SECONDS:-30} s before a snapshot"
	reflink_tps_before=$(tps "$XSOCK")
	say "clonefs: clonefsd (reflink snapshot) -> TLS -> mount -> first read of ibdata1, under a write load"
	stall_load_start "$XSOCK"
	cold
	sleep 2
	mkdir -p "$T/xmnt"
	t0=$(now)
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$XPORT" "$T/xmnt" \
		-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/xcache,snapshot=new,prefetch=off"
	t_on_exit "fusermount3 -u '$T/xmnt' 2>/dev/null || true"
	head -c 16384 "$T/xmnt/ibdata1" >/dev/null
	reflink_first=$(since "$t0")
	t_end=$(now)
	sleep 1
	stall_load_stop
	reflink_lock=$(sed -n 's/^lock_ms\t//p' "$T/xmnt/.clonefs/facts")
	[ -n "$reflink_lock" ] || { cat "$T/xmnt/.clonefs/facts"; t_fail "the reflink snapshot has no lock_ms fact"; }
	fusermount3 -u "$T/xmnt"
	read -r reflink_stall reflink_base reflink_commits < <(stall_gaps "$XSOCK" "$t0" "$t_end")
	say "reflink: sysbench oltp_write_only ${BENCH_TPS_SECONDS:-30} s after the snapshot (its extents shared)"
	reflink_tps_after=$(tps "$XSOCK")
	say "clonefs clone ... DATA DIRECTORY ... REQUIRE SSL (reflink snapshot), then mysqld_safe on it"
	clone_whole reflink "$XPORT"
	say "CLONE LOCAL DATA DIRECTORY on XFS against cp -a --reflink=never, at $size_mb MB"
	read -r local_1x local_cp_1x < <(clone_local "$T/xfs/local")
	if [ "${BENCH_LOCAL_4X:-1}" = 1 ]; then
		say "the XFS donor grown to 4x (sbtest copied into sbtest2..4), CLONE LOCAL against cp -a again"
		for d in 2 3 4; do
			db_sql "$XSOCK" "CREATE DATABASE sbtest$d"
			for i in 1 2 3 4 5 6 7 8; do
				db_sql "$XSOCK" "SET SESSION sql_log_bin = 0; CREATE TABLE sbtest$d.sbtest$i LIKE sbtest.sbtest$i; INSERT INTO sbtest$d.sbtest$i SELECT * FROM sbtest.sbtest$i"
			done
		done
		db_sql "$XSOCK" "FLUSH TABLES"
		read -r local_4x local_cp_4x < <(clone_local "$T/xfs/local4")
	fi
else
	say "reflink: not measured ($XFS_WHY)"
fi

# The same cold reads from a snapshot made with 1 MiB chunks (clonefsd --chunk-size=1M, the default
# before session 3): a cold read moves and verifies 1 MiB instead of 64 KiB. A btrfs snapshot where
# available (instant), else mariabackup.
say "cold random 16 KiB reads from a snapshot with 1 MiB chunks"
SPORT=$(t_free_port)
# (btrfs snapshots need the state directory on the donor's btrfs file system)
if [ -z "$BTRFS_WHY" ]; then small_method=btrfs small_state=$T/btrfs/state1m; else small_method=mariabackup small_state=$T/cfs1m/state; fi
cfs_start_donor "$T/cfs1m" "$SPORT" "$SOCK" "$DONOR_DIR/data" --snapshot-method=$small_method --chunk-size=1M \
	--state-dir="$small_state" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
mkdir -p "$T/lazy1m"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$SPORT" "$T/lazy1m" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/lazycache1m,snapshot=new,prefetch=off"
t_on_exit "fusermount3 -u '$T/lazy1m' 2>/dev/null || true"
read -r cold1m_p50 cold1m_p99 cold1m_n < <(cold_reads "$T/lazy1m")
fusermount3 -u "$T/lazy1m"

say "the clone starts"
db_start_safe "$T/clone" "$T/clone-run"

# Many small tables (its own donor; BENCH_TABLES=0 leaves it out): keys merged below.
many="$T/many-tables.json"
echo '{}' >"$many"
if [ "${BENCH_TABLES:-2000}" != 0 ]; then
	rc=0
	bash "$here/many_tables.sh" "$many" --bin="$CLONEFS_BIN" >"$T/many-tables.out" || rc=$?
	[ $rc = 0 ] || [ $rc = 77 ] || { cat "$T/many-tables.out"; t_fail "many_tables.sh failed"; }
	[ $rc = 0 ] || { say "many tables: not measured: $(grep -m1 '^SKIP' "$T/many-tables.out")"; echo '{}' >"$many"; }
fi

# The object store (tests/bench/store.sh: its own radosgw, a clonefsd of its own on this donor;
# BENCH_STORE=0 leaves it out; skipped, with its SKIP line, without Ceph or the RAM its store needs).
store="$T/store.json" store_why=
echo '{}' >"$store"
if [ "${BENCH_STORE:-1}" != 0 ]; then
	rc=0
	STORE_DONOR_SOCK=$SOCK STORE_DONOR_DATA=$DONOR_DIR/data bash "$here/store.sh" "$store" --bin="$CLONEFS_BIN" >"$T/store.out" || rc=$?
	[ $rc = 0 ] || [ $rc = 77 ] || { cat "$T/store.out"; t_fail "store.sh failed"; }
	[ $rc = 0 ] || { store_why=$(grep -m1 '^SKIP' "$T/store.out"); say "$store_why"; echo '{}' >"$store"; }
else
	store_why="SKIP: object store: BENCH_STORE=0"
fi

python3 - "$size" "$mb_s" "$cp_s" "$clonefs_s" "$first_read_s" "$mount_s" "$materialize_s" "$rss_kb" "$ut" "$st" "$cut" "$cst" "$hz" \
	"$btrfs_first" "$btrfs_lock" "$btrfs_log_lock" "$btrfs_stall" "$btrfs_base" "$btrfs_commits" "$BTRFS_WHY" \
	"$btrfs_full" "$T/status.json" $mat_times "$cold_p50" "$cold_p99" "$cold_n" "$warm_mount" "$warm_local" \
	"$cclone_mariabackup" "$cclone_btrfs" "$cold1m_p50" "$cold1m_p99" "$cold1m_n" \
	"$reflink_first" "$cclone_reflink" "$reflink_lock" "$reflink_stall" "$reflink_base" "$reflink_commits" \
	"$reflink_tps_before" "$reflink_tps_after" "$local_1x" "$local_4x" "$local_cp_1x" "$local_cp_4x" "$XFS_WHY" "$many" \
	"$store" "$store_why" <<'PY'
import json, sys
size, mb, cp, cfs, first, mount, mat, rss_kb, ut, st, cut, cst, hz = sys.argv[1:14]
b_first, b_lock, b_log_lock, b_stall, b_base, b_commits, b_why = sys.argv[14:21]
b_full, status_path, m_read, m_write, m_sync = sys.argv[21:26]
cold_p50, cold_p99, cold_n, warm_mount, warm_local = map(float, sys.argv[26:31])
num = lambda v: None if v == "null" else float(v)
cclone = {"mariabackup": num(sys.argv[31]), "btrfs": num(sys.argv[32])}
cold1m_p50, cold1m_p99, cold1m_n = map(float, sys.argv[33:36])
(r_first, r_clone, r_lock, r_stall, r_base, r_commits, r_tps0, r_tps1,
 l_1x, l_4x, l_cp1, l_cp4) = map(lambda v: num(v) if v else None, sys.argv[36:48])
x_why = sys.argv[48]
cclone["reflink"] = r_clone
b_first, b_lock, b_log_lock, b_stall, b_base, b_full = map(num, (b_first, b_lock, b_log_lock, b_stall, b_base, b_full))
m_read, m_write, m_sync = map(num, (m_read, m_write, m_sync))
fetch_t = json.load(open(status_path)).get("time_s", {})
size = int(size); gb = size / 2**30
mb, cp, cfs, first, mount, mat = map(float, (mb, cp, cfs, first, mount, mat))
hz = float(hz)
serve_cpu = (int(ut) + int(st)) / hz
snap_cpu = (int(cut) + int(cst)) / hz
# The full clone: `clonefs clone` with the method clonefsd's default (auto) takes on this donor:
# btrfs where the donor's datadir is a btrfs subvolume, else mariabackup (docs/donor.md, Methods).
full_method = "btrfs" if cclone["btrfs"] is not None else "mariabackup"
res = {
    "size_bytes": size, "mariabackup_full_s": mb, "cp_s": cp,
    "clonefs_full_s": cclone[full_method], "clonefs_full_method": full_method,
    "first_read_s": {"mariabackup": first, "btrfs": b_first, "reflink": r_first},
    "btrfs_lock_ms": b_lock,
    "btrfs_write_stall_ms": b_stall,
    "btrfs_write_baseline_gap_ms": b_base,
    "reflink_lock_ms": r_lock,
    "reflink_write_stall_ms": r_stall,
    "reflink_write_baseline_gap_ms": r_base,
    "reflink_tps": {"before": r_tps0, "after": r_tps1},
    "clone_local_s": {"1x": l_1x, "4x": l_4x},
    "clone_local_cp_s": {"1x": l_cp1, "4x": l_cp4},
    "recipient_peak_rss_bytes": int(rss_kb) * 1024,
    "donor_cpu_s_per_gb": round(serve_cpu / gb, 3) if gb else None,
    "donor_snapshot_cpu_s": snap_cpu,
    "clonefs_clone_s": cclone,
    "clonefs_mount_materialize_s": {"mariabackup": cfs, "btrfs": b_full},
    "cold_read_16k_ms": {"p50": cold_p50, "p99": cold_p99, "reads": int(cold_n)},
    "cold_read_16k_ms_1m_chunks": {"p50": cold1m_p50, "p99": cold1m_p99, "reads": int(cold1m_n)},
    "warm_sequential_bytes_per_s": {"mount": warm_mount, "local": warm_local},
    "stages_s": {"snapshot_and_mount": mount, "materialize": mat,
                 "materialize_read_through_mount": m_read, "materialize_write": m_write, "materialize_sync": m_sync,
                 "fetch": fetch_t},
}
many = json.load(open(sys.argv[49]))
res.update(many)
store, store_why = json.load(open(sys.argv[50])), sys.argv[51]
res.update(store)
json.dump(res, open("bench-results.json", "w"), indent=2)
vs_peers = lambda s: f"{s / mb:.2f}x mariabackup (goal <= 0.5), {s / cp:.2f}x cp (goal <= 1.5)"
rows = [
    ("donor size", f"{size / 2**20:.0f} MiB", ""),
    ("mariabackup stream over TLS + prepare", f"{mb:.1f} s", "1.00x"),
    ("cp -a + sync (local limit)", f"{cp:.1f} s", f"{cp / mb:.2f}x of mariabackup"),
    (f"clonefs full clone: clonefs clone ... DATA DIRECTORY ({full_method}, clonefsd's default here)",
     f"{cclone[full_method]:.1f} s", vs_peers(cclone[full_method])),
    ("clonefs clone ... DATA DIRECTORY (mariabackup snapshot)", f"{cclone['mariabackup']:.1f} s",
     vs_peers(cclone["mariabackup"])),
    ("clonefs mount + materialize (cache kept)", f"{cfs:.1f} s", vs_peers(cfs)),
    ("  of which snapshot + mount", f"{mount:.1f} s", ""),
    ("  of which materialize", f"{mat:.1f} s", f"{size / 2**20 / mat:.0f} MiB/s"),
    ("  materialize: reading through the mount / writing / syncing",
     "-" if m_read is None else f"{m_read:.1f}/{m_write:.1f}/{m_sync:.1f} s", ""),
    ("  mount daemon (all connections): wait for donor / decompress+verify / cache write / cache sync",
     "/".join(f"{fetch_t.get(k, 0):.1f}" for k in ("network_wait", "decompress_verify", "cache_write", "cache_sync")) + " s",
     "summed over threads: overlapping"),
    ("time to first read, snapshot requested -> ibdata1 (mariabackup)", f"{first:.2f} s", "goal <= 1 s needs btrfs"),
]
if b_first is None:
    rows += [("time to first read (btrfs)", "n/a", b_why),
             ("clonefs clone ... DATA DIRECTORY (btrfs snapshot)", "n/a", b_why)]
else:
    rows += [
        ("time to first read, snapshot requested -> ibdata1 (btrfs)", f"{b_first:.2f} s",
         f"{first / max(b_first, 0.01):.1f}x faster than mariabackup (goal <= 1 s)"),
        ("clonefs clone ... DATA DIRECTORY (btrfs snapshot)", f"{cclone['btrfs']:.1f} s", vs_peers(cclone["btrfs"])),
        ("clonefs mount + materialize (cache kept), btrfs method", f"{b_full:.1f} s", vs_peers(b_full)),
        ("  btrfs: backup lock held (clonefsd)", f"{b_lock:.0f} ms",
         "BACKUP STAGE BLOCK_COMMIT to END" + ("" if b_log_lock == b_lock else f"; log says {b_log_lock:.0f} ms")),
        ("  btrfs: write stall seen by the donor's load", f"{b_stall:.0f} ms",
         f"longest commit gap; {b_base:.0f} ms before the snapshot; {int(b_commits)} commits"),
    ]
if r_first is None:
    rows += [("time to first read (reflink, XFS)", "n/a", x_why)]
else:
    rows += [
        ("time to first read, snapshot requested -> ibdata1 (reflink, XFS)", f"{r_first:.2f} s", "goal <= 1 s"),
        ("clonefs clone ... DATA DIRECTORY (reflink snapshot, XFS donor)", f"{r_clone:.1f} s", vs_peers(r_clone)),
        ("  reflink: backup lock held (clonefsd)", f"{r_lock:.0f} ms", "BACKUP STAGE BLOCK_COMMIT to END (goal < 100 ms)"),
        ("  reflink: write stall seen by the donor's load", f"{r_stall:.0f} ms",
         f"longest commit gap; {r_base:.0f} ms before the snapshot; {int(r_commits)} commits (goal < 100 ms)"),
        ("  reflink: donor write throughput after / before the snapshot",
         "-" if not (r_tps0 and r_tps1) else f"{r_tps1 / r_tps0:.2f}x",
         "-" if not (r_tps0 and r_tps1) else f"sysbench oltp_write_only {r_tps1:.0f} vs {r_tps0:.0f} tps (copy-on-write)"),
        ("CLONE LOCAL (XFS) vs cp -a --reflink=never, 1x", f"{l_1x:.2f} s", f"{l_1x / l_cp1:.3f}x cp {l_cp1:.1f} s (goal <= 0.1x, <= 1 s)"),
    ]
    if l_4x is not None:
        rows += [("CLONE LOCAL (XFS) vs cp -a --reflink=never, 4x", f"{l_4x:.2f} s",
                  f"{l_4x / l_cp4:.3f}x cp {l_cp4:.1f} s (goal <= 0.1x, <= 1 s)")]
rows += [
    ("cold random 16 KiB read through a lazy mount, p50 / p99", f"{cold_p50:.2f}/{cold_p99:.2f} ms",
     f"{int(cold_n)} reads, 64 KiB chunks (the default) (goal p50 <= 1 ms)"),
    ("  the same from a snapshot with 1 MiB chunks", f"{cold1m_p50:.2f}/{cold1m_p99:.2f} ms",
     f"{int(cold1m_n)} reads, clonefsd --chunk-size=1M"),
    ("warm sequential read, mount vs local", f"{warm_mount / 2**20:.0f} MiB/s",
     f"{warm_mount / warm_local:.2f}x local {warm_local / 2**20:.0f} MiB/s (goal >= 0.8)"),
    ("recipient peak RSS", f"{int(rss_kb) / 1024:.0f} MiB", "goal <= 256 MiB"),
    ("donor CPU serving, per GB", f"{serve_cpu / gb:.2f} s" if gb else "-", f"snapshot (mariabackup) {snap_cpu:.1f} s"),
]
if many:
    mcp = many["many_tables_cp_s"]
    rows += [(f"many small tables ({many['many_tables_count']} tables, {many['many_tables_files']} files): cp -a + sync",
              f"{mcp:.1f} s", "")]
    rows += [(f"  clonefs clone ... ({k} snapshot)", f"{v:.1f} s",
              f"{v / mcp:.2f}x cp -a" + (" (goal < 2)" if k == "btrfs" else ""))
             for k, v in many["many_tables_clone_s"].items()]
if store:
    sp, rc, sc, dc = store["store_publish_s"], store["rclone_copy_s"], store["store_clone_s"], store["store_clone_donor_s"]
    rows += [
        (f"object store (radosgw, loopback): clonefs publish, first ({store['store_snapshot_bytes'] / 2**20:.0f} MiB snapshot)",
         f"{sp:.1f} s", f"{sp / rc:.2f}x rclone copy of the same files ({rc:.1f} s)"),
        ("  clonefs publish after 1 % of the rows changed", f"{store['store_incremental_s']:.1f} s",
         f"{store['store_incremental_s'] / sp:.2f}x the first in time, {store['store_incremental_bytes_ratio']:.3f}x in bytes (goal <= 0.05)"),
        ("  full clone from the store: mount s3:// + materialize", f"{sc:.1f} s",
         f"{sc / dc:.2f}x the same snapshot from clonefsd ({dc:.1f} s), {sc / cfs:.2f}x clonefs mount + materialize, "
         f"{sc / cclone[full_method]:.2f}x the full clone"),
    ]
elif store_why:
    rows += [("object store (radosgw)", "n/a", store_why)]
w = max(len(r[0]) for r in rows)
print()
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:>10}  {r[2]}")
print("\nwritten: bench-results.json")
PY
