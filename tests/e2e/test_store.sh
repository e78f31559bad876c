#!/usr/bin/env bash
# test_store.sh: snapshots published to a real Ceph radosgw (S3) and mounted from it with the donor
# stopped: equal clones; an incremental publish uploads only what changed; a publish killed midway
# commits nothing and the next one reuses what it uploaded; 503s and resets are retried; wrong
# credentials, wrong key, a missing snapshot and tampered objects are one ERROR line each; eight
# recipients at once; gc keeps what the kept snapshot needs. One Ceph and one donor for all cases.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/ceph.sh"
command -v radosgw >/dev/null || t_fail "radosgw is not installed (make deps)"

T=$(t_tmpdir)
tls_make "$T/tls"
ceph_up "$T/ceph"
t_log "radosgw at $RGW_URL"
cfs_donor_up "$T" 30 'pwS' --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
openssl rand -hex 32 >"$T/store.key"
chmod 600 "$T/store.key"
S3=s3://clonefs-test/prod
DON="cloner@127.0.0.1:$PORT"
DOPT="ssl_mode=required,ssl_ca=$T/tls/ca.pem,store_key_file=$T/store.key"
export CLONEFS_PASSWORD=pwS

publish() { "$CLONEFS_BIN/clonefs" publish "$DON" "$S3" -o "$DOPT" --json "$@"; }
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# smount N ID [opts]: mount snapshot ID from the store at $T/mN with its own cache.
smount() {
	mkdir -p "$T/m$1"
	t_on_exit "fusermount3 -u '$T/m$1' 2>/dev/null || true"
	"$CLONEFS_BIN/mount.clonefs" "$S3/$2" "$T/m$1" -o "store_key_file=$T/store.key,cache_dir=$T/cache$1,network_timeout=20${3:+,$3}"
}
# clone_equals N ID: materialize mount N, start it, replay the donor's binlog from the recorded
# position, and compare every table's checksum with the donor's.
clone_equals() {
	"$CLONEFS_BIN/clonefs" materialize "$T/m$1" "$T/clone$1" --owner=mysql --no-progress >"$T/mat$1.log" 2>&1 ||
		t_fail "materialize of snapshot $2 from the store failed: $(cat "$T/mat$1.log")"
	fusermount3 -u "$T/m$1"
	db_start_safe "$T/clone$1" "$T/run$1"
	read -r bf bp _ <"$T/clone$1/clonefs_binlog_info"
	cfs_replay_binlog "$T/donor" "$bf" "$bp" "$T/run$1/mysql.sock"
	diff <(db_checksums "$DONOR_SOCK") <(db_checksums "$T/run$1/mysql.sock") >"$T/diff$1" ||
		t_fail "clone of snapshot $2 from the store + binlog replay differs from the donor: $(head "$T/diff$1")"
	db_stop "$T/run$1"
}

t_log "1. publish from the live donor, then mount from the store with clonefsd stopped"
db_write_load_start "$DONOR_SOCK"
publish >"$T/pub1.json" || t_fail "first publish failed"
db_write_load_stop
A=$(jget "$T/pub1.json" snapshot_id)
up1=$(jget "$T/pub1.json" bytes_uploaded)
t_log "snapshot $A: $(jget "$T/pub1.json" bytes_total) bytes, $up1 uploaded"
kill "$CFS_DONOR_PID"; wait "$CFS_DONOR_PID" 2>/dev/null || true
smount 1 "$A"
grep -q '"store"' "$T/m1/.clonefs/facts" 2>/dev/null || true
clone_equals 1 "$A"
t_log "1: the clone from the store equals the donor after replay"

t_log "2. 1 % of the rows change; the second publish uploads only what changed"
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
# The load of case 1 went on after its snapshot: a quiet baseline first, so that what the second
# publish uploads is what 1 % of the rows changed, measured against the first publish's upload.
publish >"$T/pub1b.json" || t_fail "baseline publish failed"
t_log "baseline $(jget "$T/pub1b.json" snapshot_id): $(jget "$T/pub1b.json" bytes_uploaded) bytes uploaded (what the load wrote since $A)"
rows=$(db_sql "$DONOR_SOCK" "SELECT COUNT(*) FROM sample.t_dynamic")
for t in t_dynamic t_compact t_redundant t_compressed t_pagecomp t_part t_myisam t_aria; do
	db_sql "$DONOR_SOCK" "UPDATE sample.$t SET b = CONCAT('changed ', id) WHERE id <= $rows / 100"
done
publish --verbose >"$T/pub2.json" 2>"$T/pub2.err" || t_fail "second publish failed: $(cat "$T/pub2.err")"; cat "$T/pub2.err"
B=$(jget "$T/pub2.json" snapshot_id)
up2=$(jget "$T/pub2.json" bytes_uploaded)
t_log "snapshot $B: $up2 bytes uploaded against $up1 for the first ($(jget "$T/pub2.json" bytes_already_stored) bytes already stored)"
[ $((up2 * 100)) -le $((up1 * 5)) ] || t_fail "the incremental publish uploaded $up2 bytes, more than 5 % of the first ($up1)"
"$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" >"$T/list" || t_fail "store list failed"
cat "$T/list"
grep -q "^$A " "$T/list" && grep -q "^$B " "$T/list" || t_fail "store list does not show both snapshots"
smount 2 "$B"
clone_equals 2 "$B"
t_log "2: the second snapshot's clone equals the donor after replay"
