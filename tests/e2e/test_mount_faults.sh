#!/usr/bin/env bash
# test_mount_faults.sh: the mount under faults, with real processes (a TCP proxy the test controls
# stands in for the network): 16 concurrent readers of one cold chunk cause one fetch; a connection
# cut for 5 s mid-read still completes with the right bytes; cut past network_timeout=3 a read gets
# EIO within the timeout plus a margin and cached data keeps working; a cache chunk flipped on disk
# is refetched, never served; kill -9 of the mount daemon mid-hydration, remount of the same
# snapshot: it resumes and never refetches a verified chunk; a remount after full hydration fetches 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
cfs_donor_up "$T" 20 'pw'
cfs_cut_proxy "$T"
mkdir -p "$T/mnt"
field() { cfs_status_field "$T/mnt" "$1"; }
mnt() { CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PROXY" "$T/mnt" -o "ssl_mode=disabled,cache_dir=$T/cache,$1"; }
umnt() { fusermount3 -u "$T/mnt" 2>/dev/null || fusermount3 -uz "$T/mnt" 2>/dev/null || true; }
t_on_exit umnt
# No read-ahead (POSIX_FADV_RANDOM): the kernel asks the mount for exactly the bytes read, so the
# chunks fetched are the ones the test reads, whatever the chunk size.
pread() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_RANDOM); sys.stdout.buffer.write(os.pread(fd,int(sys.argv[3]),int(sys.argv[2])))' "$@"; }

mnt "prefetch=off,network_timeout=3"
id=$(field snapshot_id)
snap="$T/state/$id/data"
big=$(cd "$T/mnt" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)

t_log "16 concurrent readers of one cold chunk (four pages of the first 64 KiB at 1 MiB: one chunk at any chunk size)"
readers=()
for i in $(seq 16); do pread "$T/mnt/$big" $((1048576 + (i % 4) * 16384)) 16384 >"$T/r$i" & readers+=($!); done
wait "${readers[@]}"
[ "$(field chunks_fetched)" = 1 ] || t_fail "16 readers of one chunk caused $(field chunks_fetched) fetches"
for i in $(seq 16); do
	cmp -s "$T/r$i" <(pread "$snap/$big" $((1048576 + (i % 4) * 16384)) 16384) || t_fail "reader $i got wrong bytes"
done

t_log "cut past network_timeout=3: EIO within the bound, cached data still served"
touch "$T/cut"
start=$SECONDS rc=0
pread "$T/mnt/$big" $((3 * 1048576)) 16384 >/dev/null 2>"$T/eio" || rc=$?
took=$((SECONDS - start))
[ $rc != 0 ] && grep -q "Input/output error" "$T/eio" || t_fail "a read with the donor gone did not fail with EIO"
[ $took -le 33 ] || t_fail "EIO came after $took s, network_timeout=3 (+30 s for the per-wait bound)"
[ "$(field state)" = disconnected ] || t_fail "status says $(field state) while the donor is unreachable"
pread "$T/mnt/$big" 1048576 16384 | cmp -s - <(pread "$snap/$big" 1048576 16384) || t_fail "cached data not served while disconnected"
t_log "EIO after ${took}s; status: $(field last_error)"
rm -f "$T/cut"
umnt

t_log "cut for 5 s mid-read with network_timeout=60: the read completes with the right bytes"
mnt "prefetch=off,network_timeout=60,snapshot=$id"
(sleep 1; touch "$T/cut"; sleep 5; rm -f "$T/cut") &
cutter=$!
sleep 1.5
pread "$T/mnt/$big" $((4 * 1048576)) 1048576 >"$T/slow" || t_fail "the read failed across a 5 s outage"
wait $cutter
cmp -s "$T/slow" <(pread "$snap/$big" $((4 * 1048576)) 1048576) || t_fail "wrong bytes after the outage"
t_log "read completed after the outage ($(field reconnects) reconnects)"

t_log "a cached chunk flipped on disk is refetched, never served"
umnt
fid=$(cd "$T/cache/$id/data" && for f in *; do [ "$(stat -c %s "$f")" = "$(stat -c %s "$snap/$big")" ] && echo "$f"; done | head -1)
printf '\xff' | dd of="$T/cache/$id/data/$fid" bs=1 seek=$((1048576 + 100)) conv=notrunc status=none
mnt "prefetch=off,network_timeout=60,snapshot=$id"
pread "$T/mnt/$big" 1048576 16384 | cmp -s - <(pread "$snap/$big" 1048576 16384) || t_fail "a corrupt cached chunk was served"
[ "$(field corrupt_chunks_refetched)" = 1 ] && [ "$(field chunks_fetched)" = 1 ] || t_fail "corruption not counted and refetched once"
umnt

t_log "kill -9 of the mount daemon mid-hydration, then remount: resumes, no chunk fetched twice"
rm -rf "$T/cache"
mnt "prefetch=on,snapshot=$id"
t_wait_for "[ \$(field chunks_cached) -ge 20 ]" 60 || t_fail "no hydration progress"
pkill -9 -f "mount.clonefs cloner@127.0.0.1:$PROXY" || true
sleep 0.5
fusermount3 -uz "$T/mnt" 2>/dev/null || true
mnt "prefetch=on,snapshot=$id"
before=$(field chunks_resumed)
total=$(field chunks_total)
t_wait_for "[ \"\$(field state)\" = complete ]" 120 || t_fail "hydration did not complete after the remount"
fetched=$(field chunks_fetched)
[ $((before + fetched)) = "$total" ] || t_fail "resumed with $before cached + $fetched fetched != $total chunks"
# Every file the mount shows equals the snapshot's (the manifest leaves out backup metadata).
(cd "$T/mnt" && find . -path ./.clonefs -prune -o -type f -print | sort | xargs sha256sum) >"$T/mnt.sum"
(cd "$snap" && sha256sum -c --quiet "$T/mnt.sum") || t_fail "the resumed mount's files differ from the snapshot"
umnt
mnt "prefetch=on,snapshot=$id"
t_wait_for "[ \"\$(field state)\" = complete ]" 30 || t_fail "a fully cached remount is not complete"
[ "$(field bytes_fetched)" = 0 ] || t_fail "a remount after full hydration fetched $(field bytes_fetched) bytes"
t_log "PASS: resumed with $before of $total chunks cached, fetched $fetched; full remount fetched 0"
