#!/usr/bin/env bash
# test_lazy_read.sh: a fresh mount with prefetch=off fetches nothing until read; reading one 16 KiB
# page of a large tablespace fetches exactly the one chunk that holds it (the mount's own counters),
# and the bytes equal the snapshot's.
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
t_log "PASS: one page, one chunk, same bytes; the cache held while mounted, pruned after"
