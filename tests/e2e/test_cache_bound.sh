#!/usr/bin/env bash
# test_cache_bound.sh: a mount with cache_max= keeps its cache under the bound while mounted
# (docs/decisions.md D14). Every file of a ~20 MB snapshot read through a 4 MiB-bounded mount, once
# alone and then by two readers at once, equals the donor's snapshot; least recently used chunks are
# evicted and fetched again (a file read twice is fetched twice); the status never shows more than
# the bound cached, and the data files never hold more than the bound plus one read's chunks.
# materialize reads a bounded mount through FUSE (no cache_file answer) and gets the same bytes; a
# bounded handoff=on mount still hands every file over. With prefetch=on, hydration stops below
# the bound (state "bounded") and stays stopped: nothing more is fetched, nothing evicted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
cfs_donor_up "$T" 20 'pw-bound'
MAX=$((4 << 20))

mount_it() { # mount_it DIR CACHE OPTS
	mkdir -p "$1"
	CLONEFS_PASSWORD='pw-bound' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$1" \
		-o "ssl_mode=disabled,cache_dir=$2${3:+,$3}"
	t_on_exit "fusermount3 -u '$1' 2>/dev/null || true"
}
# Bytes the cache's data files take on disk (sparse: evicted chunks are holes).
allocated() { find "$1/data" -type f -printf '%b\n' | awk '{ s += $1 * 512 } END { print s + 0 }'; }

t_log "a cache_max below 4 MiB, or not a size, is one error line"
mkdir -p "$T/never"
for bad in 1M 100K 4X -4M ''; do
	rc=0
	CLONEFS_PASSWORD='pw-bound' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/never" \
		-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache-never,cache_max=$bad" 2>"$T/err" || rc=$?
	[ $rc = 1 ] || t_fail "cache_max=$bad: exit $rc, expected 1"
	cfs_assert_one_error "$T/err" 7006
	grep -q "cache_max" "$T/err" || t_fail "cache_max=$bad: the error does not name the option: $(cat "$T/err")"
done
! mountpoint -q "$T/never" || t_fail "a refused cache_max mounted anyway"

mount_it "$T/mnt" "$T/cache" "prefetch=off,cache_max=4M"
ID=$(cfs_status_field "$T/mnt" snapshot_id)
CS=$(cfs_status_field "$T/mnt" chunk_size)
C=$T/cache/$ID
[ "$(cfs_status_field "$T/mnt" cache_max)" = $MAX ] || t_fail "status cache_max is $(cfs_status_field "$T/mnt" cache_max), expected $MAX"
total=$(cfs_status_field "$T/mnt" bytes_total)
[ "$total" -gt $((3 * MAX)) ] || t_fail "the snapshot ($total bytes) is too small to test a $MAX-byte bound"
# One demand READ: a FUSE read (at most 1 MiB) spans at most two chunks.
SLACK=$((2 * CS))
snaproot=$(find "$T/state/$ID" -name ibdata1 -printf '%h\n' -quit)
[ -n "$snaproot" ] || t_fail "cannot find snapshot $ID's tree under $T/state"
(cd "$T/mnt" && find . -path ./.clonefs -prune -o -type f -printf '%P\0') >"$T/files"
nfiles=$(tr -cd '\0' <"$T/files" | wc -c)
[ "$nfiles" -gt 20 ] || t_fail "only $nfiles files in the snapshot"

# check_bound WHERE: the status and the disk both within the bound.
peak_alloc=0
check_bound() {
	local cached alloc
	cached=$(cfs_status_field "$T/mnt" bytes_cached)
	alloc=$(allocated "$C")
	[ "$cached" -le $MAX ] || t_fail "$1: bytes_cached $cached > cache_max $MAX"
	[ "$alloc" -le $((MAX + SLACK)) ] || t_fail "$1: the data files take $alloc bytes > $MAX + $SLACK"
	[ "$alloc" -le "$peak_alloc" ] || peak_alloc=$alloc
}

t_log "every file through the 4 MiB-bounded mount equals the snapshot's"
while IFS= read -r -d '' f; do
	cmp -- "$T/mnt/$f" "$snaproot/$f" || t_fail "$f differs between the bounded mount and the snapshot"
	check_bound "after $f"
done <"$T/files"
evicted=$(cfs_status_field "$T/mnt" chunks_evicted)
fetched1=$(cfs_status_field "$T/mnt" bytes_fetched)
t_log "$nfiles files equal: bytes_fetched=$fetched1 of $total, chunks_evicted=$evicted, bytes_cached=$(cfs_status_field "$T/mnt" bytes_cached), peak allocated $peak_alloc"
[ "$evicted" -gt 0 ] || t_fail "reading $total bytes through a $MAX-byte cache evicted nothing"
[ "$fetched1" -ge "$((total / 2))" ] || t_fail "only $fetched1 of $total bytes fetched"
[ "$(cfs_status_field "$T/mnt" state)" = lazy ] || t_fail "state $(cfs_status_field "$T/mnt" state), expected lazy"

t_log "the largest file, read again, is fetched again (its first chunks were evicted) and still equal"
big=$(cd "$T/mnt" && find . -path ./.clonefs -prune -o -type f -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
bigsize=$(stat -c %s "$T/mnt/$big")
[ "$bigsize" -gt $MAX ] || t_fail "the largest file $big ($bigsize bytes) fits the bound"
# Out of the kernel's page cache of the mount (the snapshot is immutable: it keeps pages across opens).
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$T/mnt/$big"
cmp -- "$T/mnt/$big" "$snaproot/$big" || t_fail "$big differs on the second read"
fetched2=$(cfs_status_field "$T/mnt" bytes_fetched)
t_log "second read of $big ($bigsize bytes): bytes_fetched $fetched1 -> $fetched2"
[ "$fetched2" -ge $((fetched1 + bigsize - MAX)) ] || t_fail "the second read of $big fetched only $((fetched2 - fetched1)) bytes"
check_bound "after $big twice"

t_log "two readers at once over every file, evicting under each other"
reader() { # reader N: cmp every file in order N, "ok" or the first difference in $T/reader.N
	local f out=ok
	while IFS= read -r -d '' f; do
		python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$T/mnt/$f"
		cmp -s -- "$T/mnt/$f" "$snaproot/$f" || { out="differs: $f"; break; }
	done < <(if [ "$1" = 1 ]; then cat "$T/files"; else tr '\0' '\n' <"$T/files" | tac | tr '\n' '\0'; fi)
	echo "$out" >"$T/reader.$1.tmp" && mv "$T/reader.$1.tmp" "$T/reader.$1"
}
reader 1 & r1=$!
reader 2 & r2=$!
t_on_exit "kill $r1 $r2 2>/dev/null || true"
t_wait_for "[ -f '$T/reader.1' ] && [ -f '$T/reader.2' ]" 300 || t_fail "the two readers did not finish in 300 s"
[ "$(cat "$T/reader.1")" = ok ] || t_fail "reader 1: $(cat "$T/reader.1")"
[ "$(cat "$T/reader.2")" = ok ] || t_fail "reader 2: $(cat "$T/reader.2")"
check_bound "after two readers"
t_log "two readers equal; chunks_evicted=$(cfs_status_field "$T/mnt" chunks_evicted), bytes_fetched=$(cfs_status_field "$T/mnt" bytes_fetched)"

t_log "clonefs status shows the bound"
"$CLONEFS_BIN/clonefs" status "$T/mnt" | tee "$T/status.out"
grep -q "^cache      at most 4.00 MiB, [1-9][0-9]* chunks evicted$" "$T/status.out" || t_fail "clonefs status has no cache line"

# materialize_as MOUNT DIR "HANDED RANGE FUSE" WAY: materialize MOUNT into DIR, every file gone the
# expected way (cfs_materialize_how), every file equal to the snapshot's.
materialize_as() {
	"$CLONEFS_BIN/clonefs" materialize "$1" "$2" --no-progress >"$2.out"
	local how
	how=$(cfs_materialize_how "$2.out")
	[ "$how" = "$3" ] || { cat "$2.out"; t_fail "expected all $nfiles files $4, got '$how'"; }
	while IFS= read -r -d '' f; do
		cmp -- "$2/$f" "$snaproot/$f" || t_fail "$f of $2 ($4) differs from the snapshot"
	done <"$T/files"
}

t_log "materialize reads a bounded mount through FUSE (no cache_file answer) and gets the same bytes"
materialize_as "$T/mnt" "$T/clone" "0 0 $nfiles" "read through the mount"
check_bound "after materialize"
fusermount3 -u "$T/mnt"
rm -rf "$T/clone"

t_log "a bounded handoff=on mount still hands every file over"
mount_it "$T/hmnt" "$T/hcache" "snapshot=$ID,handoff=on,prefetch=off,cache_max=4M"
materialize_as "$T/hmnt" "$T/hclone" "$nfiles 0 0" "handed off"
fusermount3 -u "$T/hmnt"
rm -rf "$T/hclone"

t_log "prefetch=on with cache_max=8M: hydration stops below the bound and stays stopped"
MAX8=$((8 << 20))
mount_it "$T/pmnt" "$T/pcache" "snapshot=$ID,cache_max=8M"
t_wait_for "[ \"\$(cfs_status_field '$T/pmnt' state)\" = bounded ]" 60 ||
	t_fail "hydration did not stop at the bound: state $(cfs_status_field "$T/pmnt" state), bytes_cached $(cfs_status_field "$T/pmnt" bytes_cached)"
c1=$(cfs_status_field "$T/pmnt" chunks_fetched)
sleep 3
c2=$(cfs_status_field "$T/pmnt" chunks_fetched)
cached=$(cfs_status_field "$T/pmnt" bytes_cached)
t_log "bounded: bytes_cached=$cached of $total, chunks_fetched $c1 then $c2 three seconds later"
[ "$c1" = "$c2" ] || t_fail "a bounded mount kept hydrating: chunks_fetched $c1 -> $c2"
[ "$cached" -gt 0 ] && [ "$cached" -le $((MAX8 * 9 / 10)) ] || t_fail "bytes_cached $cached, expected 0 < it <= 90% of $MAX8"
[ "$(cfs_status_field "$T/pmnt" chunks_evicted)" = 0 ] || t_fail "hydration evicted $(cfs_status_field "$T/pmnt" chunks_evicted) chunks"
eta=$(cfs_status_field "$T/pmnt" eta_s)
python3 -c 'import sys; sys.exit(float(sys.argv[1]) != -1)' "$eta" || t_fail "a bounded mount estimates eta_s=$eta"
[ "$(cfs_status_field "$T/pmnt" state)" = bounded ] || t_fail "state $(cfs_status_field "$T/pmnt" state), expected bounded"
cmp -- "$T/pmnt/$big" "$snaproot/$big" || t_fail "$big differs through the bounded prefetch=on mount"
[ "$(cfs_status_field "$T/pmnt" bytes_cached)" -le $MAX8 ] || t_fail "bytes_cached $(cfs_status_field "$T/pmnt" bytes_cached) > $MAX8 after a read"
[ "$(cfs_status_field "$T/pmnt" state)" = bounded ] || t_fail "state $(cfs_status_field "$T/pmnt" state) after a read, expected bounded"
fusermount3 -u "$T/pmnt"

t_log "PASS: $nfiles files through a 4 MiB cache equal the snapshot ($evicted chunks evicted on the first pass, peak $peak_alloc bytes on disk); re-fetch, two readers, FUSE materialize and handoff work bounded; prefetch=on stops at the bound"
