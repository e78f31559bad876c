#!/usr/bin/env bash
# test_lazy_read.sh: a fresh mount with prefetch=off fetches nothing until read; reading one 16 KiB
# page of a large tablespace fetches exactly the one chunk that holds it (the mount's own counters),
# and the bytes equal the snapshot's. A second clonefsd with --chunk-size=64K --compression-level=-3
# serves the same bytes and checksums, a bad --chunk-size is one error line, and a snapshot keeps its
# chunk size across a restart with another --chunk-size. digest=sha256 speaks protocol 1, and a cache
# is never resumed under the other digest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
cfs_donor_up "$T" 20 'pw-lazy'

mkdir -p "$T/mnt"
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"

counters() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["chunks_fetched"], d["bytes_fetched"], d["chunk_size"])' "$T/mnt/.clonefs/status"; }
read -r c0 b0 cs < <(counters)
[ "$c0" = 0 ] || t_fail "a fresh prefetch=off mount fetched $c0 chunks before any read"

# The largest tablespace, and a page at the start of its third chunk.
big=$(cd "$T/mnt" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
size=$(stat -c %s "$T/mnt/$big")
[ "$size" -gt $((3 * cs)) ] || t_fail "largest tablespace $big is only $size bytes"
off=$((2 * cs))
python3 - "$T/mnt/$big" "$off" >"$T/page.mnt" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
sys.stdout.buffer.write(os.pread(fd, 16384, int(sys.argv[2])))
PY
read -r c1 b1 _ < <(counters)
t_log "read 16 KiB of $big at offset $off: chunks_fetched=$c1 bytes_fetched=$b1 (chunk size $cs)"
[ "$c1" = 1 ] || t_fail "one page read fetched $c1 chunks, expected exactly 1"
[ "$b1" -le "$cs" ] || t_fail "fetched $b1 bytes for one page"

# The bytes are the snapshot's: compare with the donor's prepared snapshot directory.
snapfile=$(find "$T/state" -path "*/$big" -print -quit)
[ -n "$snapfile" ] || t_fail "cannot find $big in the donor's snapshot directory"
cmp <(dd if="$snapfile" bs=16384 skip=$((off / 16384)) count=1 status=none) "$T/page.mnt" ||
	t_fail "the page read through the mount differs from the snapshot"
t_log "ok: one page, one chunk, same bytes"

t_log "the cache: one mount at a time; clonefs cache list and prune never touch a mounted one"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/mnt/.clonefs/status")
mkdir -p "$T/mnt2"
rc=0
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache,snapshot=$ID" 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 7003 || t_fail "a second mount of the same cache: exit $rc"
grep -q "in use by another mount" "$T/err" || t_fail "7003 does not say the cache is in use"
"$CLONEFS_BIN/clonefs" cache list --cache-dir="$T/cache" | tee "$T/list"
grep -q "^$ID .* mounted$" "$T/list" || t_fail "cache list does not show $ID mounted"
"$CLONEFS_BIN/clonefs" cache prune --cache-dir="$T/cache" >/dev/null
[ -f "$T/cache/$ID/chunks.idx" ] || t_fail "prune removed a mounted cache"
fusermount3 -u "$T/mnt"
t_wait_for "! \"$CLONEFS_BIN/clonefs\" cache list --cache-dir='$T/cache' | grep -q ' mounted\$'" 10 ||
	t_fail "the cache is still held after umount"
"$CLONEFS_BIN/clonefs" cache prune --cache-dir="$T/cache" --max-size=1G | tee "$T/prune"
[ -f "$T/cache/$ID/chunks.idx" ] || t_fail "prune --max-size=1G removed a cache that fits"
"$CLONEFS_BIN/clonefs" cache prune --cache-dir="$T/cache" --max-size=0 | tee "$T/prune"
[ ! -e "$T/cache/$ID" ] || t_fail "prune --max-size=0 left $ID"
grep -q "^removed $ID " "$T/prune" || t_fail "prune did not say what it removed"

t_log "digest=sha256 (protocol 1), then the same cache with the default (protocol 2, XXH64): it starts over"
# digest_page DIGEST: mount snapshot $ID on $T/cache1 with that digest (default: none given), read
# the page again and check its bytes, its one chunk (fetched or resumed), and the protocol and digest the status
# reports; prints chunks_resumed.
digest_page() {
	local opt=${1:+,digest=$1} proto=2 name=xxh64
	[ "${1:-}" = sha256 ] && proto=1 name=sha256
	mkdir -p "$T/mnt1"
	CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt1" \
		-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache1,snapshot=$ID$opt"
	t_on_exit "fusermount3 -u '$T/mnt1' 2>/dev/null || true"
	cmp <(dd if="$T/mnt1/$big" bs=16384 skip=$((off / 16384)) count=1 status=none) "$T/page.mnt" ||
		t_fail "digest ${1:-default}: the page differs"
	python3 - "$T/mnt1/.clonefs/status" "$proto" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# The page's chunk was either resumed from the cache or fetched, once.
if (d["protocol"], d["digest"]) != (int(sys.argv[2]), sys.argv[3]) or d["chunks_fetched"] + d["chunks_resumed"] != 1:
    sys.exit("FAIL: protocol %s, digest %s, %d chunks fetched, %d resumed; expected %s, %s, 1 in all" % (
        d["protocol"], d["digest"], d["chunks_fetched"], d["chunks_resumed"], sys.argv[2], sys.argv[3]))
print(d["chunks_resumed"])
PY
	fusermount3 -u "$T/mnt1"
}
[ "$(digest_page sha256)" = 0 ] || t_fail "a new cache resumed chunks"
[ "$(digest_page sha256)" = 1 ] || t_fail "the sha256 cache did not resume its chunk with digest=sha256"
[ "$(digest_page)" = 0 ] || t_fail "a cache of SHA-256 records was resumed under XXH64"
[ "$(digest_page)" = 1 ] || t_fail "the xxh64 cache did not resume its chunk"
rc=0
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt1" \
	-o "ssl_mode=disabled,cache_dir=$T/cache1,digest=md5" 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 7006 || t_fail "digest=md5: exit $rc"

t_log "clonefsd --chunk-size/--compression-level/--parallel: a bad value is one error line and exit 1"
for opt in --chunk-size=1000 --chunk-size=60K --chunk-size=8M --chunk-size=65537 --chunk-size=1G \
	--chunk-size=-64K --chunk-size= --chunk-size --compression-level=23 --compression-level=-131073 \
	--compression-level=x --parallel=0 --parallel=65 --parallel=two; do
	rc=0
	"$CLONEFS_BIN/clonefsd" --defaults-file=/dev/null "$opt" --socket="$DONOR_SOCK" --foreground \
		--listen=127.0.0.1:1 --state-dir="$T/never" >"$T/err" 2>&1 || rc=$?
	[ $rc = 1 ] || t_fail "clonefsd $opt: exit $rc, expected 1"
	cfs_assert_one_error "$T/err" 7006
	grep -q -- "${opt%%=*}" "$T/err" || t_fail "clonefsd $opt: the error does not name the option: $(cat "$T/err")"
done
[ ! -e "$T/never" ] || t_fail "clonefsd with a bad option created its state dir"

t_log "a second clonefsd with --chunk-size=64K --compression-level=-3 (zstd fast mode) --parallel=3"
S=$T/small
PORT64=$(t_free_port)
cfs_start_donor "$S" "$PORT64" "$DONOR_SOCK" "$T/donor/data" --chunk-size=64K --compression-level=-3 --parallel=3
PID64=$CFS_DONOR_PID
grep -q "chunk size 65536, compression auto, zstd level -3, parallel 3)" "$S/clonefsd.log" || { cat "$S/clonefsd.log"; t_fail "clonefsd does not log its chunk size, level and parallel"; }
mkdir -p "$T/mnt64"
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT64" "$T/mnt64" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache64"
t_on_exit "fusermount3 -u '$T/mnt64' 2>/dev/null || true"
st64() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["snapshot_id"], d["chunk_size"], d["chunks_fetched"], d["bytes_fetched"])' "$1/.clonefs/status"; }
read -r ID64 cs64 c0 _ < <(st64 "$T/mnt64")
[ "$cs64" = 65536 ] || t_fail "the 64K donor's mount reports chunk_size $cs64"
[ "$c0" = 0 ] || t_fail "a fresh prefetch=off mount fetched $c0 chunks"
snaproot=$(find "$S/state/$ID64" -name ibdata1 -printf '%h\n' -quit)
[ -n "$snaproot" ] && [ -f "$snaproot/$big" ] || t_fail "cannot find snapshot $ID64's tree under $S/state"
grep -q 'Starting 3 threads for parallel data files transfer' "$S/state/$ID64/mariabackup.log" ||
	{ head -20 "$S/state/$ID64/mariabackup.log"; t_fail "mariabackup did not run with clonefsd's --parallel=3"; }
off=$((5 * 65536 + 16384))
python3 - "$T/mnt64/$big" "$off" >"$T/page64.mnt" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
sys.stdout.buffer.write(os.pread(fd, 16384, int(sys.argv[2])))
PY
read -r _ _ c1 b1 < <(st64 "$T/mnt64")
t_log "read 16 KiB of $big at offset $off: chunks_fetched=$c1 bytes_fetched=$b1"
[ "$c1" = 1 ] || t_fail "one page read with 64 KiB chunks fetched $c1 chunks, expected exactly 1"
[ "$b1" -gt 0 ] && [ "$b1" -le 65536 ] || t_fail "fetched $b1 bytes for one page with 64 KiB chunks"
cmp <(dd if="$snaproot/$big" bs=16384 skip=$((off / 16384)) count=1 status=none) "$T/page64.mnt" ||
	t_fail "the page read through the 64K mount differs from the snapshot"

t_log "every file through the 64K mount equals the snapshot's"
n=0
while IFS= read -r -d '' f; do
	cmp -- "$T/mnt64/$f" "$snaproot/$f" || t_fail "$f differs between the 64K mount and the snapshot"
	n=$((n + 1))
done < <(cd "$T/mnt64" && find . -path ./.clonefs -prune -o -type f -printf '%P\0')
[ "$n" -gt 20 ] || t_fail "only $n files compared"
read -r _ _ c2 _ < <(st64 "$T/mnt64")
t_log "$n files equal; chunks_fetched=$c2"

t_log "materialize the 64K mount and compare CHECKSUM TABLE with the donor"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt64" "$T/clone64" --owner=mysql --no-progress
fusermount3 -u "$T/mnt64"
db_start_safe "$T/clone64" "$T/clone64-run"
db_checksums "$DONOR_SOCK" >"$T/donor.sums"
db_checksums "$T/clone64-run/mysql.sock" >"$T/clone64.sums"
diff "$T/donor.sums" "$T/clone64.sums" || t_fail "CHECKSUM TABLE of the 64K clone differs from the donor"
[ "$(grep -c '^sample\.' "$T/donor.sums")" -ge 9 ] || t_fail "too few sample tables checksummed"
db_stop "$T/clone64-run"

t_log "restarted with --chunk-size=1M on the same state dir, snapshot $ID64 keeps 64 KiB chunks"
kill "$PID64"
t_wait_for "! kill -0 $PID64 2>/dev/null" 30 || t_fail "clonefsd did not stop on SIGTERM"
wait "$PID64" 2>/dev/null || true
mv "$S/clonefsd.log" "$S/clonefsd-1.log"
cfs_start_donor "$S" "$PORT64" "$DONOR_SOCK" "$T/donor/data" --chunk-size=1M
grep -q "snapshot $ID64 reloaded .*chunk size 65536)" "$S/clonefsd.log" ||
	{ cat "$S/clonefsd.log"; t_fail "the reloaded snapshot does not keep its chunk size"; }
mkdir -p "$T/mnt64b"
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT64" "$T/mnt64b" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache64b,snapshot=$ID64"
t_on_exit "fusermount3 -u '$T/mnt64b' 2>/dev/null || true"
read -r id cs _ _ < <(st64 "$T/mnt64b")
[ "$id" = "$ID64" ] && [ "$cs" = 65536 ] || t_fail "after the restart snapshot $id has chunk_size $cs, expected $ID64 with 65536"
off=$((9 * 65536))
cmp <(dd if="$T/mnt64b/$big" bs=16384 skip=$((off / 16384)) count=1 status=none) \
	<(dd if="$snaproot/$big" bs=16384 skip=$((off / 16384)) count=1 status=none) ||
	t_fail "after the restart a page of $big differs from the snapshot"
read -r _ _ c3 _ < <(st64 "$T/mnt64b")
[ "$c3" = 1 ] || t_fail "one page read after the restart fetched $c3 chunks"
fusermount3 -u "$T/mnt64b"
mkdir -p "$T/mnt1m"
CLONEFS_PASSWORD='pw-lazy' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT64" "$T/mnt1m" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache1m"
t_on_exit "fusermount3 -u '$T/mnt1m' 2>/dev/null || true"
read -r id cs _ _ < <(st64 "$T/mnt1m")
[ "$id" != "$ID64" ] && [ "$cs" = 1048576 ] || t_fail "a new snapshot after the restart: $id with chunk_size $cs, expected a new one with 1048576"
fusermount3 -u "$T/mnt1m"
t_log "PASS: one page, one chunk, same bytes; the cache held while mounted, pruned after; 64 KiB chunks with zstd -3 give the donor's bytes and checksums, and keep their size across a restart"
