#!/usr/bin/env bash
# test_materialize_paths.sh: the ways materialize gets a file's bytes (docs/decisions.md D13)
# give the same datadir, byte for byte and hole for hole:
#   1. from the mount's cache with copy_file_range (a normal mount, materialize as the mount's user);
#   2. through FUSE (--through-mount, as any program reads the mount);
#   3. handed over from a handoff=on mount (renamed out of its cache), after which the mount no
#      longer serves those files and its cache no longer holds them;
#   4. from a cache on another file system (tmpfs), where copy_file_range is refused and the bytes
#      are read and written.
# The copy-from-cache clone starts under mysqld_safe with the donor's checksums.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
cfs_donor_up "$T" 10 'pw-paths'
db_checksums "$DONOR_SOCK" >"$T/donor.sums"

mount_it() { # mount_it DIR CACHE OPTS
	mkdir -p "$1"
	CLONEFS_PASSWORD='pw-paths' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$1" \
		-o "ssl_mode=disabled,cache_dir=$2${3:+,$3}"
	t_on_exit "fusermount3 -u '$1' 2>/dev/null || true"
}
nfiles() { sed -n 's/^materialized \([0-9]*\) files.*/\1/p' "$1"; }

mount_it "$T/mnt" "$T/cache" ""
snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/mnt/.clonefs/status")

t_log "1. copy_file_range from the cache"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/c1" --no-progress >"$T/c1.out"
read -r h r f < <(cfs_materialize_how "$T/c1.out")
n=$(nfiles "$T/c1.out")
[ "$h" = 0 ] && [ "$r" = "$n" ] && [ "$f" = 0 ] && [ "$n" -gt 50 ] ||
	{ cat "$T/c1.out"; t_fail "expected all $n files copied from the cache, got handed=$h range=$r fuse=$f"; }

t_log "2. through FUSE"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/c2" --no-progress --through-mount >"$T/c2.out"
read -r h r f < <(cfs_materialize_how "$T/c2.out")
[ "$h" = 0 ] && [ "$r" = 0 ] && [ "$f" = "$n" ] ||
	{ cat "$T/c2.out"; t_fail "expected all $n files read through the mount, got handed=$h range=$r fuse=$f"; }

t_log "3. handed over from a handoff=on mount of the same snapshot (a new cache)"
mount_it "$T/hmnt" "$T/hcache" "snapshot=$snap,handoff=on,prefetch=off"
# Below, a handed-off file is read through the mount on purpose: the mount logs the refused read.
t_log_expect "read of [^ ]+ failed: ERROR 7003 \(HY000\): cache: '[^']+' was handed off to materialize"
"$CLONEFS_BIN/clonefs" materialize "$T/hmnt" "$T/c3" --no-progress >"$T/c3.out"
read -r h r f < <(cfs_materialize_how "$T/c3.out")
[ "$h" = "$n" ] && [ "$r" = 0 ] && [ "$f" = 0 ] ||
	{ cat "$T/c3.out"; t_fail "expected all $n files handed off, got handed=$h range=$r fuse=$f"; }
big=$(cd "$T/c1" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
if cat "$T/hmnt/$big" >/dev/null 2>"$T/cat.err"; then
	t_fail "a handed-off file is still served by the handoff mount"
fi
grep -q "Input/output error" "$T/cat.err" || { cat "$T/cat.err"; t_fail "expected EIO reading a handed-off file"; }
left=$(find "$T/hcache/$snap/data" "$T/hcache/$snap/handoff" -type f 2>/dev/null | wc -l)
[ "$left" = 0 ] || t_fail "$left data files left in the handoff mount's cache"

t_log "4. copied from a cache on another file system (tmpfs): copy_file_range is refused, read and write"
mkdir -p "$T/tcache" && mount -t tmpfs -o size=256m tmpfs "$T/tcache"
t_on_exit "umount -l '$T/tcache' 2>/dev/null || true"
mount_it "$T/tmnt" "$T/tcache" "snapshot=$snap"
"$CLONEFS_BIN/clonefs" materialize "$T/tmnt" "$T/c4" --no-progress >"$T/c4.out"
read -r h r f < <(cfs_materialize_how "$T/c4.out")
[ "$h" = 0 ] && [ "$r" = "$n" ] && [ "$f" = 0 ] ||
	{ cat "$T/c4.out"; t_fail "expected all $n files copied from the tmpfs cache, got handed=$h range=$r fuse=$f"; }
fusermount3 -u "$T/tmnt"

t_log "the four clones are the same bytes, with the same holes"
for c in "$T/c2" "$T/c3" "$T/c4"; do
	diff -r --exclude=clonefs_info.json "$T/c1" "$c" || t_fail "$c differs from $T/c1"
done
# Every file's allocated size equals across the three copies: holes went where the donor's zeros are.
alloc() { (cd "$1" && find . -type f ! -name clonefs_info.json -printf '%P %b\n' | sort); }
alloc "$T/c1" >"$T/a1"
for c in "$T/c2" "$T/c3" "$T/c4"; do
	alloc "$c" | diff "$T/a1" - >/dev/null || { alloc "$c" | diff "$T/a1" - | head; t_fail "$c has other holes than $T/c1"; }
done
pc=$(cd "$T/c1" && find . -name 't_pagecomp.ibd' -printf '%s %b\n')
read -r psize pblocks <<<"$pc"
[ -n "$psize" ] && [ $((pblocks * 512)) -lt "$psize" ] || t_fail "the page-compressed table is not sparse in the clone: $pc"

db_start_safe "$T/c1" "$T/run1"
db_checksums "$T/run1/mysql.sock" >"$T/c1.sums"
diff "$T/donor.sums" "$T/c1.sums" || t_fail "the clone's checksums differ from the donor's"
t_log "PASS: $n files by copy_file_range, FUSE, handoff and across file systems; identical; $(wc -l <"$T/c1.sums") checksums equal"
