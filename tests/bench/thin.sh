#!/usr/bin/env bash
# thin.sh: `make bench`, thin clones (issue 14): time from the clone command to the first query a
# server on the result answers, at the bench's size and at 4x, for `clonefs clone --thin`, the full
# `clonefs clone` and mariabackup (backup + prepare + start); sysbench oltp_read_write TPS and p99 on
# a local copy, on the thin clone hydrated and on a cold one; the mount daemon's peak RSS. Merged into
# bench-results.json and drawn as bench-results.svg (tests/bench/README.md).
#   BENCH_SIZE=MB (default 2048), BENCH_THIN_SECONDS=S sysbench time per run (default 60)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/../lib/e2e.sh"
. "$here/../lib/thin.sh"
. "$here/btrfs.sh"

size_mb=${BENCH_SIZE:-2048}
secs=${BENCH_THIN_SECONDS:-60}
T=$(t_tmpdir)
# The donors on btrfs where it can be had (clonefsd's btrfs snapshots take milliseconds, as a DBA
# with such a donor gets), else on the temporary directory's file system with mariabackup snapshots.
BTRFS_WHY=
btrfs_up $((size_mb * 5 * 3 + 4096)) || say "btrfs: not available ($BTRFS_WHY): mariabackup snapshots"
[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf --one-file-system '$T'"
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
say() { printf '%s\n' "-- $*" >&2; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
THIN_PW=pw
SB=(--mysql-user=root --mysql-db=sbtest --tables=8)

# first_query DIR: wait until the server of DIR answers a query (bounded).
first_query() {
	t_wait_for "mariadb --no-defaults -S '$1/mysql.sock' -u root -N -e 'SELECT 1' >/dev/null 2>&1" 600 ||
		{ tail -5 "$1/error.log"; t_fail "no server answered on $1"; }
}
start_safe() { # DATADIR DIR: mysqld_safe in the background, not waited for
	mkdir -p "$2/tmp"
	chown mysql:mysql "$2" "$2/tmp"
	mysqld_safe --no-defaults --datadir="$1" --socket="$2/mysql.sock" --pid-file="$2/mysqld.pid" \
		--log-error="$2/error.log" --skip-networking --user=mysql --tmpdir="$2/tmp" >/dev/null 2>&1 &
	t_on_exit "db_stop '$2'"
}
# sysbench_run SOCK NAME: TPS and p99 (ms) of oltp_read_write, 2 threads, $secs seconds.
sysbench_run() {
	sysbench oltp_read_write --mysql-socket="$1" "${SB[@]}" --table-size="$rows" --threads=2 --time="$secs" \
		--percentile=99 --report-interval=0 run >"$T/sb-$2.log" 2>&1 || { tail "$T/sb-$2.log"; t_fail "sysbench on $2 failed"; }
	python3 - "$T/sb-$2.log" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
tps = re.search(r"transactions:\s+\d+\s+\(([\d.]+) per sec", t).group(1)
p99 = re.search(r"99th percentile:\s+([\d.]+)", t).group(1)
print(tps, p99)
PY
}

# one_size X MB: a donor of MB, then the three ways to a server; sets first_<way>_<X>.
one_size() {
	local x=$1 mb=$2 d="$T/$1" ddir="$T/$1/donor" method=(--snapshot-method=mariabackup)
	if [ -z "$BTRFS_WHY" ]; then
		ddir="$T/btrfs/sub/$x"
		method=(--snapshot-method=btrfs --state-dir="$T/btrfs/state-$x")
	fi
	rows=$((mb * 1024 * 1024 / 8 / 230))
	say "$x: donor of about $mb MB (sysbench prepare, 8 tables)"
	db_start "$ddir" --innodb-buffer-pool-size=512M
	local sock="$ddir/mysql.sock"
	db_sql "$sock" "CREATE DATABASE sbtest"
	sysbench oltp_read_write --mysql-socket="$sock" "${SB[@]}" --table-size="$rows" --threads=2 prepare >"$d.prepare.log" 2>&1 ||
		{ tail "$d.prepare.log"; t_fail "sysbench prepare failed"; }
	cfs_make_clone_user "$sock" cloner "$THIN_PW"
	PORT=$(t_free_port)
	cfs_start_donor "$d/cfs" "$PORT" "$sock" "$ddir/data" "${method[@]}"
	thin_recipient_cnf "$d/r.cnf"
	mkdir -p "$d/r"
	local stmt="CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$PORT IDENTIFIED BY '$THIN_PW'"

	say "$x: clonefs clone --thin, then mysqld_safe, to the first query"
	cold
	local t0
	t0=$(now)
	echo "$stmt DATA DIRECTORY = '$d/r/thin'" | "$CLONEFS_BIN/clonefs" clone - --thin --no-progress \
		--recipient-defaults-file="$d/r.cnf" -o ssl_mode=disabled >/dev/null
	t_on_exit "fusermount3 -u -z '$d/r/thin' 2>/dev/null || true"
	start_safe "$d/r/thin" "$d/run-thin"
	first_query "$d/run-thin"
	eval "first_thin_$x=$(since "$t0")"

	say "$x: clonefs clone (full), then mysqld_safe, to the first query"
	cold
	t0=$(now)
	echo "$stmt DATA DIRECTORY = '$d/r/full'" | "$CLONEFS_BIN/clonefs" clone - --no-progress \
		--recipient-defaults-file="$d/r.cnf" -o ssl_mode=disabled >/dev/null
	start_safe "$d/r/full" "$d/run-full"
	first_query "$d/run-full"
	eval "first_full_$x=$(since "$t0")"

	say "$x: mariabackup --backup, --prepare, then mysqld_safe, to the first query"
	cold
	t0=$(now)
	mariabackup --no-defaults --backup --target-dir="$d/mb" --datadir="$ddir/data" --socket="$sock" --user=root --parallel=2 >"$d.mb.log" 2>&1 ||
		{ tail "$d.mb.log"; t_fail "mariabackup --backup failed"; }
	mariabackup --prepare --target-dir="$d/mb" >>"$d.mb.log" 2>&1 || { tail "$d.mb.log"; t_fail "mariabackup --prepare failed"; }
	chown -R mysql:mysql "$d/mb"
	start_safe "$d/mb" "$d/run-mb"
	first_query "$d/run-mb"
	eval "first_mb_$x=$(since "$t0")"
	say "$x (${method[0]#--snapshot-method=} snapshots): thin $(eval echo "\$first_thin_$x") s, full $(eval echo "\$first_full_$x") s, mariabackup $(eval echo "\$first_mb_$x") s"
}

one_size 1x "$size_mb"
d="$T/1x"
say "sysbench oltp_read_write, 2 threads, $secs s: local copy, thin hydrated, thin cold"
read -r tps_local p99_local < <(sysbench_run "$d/run-full/mysql.sock" local)
t_wait_for "grep -q '\"state\":\"complete\"' '$d/r/thin/.clonefs/status'" 3600 || t_fail "the thin clone did not hydrate"
read -r tps_hyd p99_hyd < <(sysbench_run "$d/run-thin/mysql.sock" thin_hydrated)
pid=$(pgrep -f -x "$CLONEFS_BIN/mount.clonefs cloner@127.0.0.1:$PORT $d/r/thin .*" | head -1)
rss_hyd=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
db_stop "$d/run-thin"
db_stop "$d/run-full"
db_stop "$d/run-mb"
cold
thin_mount "$d/cold" "$d/upper-cold" "$d/cache-cold"
start_safe "$d/cold" "$d/run-cold"
first_query "$d/run-cold"
pct=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(100 * d["bytes_cached"] / d["bytes_total"]))' "$d/cold/.clonefs/status")
read -r tps_cold p99_cold < <(sysbench_run "$d/run-cold/mysql.sock" thin_cold)
pid=$(pgrep -f -x "$CLONEFS_BIN/mount.clonefs cloner@127.0.0.1:$PORT $d/cold .*" | head -1)
rss_cold=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
db_stop "$d/run-cold"
say "sysbench TPS: local $tps_local, thin hydrated $tps_hyd, thin cold $tps_cold (started at $pct % hydrated)"
db_stop "$T/btrfs/sub/1x" 2>/dev/null || true
db_stop "$d/donor" 2>/dev/null || true
one_size 4x $((size_mb * 4))

python3 - "$size_mb" "$first_thin_1x" "$first_thin_4x" "$first_full_1x" "$first_full_4x" "$first_mb_1x" "$first_mb_4x" \
	"$tps_local" "$tps_hyd" "$tps_cold" "$p99_local" "$p99_hyd" "$p99_cold" "$rss_hyd" "$rss_cold" "$pct" "$secs" <<'PY'
import json, os, sys
a = sys.argv[1:]
mb = int(a[0])
f = [float(x) for x in a[1:7]]
res = json.load(open("bench-results.json")) if os.path.exists("bench-results.json") else {}
res["thin_first_query_s"] = {"1x": f[0], "4x": f[1]}
res["full_clone_first_query_s"] = {"1x": f[2], "4x": f[3]}
res["mariabackup_first_query_s"] = {"1x": f[4], "4x": f[5]}
res["thin_sizes_mb"] = {"1x": mb, "4x": 4 * mb}
res["sysbench_tps"] = {"local": float(a[7]), "thin_hydrated": float(a[8]), "thin_cold": float(a[9])}
res["sysbench_p99_ms"] = {"local": float(a[10]), "thin_hydrated": float(a[11]), "thin_cold": float(a[12])}
res["thin_mount_rss_mb"] = max(int(a[13]), int(a[14])) / 1024
res["thin_cold_started_pct"] = int(a[15])
res["sysbench_seconds"] = int(a[16])
json.dump(res, open("bench-results.json", "w"), indent=2)
with open("bench-thin.dat", "w") as o:
    o.write(f"{mb} {f[0]} {f[2]} {f[4]}\n{4 * mb} {f[1]} {f[3]} {f[5]}\n")
print(f"{'time to first query (s)':<34}{'1x (' + str(mb) + ' MB)':>16}{'4x':>12}")
for name, i in (("clonefs clone --thin", 0), ("clonefs clone (full)", 2), ("mariabackup backup+prepare", 4)):
    print(f"{name:<34}{f[i]:>16.2f}{f[i + 1]:>12.2f}")
t = res["sysbench_tps"]
print(f"sysbench TPS: local {t['local']:.1f}, thin hydrated {t['thin_hydrated']:.1f} "
      f"({t['thin_hydrated'] / t['local']:.2f}x, goal >= 0.5x), thin cold {t['thin_cold']:.1f}")
print(f"mount daemon peak RSS {res['thin_mount_rss_mb']:.0f} MB (goal <= 256)")
PY
gnuplot <<EOF
set terminal svg size 720,420
set output 'bench-results.svg'
set title 'Time to a server answering queries, by donor size'
set xlabel 'donor size (MB)'
set ylabel 'seconds'
set key left top
set grid
plot 'bench-thin.dat' using 1:2 with linespoints title 'clonefs clone --thin', \
     '' using 1:3 with linespoints title 'clonefs clone (full)', \
     '' using 1:4 with linespoints title 'mariabackup backup + prepare'
EOF
say "written: bench-results.json (thin keys), bench-results.svg"
