#!/usr/bin/env bash
# test_snapshot_lifecycle.sh: two recipients share one snapshot by id; clonefsd killed with -9 and
# restarted on the same --state-dir serves the same snapshot and a lazy mount carries on (cold reads
# succeed after the reconnect); after the last reader leaves and the TTL passes, the snapshot is
# removed and reopening it is ERROR 7005.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
cfs_donor_up "$T" 10 'pw' --snapshot-ttl=3
mkdir -p "$T/a" "$T/b"
mnt() { CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$@"; }

mnt "$T/a" -o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache-a,network_timeout=60"
t_on_exit "fusermount3 -u '$T/a' 2>/dev/null || true"
id=$(cfs_status_field "$T/a" snapshot_id)
mnt "$T/b" -o "ssl_mode=disabled,snapshot=$id,cache_dir=$T/cache-b"
t_on_exit "fusermount3 -u '$T/b' 2>/dev/null || true"
[ "$(cfs_status_field "$T/b" snapshot_id)" = "$id" ] || t_fail "the second mount got another snapshot"
t_wait_for "[ \"\$(cfs_status_field '$T/b' state)\" = complete ]" 120 || t_fail "the second mount did not finish hydrating"
[ "$(ls "$T/state")" != "" ] && [ "$(ls -d "$T/state"/*/ | wc -l)" = 1 ] || t_fail "expected exactly one snapshot on the donor"
t_log "two mounts share snapshot $id; b hydrated $(cfs_status_field "$T/b" bytes_fetched) bytes"

t_log "kill -9 clonefsd, restart it on the same state dir"
kill -9 "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --snapshot-ttl=3
grep -q "snapshot $id reloaded" "$T/clonefsd.log" || t_fail "the restarted clonefsd did not reload $id"
# Mount a still has everything cold: reading it all needs the restarted donor.
(cd "$T/a" && find . -path ./.clonefs -prune -o -type f -print0 | xargs -0 cat) | sha256sum >"$T/a.sum"
(cd "$T/b" && find . -path ./.clonefs -prune -o -type f -print0 | xargs -0 cat) | sha256sum >"$T/b.sum"
cmp -s "$T/a.sum" "$T/b.sum" || t_fail "the two mounts of one snapshot read different bytes"
# Each connection a read used found its session gone once and reconnected once (the donor was up
# again): at least one, at most one per connection.
rec=$(cfs_status_field "$T/a" reconnects)
conns=$(cfs_status_field "$T/a" connections)
[ "$rec" -ge 1 ] && [ "$rec" -le "$conns" ] || t_fail "mount a reconnected $rec times over $conns connections, expected 1..$conns"
t_log "after the restart, mount a read every file cold ($rec reconnects over $conns connections) and agrees with b"

fusermount3 -u "$T/a"
fusermount3 -u "$T/b"
t_wait_for "[ ! -d '$T/state/$id' ]" 30 || t_fail "snapshot $id still on the donor after its TTL"
rc=0
t_log_expect "snapshot '$id' for 'cloner' refused: ERROR 7005 \(HY000\): the donor has no snapshot '$id'"
mnt "$T/a" -o "ssl_mode=disabled,snapshot=$id,cache_dir=$T/cache-a" 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "reopening an expired snapshot: exit $rc"
cfs_assert_one_error "$T/err" 7005
t_log "PASS: shared, survived kill -9 of clonefsd, expired after TTL: $(cat "$T/err")"
