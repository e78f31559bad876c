#!/usr/bin/env bash
# test_eight_recipients.sh: eight recipients mount and hydrate one snapshot at once over TLS while
# the donor runs a write load; all eight materialized copies start with mysqld_safe and have equal
# checksums, and one of them replayed from the recorded binlog position equals the donor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
tls_make "$T/tls"
cfs_donor_up "$T" 5 'pw8' --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
db_write_load_start "$DONOR_SOCK"
mnt() { CLONEFS_PASSWORD=pw8 "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/m$1" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache$1${2:+,$2}"; }
mkdir -p "$T"/m{1..8}
mnt 1
for i in 1 2 3 4 5 6 7 8; do t_on_exit "fusermount3 -u '$T/m$i' 2>/dev/null || true"; done
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/m1/.clonefs/status")
pids=()
for i in 2 3 4 5 6 7 8; do mnt "$i" "snapshot=$id" & pids+=($!); done
wait "${pids[@]}"
t_log "eight mounts of snapshot $id; materializing all at once while the donor keeps writing"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	"$CLONEFS_BIN/clonefs" materialize "$T/m$i" "$T/clone$i" --owner=mysql --no-progress >"$T/mat$i.log" 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "a materialize failed: $(cat "$T"/mat*.log | grep ERROR | head -1)"; done
db_write_load_stop
for i in 1 2 3 4 5 6 7 8; do fusermount3 -u "$T/m$i"; done
for i in 1 2 3 4 5 6 7 8; do
	db_start_safe "$T/clone$i" "$T/run$i"
	db_checksums "$T/run$i/mysql.sock" >"$T/sum$i"
	db_stop "$T/run$i"
done
for i in 2 3 4 5 6 7 8; do cmp -s "$T/sum1" "$T/sum$i" || t_fail "clone $i differs from clone 1"; done
db_start_safe "$T/clone1" "$T/run1"
read -r bf bp _ <"$T/clone1/clonefs_binlog_info"
cfs_replay_and_compare "$T/donor" "$bf" "$bp" "$DONOR_SOCK" "$T/run1/mysql.sock"
t_log "PASS: 8 clones started, $(wc -l <"$T/sum1") checksums equal across all; clone 1 + replay equals the donor"
