#!/usr/bin/env bash
# store.sh: part of `make bench` (run.sh calls it with its donor; alone it makes one of BENCH_SIZE):
# the object-store tier against a single-node Ceph radosgw on loopback (tests/lib/ceph.sh): the first
# `clonefs publish` of one snapshot against `rclone copy` of the same snapshot's files to the same
# radosgw, a second publish after 1 % of the rows changed (time and bytes uploaded), and a full clone
# from the store (mount s3:// + materialize) against the same snapshot mounted from clonefsd. Writes
# the store_* and rclone_* JSON keys to the file given as $1 and prints its lines with their ratios.
#   STORE_DONOR_SOCK, STORE_DONOR_DATA: the donor's socket and datadir (run.sh's); without them a
#   sysbench donor of BENCH_SIZE MB (default 2048) is made here.
# radosgw's OSD keeps every object in RAM (memstore): the part is skipped, with a SKIP line, when
# 3 x the datadir + 1 GiB (the store's capacity: the publishes, rclone's copy, headroom) does not fit
# in the memory available less 4 GiB (tests/bench/README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/../lib/e2e.sh"
. "$here/../lib/ceph.sh"
out=${1:-store.json}
case $out in --bin=*) out=store.json ;; esac
T=$(t_tmpdir)
. "$here/bench_lib.sh"
command -v radosgw >/dev/null && command -v ceph-osd >/dev/null && command -v ceph-mon >/dev/null ||
	t_skip "object store: Ceph is not installed (make deps installs ceph-mon, ceph-osd, radosgw)"
command -v rclone >/dev/null || t_skip "object store: rclone is not installed (make deps)"

if [ -n "${STORE_DONOR_SOCK:-}" ]; then
	SOCK=$STORE_DONOR_SOCK DATA=$STORE_DONOR_DATA
	rows=$(db_sql "$SOCK" "SELECT COUNT(*) FROM sbtest.sbtest1")
else
	say "object store: a donor of about ${BENCH_SIZE:-2048} MB (sysbench prepare, 8 tables)"
	bench_donor "$T/donor" "${BENCH_SIZE:-2048}"
	DATA="$T/donor/data"
	db_sql "$SOCK" "FLUSH TABLES"
fi
size=$(du -sb --apparent-size "$DATA" | cut -f1)
need=$((size * 3 + (1 << 30)))
avail=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024))
[ "$need" -le $((avail - (4 << 30))) ] ||
	t_skip "object store: a store of $((need >> 20)) MiB in RAM (3 x the $((size >> 20)) MiB datadir + 1 GiB) does not fit in $((avail >> 20)) MiB available less 4 GiB; run it at a smaller size: BENCH_SIZE=MB bash tests/bench/store.sh OUT.json --bin=bin"

say "object store: a single-node Ceph (memstore, $((need >> 20)) MiB) with radosgw on loopback"
CEPH_MEMSTORE_BYTES=$need ceph_up "$T/ceph"
tls_make "$T/tls"
openssl rand -hex 32 >"$T/store.key"
PORT=$(t_free_port)
cfs_start_donor "$T/cfs" "$PORT" "$SOCK" "$DATA" --snapshot-ttl=7200 \
	--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
export CLONEFS_PASSWORD=pw
S3=s3://clonefs-bench/prod
DOPT="ssl_mode=required,ssl_ca=$T/tls/ca.pem"
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# snapshot VAR: a new snapshot made by clonefsd (a mount that reads nothing, then unmounted;
# clonefsd keeps it its TTL); its id in VAR. The publishes and rclone start from a snapshot already
# made: what is timed is moving it, not making it.
snapshot() {
	mkdir -p "$T/snapmnt"
	"$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/snapmnt" \
		-o "$DOPT,cache_dir=$T/snapcache,snapshot=new,prefetch=off" || t_fail "no snapshot from clonefsd"
	t_on_exit "fusermount3 -u '$T/snapmnt' 2>/dev/null || true"
	printf -v "$1" '%s' "$(jget "$T/snapmnt/.clonefs/status" snapshot_id)"
	fusermount3 -u "$T/snapmnt"
	rm -rf "$T/snapcache"
}
# publish ID NAME: `clonefs publish` of snapshot ID from a cold page cache, timed into NAME_s; its
# JSON summary in $T/NAME.json.
publish() {
	local t0
	cold
	t0=$(now)
	"$CLONEFS_BIN/clonefs" publish "cloner@127.0.0.1:$PORT" "$S3" -o "$DOPT,store_key_file=$T/store.key,snapshot=$1" \
		--json >"$T/$2.json" 2>"$T/$2.err" || { cat "$T/$2.err" >&2; t_fail "clonefs publish ($2) failed"; }
	printf -v "$2_s" '%s' "$(since "$t0")"
}
# clone_from SOURCE NAME OPTIONS: mount SOURCE with -o OPTIONS and an empty cache, materialize it
# into $T/NAME, from a cold page cache, timed into NAME_s; then unmounted and its cache removed.
clone_from() {
	local src=$1 name=$2 opts=$3 t0
	mkdir -p "$T/m-$name"
	cold
	t0=$(now)
	"$CLONEFS_BIN/mount.clonefs" "$src" "$T/m-$name" -o "$opts,cache_dir=$T/c-$name" || t_fail "mount of $src failed"
	t_on_exit "fusermount3 -u '$T/m-$name' 2>/dev/null || true"
	"$CLONEFS_BIN/clonefs" materialize "$T/m-$name" "$T/$name" --owner=mysql --no-progress >"$T/$name.out" 2>&1 ||
		{ cat "$T/$name.out" >&2; t_fail "materialize from $src failed"; }
	printf -v "$2_s" '%s' "$(since "$t0")"
	cp "$T/m-$name/.clonefs/status" "$T/$name.status"
	fusermount3 -u "$T/m-$name"
	rm -rf "$T/c-$name"
}

snapshot A
say "object store: clonefs publish of snapshot $A (first: nothing stored yet)"
publish "$A" pub1
pub_bytes=$(jget "$T/pub1.json" bytes_uploaded)
snap_bytes=$(jget "$T/pub1.json" bytes_total)

# rclone copy of the same snapshot's files (the mariabackup method's prepared copy clonefsd serves,
# <state>/<id>/data) into another prefix of the same bucket: an S3 remote of Ceph, path style, the
# radosgw's endpoint and the test user's keys, all from the environment (no rclone.conf is read).
# AWS_CA_BUNDLE, where set, is dropped: rclone's S3 client fails to start with it ("unsupported
# transport"), and the endpoint is plain HTTP on loopback anyway.
say "object store: rclone copy of the same snapshot's files"
src="$T/cfs/state/$A/data"
[ -d "$src" ] || t_fail "the snapshot's files are not in $src"
rc_bytes=$(du -sb --apparent-size "$src" | cut -f1)
cold
t0=$(now)
env -u AWS_CA_BUNDLE RCLONE_CONFIG="$T/rclone.conf" RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Ceph \
	RCLONE_CONFIG_BENCH_ENDPOINT="$RGW_URL" RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true \
	RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
	RCLONE_CONFIG_BENCH_REGION="$AWS_REGION" \
	rclone copy "$src" "bench:clonefs-bench/rclone/$A" >"$T/rclone.log" 2>&1 || { tail "$T/rclone.log" >&2; t_fail "rclone copy failed"; }
rclone_s=$(since "$t0")

say "object store: full clone from the store (mount s3:// + materialize), then the same snapshot from clonefsd"
clone_from "$S3/$A" from_store "store_key_file=$T/store.key"
clone_from "cloner@127.0.0.1:$PORT" from_donor "$DOPT,snapshot=$A"
diff -r -x 'clonefs_*' "$T/from_store" "$T/from_donor" >"$T/diff" 2>&1 ||
	t_fail "the clone from the store differs from the one from clonefsd: $(head -3 "$T/diff")"
rm -rf "$T/from_donor"
db_start_safe "$T/from_store" "$T/from_store-run"
n=$(db_sql "$T/from_store-run/mysql.sock" "SELECT COUNT(*) FROM sbtest.sbtest1")
[ "$n" = "$rows" ] || t_fail "the clone from the store has $n rows in sbtest.sbtest1, the donor $rows"
db_stop "$T/from_store-run"
rm -rf "$T/from_store" "$T/from_store-run"

# 1 % of the rows: in each table the first 1 % by primary key, their non-indexed column c rewritten
# (as sysbench's non_index_updates), then a new snapshot and a second publish.
change=$((rows / 100))
say "object store: $change rows of each of the 8 tables changed (1 %), a new snapshot, the second publish"
for i in 1 2 3 4 5 6 7 8; do
	db_sql "$SOCK" "UPDATE sbtest.sbtest$i SET c = CONCAT('changed-', id, '-', MD5(id)) WHERE id <= $change"
done
snapshot B
publish "$B" pub2
inc_bytes=$(jget "$T/pub2.json" bytes_uploaded)

rss() { awk '/VmHWM/ {print $2 * 1024}' "/proc/$(cat "$CEPH_DIR/run/$1.pid")/status" 2>/dev/null || echo 0; }
osd_rss=$(rss osd.0) rgw_rss=$(rss client.rgw)

python3 - "$out" "$size" "$snap_bytes" "$pub1_s" "$pub_bytes" "$rclone_s" "$rc_bytes" "$pub2_s" "$inc_bytes" \
	"$from_store_s" "$from_donor_s" "$osd_rss" "$rgw_rss" "$change" "$T/from_store.status" "$T/from_donor.status" <<'PY'
import json, sys
out = sys.argv[1]
size, snap, pub_s, pub_b, rc_s, rc_b, inc_s, inc_b, sc_s, dc_s, osd, rgw, change = map(float, sys.argv[2:15])
fetch = {k: json.load(open(f)).get("time_s", {}) for k, f in (("store", sys.argv[15]), ("donor", sys.argv[16]))}
res = {"store_size_bytes": int(size), "store_snapshot_bytes": int(snap),
       "store_publish_s": pub_s, "store_publish_bytes": int(pub_b),
       "rclone_copy_s": rc_s, "rclone_copy_bytes": int(rc_b),
       "store_incremental_s": inc_s, "store_incremental_bytes": int(inc_b),
       "store_incremental_bytes_ratio": round(inc_b / pub_b, 4) if pub_b else None,
       "store_incremental_rows_changed": int(change) * 8,
       "store_clone_s": sc_s, "store_clone_donor_s": dc_s, "store_clone_fetch_s": fetch,
       "store_ceph_peak_rss_bytes": {"osd": int(osd), "radosgw": int(rgw)}}
json.dump(res, open(out, "w"), indent=2)
mib = lambda b: f"{b / 2**20:.0f} MiB"
print(f"\nobject store (radosgw on loopback, memstore), snapshot of {mib(snap)}")
rows = [
    ("clonefs publish, first (nothing stored)", f"{pub_s:.1f} s", f"{pub_s / rc_s:.2f}x rclone copy; {mib(pub_b)} uploaded (encrypted, zstd)"),
    ("rclone copy of the same snapshot's files", f"{rc_s:.1f} s", f"{mib(rc_b)} uploaded"),
    ("clonefs publish after 1 % of the rows changed", f"{inc_s:.1f} s",
     f"{inc_s / pub_s:.2f}x the first in time, {inc_b / pub_b:.3f}x in bytes ({mib(inc_b)}; goal <= 0.05)"),
    ("full clone from the store: mount s3:// + materialize", f"{sc_s:.1f} s",
     f"{sc_s / dc_s:.2f}x the same snapshot from clonefsd ({dc_s:.1f} s)"),
    ("  mount daemon, store / clonefsd: wait for the source / decompress+verify / cache write",
     " | ".join("/".join(f"{fetch[k].get(x, 0):.1f}" for x in ("network_wait", "decompress_verify", "cache_write"))
                for k in ("store", "donor")) + " s", "summed over threads: overlapping"),
    ("  Ceph peak RSS: OSD (memstore) / radosgw", f"{mib(osd)} / {mib(rgw)}", ""),
]
w = max(len(r[0]) for r in rows)
for r in rows:
    print(f"{r[0]:<{w}}  {r[1]:>10}  {r[2]}")
PY
