#!/usr/bin/env bash
# test_mount_outage.sh: outages a lazy mount must ride out or report at once (issue 19, items 5-8),
# with real processes: a blackholed network (the proxy stopped with SIGSTOP: connections stay open,
# nothing crosses) fails a read within network_timeout and the next read at once, and status leaves
# `disconnected` as soon as a read works again; the donor's MariaDB server restarting while the
# mount must reconnect is retried, not an EIO; a full cache file system (a small tmpfs) stops
# hydration with state "no space" and the space needed, sends no READs meanwhile, and resumes when
# the file system grows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
# The outages this test makes: reads that give up after network_timeout, logins while the server is down.
t_log_expect "read of [^ ]+ failed: ERROR 7001 \(HY000\): donor [0-9.:]+ unreachable"
t_log_expect "ERROR 3862 \(HY000\): Clone Donor Error: clonefsd cannot reach its server"

T=$(t_tmpdir)
cfs_donor_up "$T" 20 'pw'
cfs_cut_proxy "$T"
mkdir -p "$T/mnt"
CACHE=$T/cache
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/mnt/.clonefs/status" "$1"; }
mnt() { CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PROXY" "$T/mnt" -o "ssl_mode=disabled,cache_dir=$CACHE,$1"; }
umnt() { fusermount3 -u "$T/mnt" 2>/dev/null || fusermount3 -uz "$T/mnt" 2>/dev/null || true; }
t_on_exit umnt
# No read-ahead: the kernel asks the mount for exactly the bytes read.
pread() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_RANDOM); sys.stdout.buffer.write(os.pread(fd,int(sys.argv[3]),int(sys.argv[2])))' "$@"; }
now() { date +%s.%N; }
secs_since() { python3 -c 'import sys,time; print(int(time.time() - float(sys.argv[1])))' "$1"; }
MB=1048576

mnt "prefetch=off,network_timeout=5"
id=$(field snapshot_id)
snap="$T/state/$id/data"
big=$(cd "$T/mnt" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
pread "$T/mnt/$big" 0 16384 >/dev/null || t_fail "first read failed"

t_log "blackhole (proxy stopped) with network_timeout=5: the read fails within the timeout, the next at once"
kill -STOP $PROXY_PID
start=$(now) rc=0
pread "$T/mnt/$big" $((2 * MB)) 16384 >/dev/null 2>"$T/eio" || rc=$?
took=$(secs_since "$start")
[ $rc != 0 ] && grep -q "Input/output error" "$T/eio" || t_fail "a read with the donor silent did not fail with EIO"
# The bound is network_timeout plus a second; 2 s more for a machine loaded by other tests.
[ "$took" -le 8 ] || t_fail "EIO came after $took s with network_timeout=5 (the kernel's retry waited again?)"
[ "$(field state)" = disconnected ] || t_fail "status says $(field state) while the donor is silent"
start=$(now) rc=0
pread "$T/mnt/$big" $((3 * MB)) 16384 >/dev/null 2>/dev/null || rc=$?
took2=$(secs_since "$start")
[ $rc != 0 ] || t_fail "a read after the outage was given up succeeded with the donor silent"
[ "$took2" -le 2 ] || t_fail "a read after the outage was given up waited $took2 s instead of failing at once"
t_log "EIO after ${took} s, the next read after ${took2} s; status: $(field last_error)"

t_log "the donor back: a fresh read works and status leaves disconnected at once"
kill -CONT $PROXY_PID
t_wait_for "pread '$T/mnt/$big' $((4 * MB)) 16384 >/dev/null 2>&1" 20 || t_fail "reads did not work again after the donor came back"
st=$(field state)
[ "$st" != disconnected ] || t_fail "status still says disconnected after a read succeeded: $(field last_error)"
pread "$T/mnt/$big" $((4 * MB)) 16384 | cmp -s - <(pread "$snap/$big" $((4 * MB)) 16384) || t_fail "wrong bytes after the outage"
umnt

t_log "the donor's server restarts while the mount must reconnect (network_timeout=60): the read waits and works"
mnt "prefetch=off,network_timeout=60,snapshot=$id"
touch "$T/cut"          # every connection of the mount is cut: the next read needs a new one
sleep 0.5               # the proxy looks at its control file every 0.1 s
db_stop "$T/donor"
rm -f "$T/cut"
( sleep 3; db_resume "$T/donor" ) >"$T/resume.log" 2>&1 &
resumer=$!
pread "$T/mnt/$big" $((5 * MB)) 16384 >"$T/r5" 2>"$T/r5.err" || t_fail "a read failed while the donor's server restarted: $(cat "$T/r5.err"); $(field last_error)"
wait $resumer || t_fail "the donor's server did not start again: $(cat "$T/resume.log")"
cmp -s "$T/r5" <(pread "$snap/$big" $((5 * MB)) 16384) || t_fail "wrong bytes after the server restart"
t_log "read done after the restart ($(field reconnects) reconnects)"
umnt

t_log "a full cache file system: hydration stops with state \"no space\", no READs, resumes when space appears"
total=$(du -sb --apparent-size "$snap" | cut -f1)
mkdir -p "$T/small"
mount -t tmpfs -o size=8m,mode=0755 tmpfs "$T/small"
t_on_exit "umount -l '$T/small'"
CACHE=$T/small/cache
mnt "prefetch=on,network_timeout=60,snapshot=$id"
t_wait_for "[ \"\$(field state)\" = 'no space' ]" 60 || t_fail "state is $(field state), not no space, with the cache's file system full: $(field last_error)"
need=$(field space_needed)
[ "$need" -gt 0 ] || t_fail "no space needed reported"
field last_error | grep -q "No space left on device" || t_fail "the error does not say the file system is full: $(field last_error)"
r1=$(field requests)
sleep 3
r2=$(field requests)
[ "$r1" = "$r2" ] || t_fail "the mount sent $((r2 - r1)) READs in 3 s with its cache full"
t_log "no space: $need bytes needed, $(field last_error)"
umnt
t_log "a remount of the full cache with a bound works"
mnt "prefetch=off,network_timeout=60,snapshot=$id,cache_max=4M" || t_fail "the remount with cache_max= on a full cache failed"
umnt
mnt "prefetch=on,network_timeout=60,snapshot=$id"
t_wait_for "[ \"\$(field state)\" = 'no space' ]" 60 || t_fail "state is $(field state) on the full cache again"
mount -o remount,size=$((total / MB * 2 + 32))m "$T/small"
t_wait_for "[ \"\$(field state)\" = complete ]" 120 || t_fail "hydration did not resume once space appeared: $(field state) $(field last_error)"
(cd "$T/mnt" && find . -path ./.clonefs -prune -o -type f -print | sort | xargs sha256sum) >"$T/mnt.sum"
(cd "$snap" && sha256sum -c --quiet "$T/mnt.sum") || t_fail "the mount's files differ from the snapshot after the full cache"
t_log "PASS"
