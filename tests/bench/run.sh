#!/usr/bin/env bash
# run.sh: `make bench`: clonefs against the peers a DBA would use instead, measured in one run on
# one donor, printed as a table of ratios and written to bench-results.json (tests/bench/README.md).
#   BENCH_SIZE=MB  (default 2048): size of the sysbench donor (8 tables)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/../lib/e2e.sh"

size_mb=${BENCH_SIZE:-2048}
T=$(t_tmpdir)
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
say() { printf '%s\n' "-- $*" >&2; }

say "donor: sysbench oltp_read_write prepare, 8 tables, about $size_mb MB"
db_start "$T/donor" --innodb-buffer-pool-size=512M
SOCK="$T/donor/mysql.sock"
db_sql "$SOCK" "CREATE DATABASE sbtest"
rows=$((size_mb * 1024 * 1024 / 8 / 230))
sysbench oltp_read_write --mysql-socket="$SOCK" --mysql-user=root --mysql-db=sbtest --tables=8 \
	--table-size="$rows" --threads=2 prepare >"$T/sysbench.log" 2>&1 || { tail "$T/sysbench.log"; t_fail "sysbench prepare failed"; }
cfs_make_clone_user "$SOCK" cloner pw
tls_make "$T/tls"
db_sql "$SOCK" "FLUSH TABLES"
size=$(du -sb --apparent-size "$T/donor/data" | cut -f1)
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true

say "cp -a of the datadir + sync (the local limit)"
t0=$(now); cp -a "$T/donor/data" "$T/cp"; sync; cp_s=$(since "$t0"); rm -rf "$T/cp"

say "mariabackup --backup --stream=mbstream over TLS (socat) into mbstream -x, then --prepare"
MBPORT=$(t_free_port)
mkdir -p "$T/mb"
socat -u "OPENSSL-LISTEN:$MBPORT,reuseaddr,cert=$T/tls/server.pem,key=$T/tls/server-key.pem,verify=0" STDOUT 2>"$T/socat.log" |
	(cd "$T/mb" && mbstream -x) &
rx=$!
t_wait_for "ss -ltn | grep -q ':$MBPORT '" 10 || t_fail "socat did not listen"
t0=$(now)
mariabackup --no-defaults --backup --stream=mbstream --user=root --socket="$SOCK" --datadir="$T/donor/data" \
	--target-dir="$T/mbtmp" 2>"$T/mb-backup.log" |
	socat -u STDIN "OPENSSL:127.0.0.1:$MBPORT,cafile=$T/tls/ca.pem,verify=1" 2>>"$T/socat.log"
wait $rx
mariabackup --no-defaults --prepare --target-dir="$T/mb" >"$T/mb-prepare.log" 2>&1 || { tail "$T/mb-prepare.log"; t_fail "mariabackup --prepare failed"; }
mb_s=$(since "$t0"); rm -rf "$T/mb"

say "clonefs: clonefsd (mariabackup snapshot) -> TLS -> mount -> materialize"
PORT=$(t_free_port)
cfs_start_donor "$T/cfs" "$PORT" "$SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
mkdir -p "$T/mnt"
t0=$(now)
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
mount_s=$(since "$t0")
head -c 16384 "$T/mnt/ibdata1" >/dev/null
first_read_s=$(since "$t0")
t1=$(now)
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --no-progress >/dev/null
materialize_s=$(since "$t1")
clonefs_s=$(since "$t0")
mpid=$(pgrep -f "mount.clonefs cloner@127.0.0.1:$PORT" | head -1)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$mpid/status")
read -r ut st cut cst < <(awk '{print $14, $15, $16, $17}' "/proc/$CFS_DONOR_PID/stat")
hz=$(getconf CLK_TCK)
snapshot_s=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["facts"].get("created_at",""))' "$T/mnt/.clonefs/status")
fusermount3 -u "$T/mnt"

say "the clone starts"
db_start_safe "$T/clone" "$T/clone-run"

python3 - "$size" "$mb_s" "$cp_s" "$clonefs_s" "$first_read_s" "$mount_s" "$materialize_s" "$rss_kb" "$ut" "$st" "$cut" "$cst" "$hz" <<'PY'
import json, sys
size, mb, cp, cfs, first, mount, mat, rss_kb, ut, st, cut, cst, hz = sys.argv[1:]
size = int(size); gb = size / 2**30
mb, cp, cfs, first, mount, mat = map(float, (mb, cp, cfs, first, mount, mat))
hz = float(hz)
serve_cpu = (int(ut) + int(st)) / hz
snap_cpu = (int(cut) + int(cst)) / hz
res = {
    "size_bytes": size, "mariabackup_full_s": mb, "cp_s": cp, "clonefs_full_s": cfs,
    "first_read_s": {"mariabackup": first},
    "recipient_peak_rss_bytes": int(rss_kb) * 1024,
    "donor_cpu_s_per_gb": round(serve_cpu / gb, 3) if gb else None,
    "donor_snapshot_cpu_s": snap_cpu,
    "stages_s": {"snapshot_and_mount": mount, "materialize": mat},
}
json.dump(res, open("bench-results.json", "w"), indent=2)
rows = [
    ("donor size", f"{size / 2**20:.0f} MiB", ""),
    ("mariabackup stream over TLS + prepare", f"{mb:.1f} s", "1.00x"),
    ("cp -a + sync (local limit)", f"{cp:.1f} s", f"{cp / mb:.2f}x of mariabackup"),
    ("clonefs full clone (snapshot, mount, materialize)", f"{cfs:.1f} s",
     f"{cfs / mb:.2f}x mariabackup (goal <= 0.5), {cfs / cp:.2f}x cp (goal <= 1.5)"),
    ("  of which snapshot + mount", f"{mount:.1f} s", ""),
    ("  of which materialize", f"{mat:.1f} s", f"{size / 2**20 / mat:.0f} MiB/s"),
    ("time to first read (method mariabackup)", f"{first:.1f} s", "goal <= 1 s needs btrfs (issue 6)"),
    ("recipient peak RSS", f"{int(rss_kb) / 1024:.0f} MiB", "goal <= 256 MiB"),
    ("donor CPU serving, per GB", f"{serve_cpu / gb:.2f} s" if gb else "-", f"snapshot (mariabackup) {snap_cpu:.1f} s"),
]
w = max(len(r[0]) for r in rows)
print()
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:>10}  {r[2]}")
print("\nwritten: bench-results.json")
PY
