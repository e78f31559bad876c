#!/usr/bin/env bash
# test_materialize_resume.sh: clonefs materialize killed with -9 mid-copy leaves only its hidden
# partial directory (nothing that looks like a datadir); run again, it resumes from its journal
# (files already durable are not copied again) and the result starts with the donor's checksums.
# The bandwidth-limited donor keeps compressing under --compression=auto.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
# A slow donor (4 MB/s) so that the copy is still running when it is killed.
cfs_donor_up "$T" 5 'pw' --max-bandwidth=4000000
mkdir -p "$T/mnt" "$T/out"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
db_checksums "$DONOR_SOCK" >"$T/donor.sums"

# Durable in groups of 10 files, so that a kill leaves a journal to resume from.
export CLONEFS_SYNC_GROUP_FILES=10
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/out/clone" --no-progress >"$T/first.out" 2>&1 &
mat=$!
journal="$T/out/.clone.clonefs-partial/.clonefs-journal"
t_wait_for "[ \$(cat '$journal' 2>/dev/null | wc -l) -ge 20 ]" 120 || t_fail "no journal of 20 files appeared"
kill -9 "$mat"
wait "$mat" 2>/dev/null || true
done_before=$(wc -l <"$journal")
[ ! -e "$T/out/clone" ] || t_fail "a killed materialize left $T/out/clone, which looks complete"
t_log "killed with $done_before files journaled; only $(ls -A "$T/out") is left"

"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/out/clone" --no-progress >"$T/second.out" 2>"$T/second.err" ||
	{ cat "$T/second.out" "$T/second.err"; t_fail "the second materialize failed"; }
grep -q "resuming .* ($done_before files already complete)" "$T/second.err" ||
	{ cat "$T/second.err"; t_fail "the second run did not resume from the journal"; }
[ -z "$(ls -A "$T/out" | grep -v '^clone$')" ] || t_fail "left beside the clone: $(ls -A "$T/out")"
# --compression=auto (the default) behind a 4 MB/s limit: zstd delivers more raw bytes per second
# than raw chunks, so the donor compresses (D15): fewer bytes crossed than were fetched. (A READ
# that fits in the limiter's one-second burst may turn it off; the next raw READ, held back by the
# limit, turns it on again.)
read -r fetched wire < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["bytes_fetched"], d["bytes_wire"])' "$T/mnt/.clonefs/status")
[ "$wire" -gt 0 ] && [ $((wire * 10)) -lt $((fetched * 9)) ] ||
	t_fail "a bandwidth-limited donor sent $wire bytes for $fetched fetched: compression was not kept on"
t_log "compressed behind the limit: $wire bytes on the wire for $fetched fetched; the donor's switches:"
grep -o 'compression o[nf]* (.*' "$T/clonefsd.log" | sed 's/^/   /' || true
db_start_safe "$T/out/clone" "$T/clone"
db_checksums "$T/clone/mysql.sock" >"$T/clone.sums"
diff "$T/donor.sums" "$T/clone.sums" || t_fail "the resumed clone's checksums differ from the donor's"
t_log "PASS: resumed after $done_before files, $(wc -l <"$T/clone.sums") checksums equal"
