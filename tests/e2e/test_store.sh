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

# s3curl METHOD KEY [FILE]: a raw signed request to the store, for what clonefs must not do itself.
s3curl() {
	local sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	[ -z "${3:-}" ] || sha=$(sha256sum "$3" | cut -d' ' -f1)
	curl -sf -m 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $sha" -X "$1" ${3:+--data-binary "@$3"} "$RGW_URL/clonefs-test/$2"
}
idx_count() { s3curl GET "?list-type=2&prefix=prod%2Fpacks%2F" | grep -o '\.idx</Key>' | wc -l; }

t_log "3. radosgw killed mid-publish: no snapshot appears; the next publish reuses what was uploaded"
# 12 MiB that does not compress, read from a donor limited to 4 MB/s: the publish lasts seconds.
db_sql "$DONOR_SOCK" "USE sample; INSERT INTO t_blob SELECT 1000000 + seq, CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024),
	RANDOM_BYTES(1024), RANDOM_BYTES(1024)) FROM seq_1_to_3000"
kill "$CFS_DONOR_PID"; wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem" --max-bandwidth=4000000
before=$(idx_count)
snaps_before=$("$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" --json)
publish --pack-mib=1 -o network_timeout=5 >"$T/pub3.json" 2>"$T/pub3.err" &
pubpid=$!
t_wait_for "[ \$(idx_count) -ge \$((before + 2)) ] || ! kill -0 $pubpid 2>/dev/null" 120 || t_fail "the publish uploaded no pack in 120 s"
kill -0 "$pubpid" 2>/dev/null || t_fail "the publish ended before radosgw could be killed (make the change bigger)"
rgw_kill
rc=0; wait "$pubpid" || rc=$?
[ $rc = 1 ] || t_fail "publish with radosgw killed exited $rc: $(cat "$T/pub3.err")"
cfs_assert_one_error "$T/pub3.err" 7001
t_log "publish ended: $(cat "$T/pub3.err")"
rgw_start
snaps_after=$("$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" --json)
[ "$snaps_before" = "$snaps_after" ] || t_fail "a snapshot appeared from the killed publish: $snaps_after"
publish --pack-mib=1 >"$T/pub4.json" || t_fail "the publish after radosgw came back failed"
C=$(jget "$T/pub4.json" snapshot_id)
"$CLONEFS_BIN/clonefs" store gc "$S3" -o "store_key_file=$T/store.key" --keep=100 --grace=0 --dry-run >"$T/gc0" ||
	t_fail "gc --dry-run failed"
! grep -q '\.idx$' "$T/gc0" || t_fail "packs the killed publish completed were uploaded again, not reused: $(cat "$T/gc0")"
t_log "3: snapshot $C reused every complete pack of the killed publish ($(jget "$T/pub4.json" bytes_uploaded) bytes uploaded); $(tail -1 "$T/gc0")"

kill "$CFS_DONOR_PID"; wait "$CFS_DONOR_PID" 2>/dev/null || true
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"

t_log "4. 503s and connection resets between recipients and the store"
PX=$(t_free_port)
python3 "$here/../lib/flaky_http.py" --listen "$PX" --to "$RGW_PORT" --stats "$T/flaky.stats" --lifetime 400 >"$T/flaky.log" 2>&1 &
FLAKY_PID=$!
t_on_exit "kill $FLAKY_PID 2>/dev/null || true"
t_wait_for "grep -q ready '$T/flaky.log'" 20 || t_fail "flaky proxy did not start"
db_sql "$DONOR_SOCK" "UPDATE sample.t_blob SET data = REPEAT(UNHEX(SHA2(id + 9, 512)), 64) WHERE id <= 300"
"$CLONEFS_BIN/clonefs" publish "$DON" "$S3" -o "$DOPT,s3_endpoint=http://127.0.0.1:$PX" --pack-mib=1 --json \
	>"$T/pub5.json" 2>"$T/pub5.err" || t_fail "publish through 503s and resets failed: $(cat "$T/pub5.err")"
D=$(jget "$T/pub5.json" snapshot_id)
t_log "publish through the proxy: $(jget "$T/pub5.json" retries) retries; proxy: $(cat "$T/flaky.stats")"
[ "$(jget "$T/pub5.json" retries)" -gt 0 ] || t_fail "the proxy caused no retry: the case proves nothing"
smount 3 "$D" "s3_endpoint=http://127.0.0.1:$PX"
smount 4 "$D"
"$CLONEFS_BIN/clonefs" materialize "$T/m3" "$T/clone3" --no-progress >"$T/mat3.log" 2>&1 || t_fail "materialize through 503s and resets failed: $(cat "$T/mat3.log")"
"$CLONEFS_BIN/clonefs" materialize "$T/m4" "$T/clone4" --no-progress >"$T/mat4.log" 2>&1 || t_fail "materialize failed: $(cat "$T/mat4.log")"
diff -r -x clonefs_info.json "$T/clone3" "$T/clone4" >"$T/diff34" || t_fail "a clone through 503s and resets differs from one without: $(head -5 "$T/diff34")"
fusermount3 -u "$T/m3"; fusermount3 -u "$T/m4"
t_log "4: equal clones with and without faults; proxy: $(cat "$T/flaky.stats")"
kill "$FLAKY_PID" 2>/dev/null || true
wait "$FLAKY_PID" 2>/dev/null || true

t_log "5. wrong credentials, wrong key, a missing snapshot, tampered objects: one ERROR line each"
mkdir -p "$T/mx"
mount_err() { # CODE WHAT [env...] -- mount arguments...: the mount fails with one line, ERROR CODE
	local code=$1 what=$2
	shift 2
	rc=0
	env "$@" >"$T/err.out" 2>&1 || rc=$?
	[ $rc = 1 ] || t_fail "$what: exit $rc, expected 1: $(cat "$T/err.out")"
	cfs_assert_one_error "$T/err.out" "$code"
	! mountpoint -q "$T/mx" || t_fail "$what: something is mounted"
	t_log "$what: $(cat "$T/err.out")"
}
M="$CLONEFS_BIN/mount.clonefs"
mount_err 7031 "wrong secret key" AWS_SECRET_ACCESS_KEY=not-the-secret "$M" "$S3/$B" "$T/mx" -o "store_key_file=$T/store.key,cache_dir=$T/cx"
openssl rand -hex 32 >"$T/other.key"
mount_err 7032 "wrong store key" "$M" "$S3/$B" "$T/mx" -o "store_key_file=$T/other.key,cache_dir=$T/cx"
mount_err 7033 "missing snapshot" "$M" "$S3/20990101-000000-000000000000" "$T/mx" -o "store_key_file=$T/store.key,cache_dir=$T/cx"
# A flipped byte in the middle of one of B's packs: the mount starts (the manifest is intact) and the
# read of that chunk fails verification; materialize ends with one ERROR line and leaves nothing.
s3curl GET "?list-type=2&prefix=prod%2Fpacks%2F" | grep -o 'prod/packs/[0-9a-f]*\.pack' | sort -u >"$T/packs"
flip() { python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); i=len(b)//2; b[i]^=0x40; open(p,"wb").write(b)' "$1"; }
victim=$(head -1 "$T/packs")
s3curl GET "$victim" >"$T/victim" && cp "$T/victim" "$T/victim.orig" && flip "$T/victim" && s3curl PUT "$victim" "$T/victim" >/dev/null ||
	t_fail "could not tamper with $victim"
for id in $("$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" --json | python3 -c 'import json,sys; [print(s["snapshot_id"]) for s in json.load(sys.stdin)]'); do
	smount 5 "$id" "prefetch=off"
	rc=0
	"$CLONEFS_BIN/clonefs" materialize "$T/m5" "$T/clone5" --no-progress >"$T/mat5.out" 2>"$T/mat5.err" || rc=$?
	fusermount3 -u "$T/m5"
	rm -rf "$T/cache5"
	[ $rc = 0 ] && { rm -rf "$T/clone5"; continue; } # this snapshot does not use the tampered chunk
	cfs_assert_one_error "$T/mat5.err" 7032
	[ ! -e "$T/clone5" ] || t_fail "a failed materialize left $T/clone5"
	t_log "tampered pack, snapshot $id: $(cat "$T/mat5.err")"
	tampered=1
	break
done
[ "${tampered:-0}" = 1 ] || t_fail "no snapshot read the tampered chunk of $victim"
s3curl PUT "$victim" "$T/victim.orig" >/dev/null || t_fail "could not restore $victim"
# A flipped byte in B's manifest object: the mount refuses it.
s3curl GET "prod/snapshots/$B" >"$T/man" && cp "$T/man" "$T/man.orig" && flip "$T/man" && s3curl PUT "prod/snapshots/$B" "$T/man" >/dev/null ||
	t_fail "could not tamper with the manifest of $B"
mount_err 7032 "tampered manifest" "$M" "$S3/$B" "$T/mx" -o "store_key_file=$T/store.key,cache_dir=$T/cx"
s3curl PUT "prod/snapshots/$B" "$T/man.orig" >/dev/null || t_fail "could not restore the manifest of $B"

t_log "6. eight recipients mount one published snapshot at once, the donor stopped"
kill "$CFS_DONOR_PID"; wait "$CFS_DONOR_PID" 2>/dev/null || true
pids=()
for i in 11 12 13 14 15 16 17 18; do smount "$i" "$B" & pids+=($!); done
# Only the mounts: the flaky proxy of case 4 is a child of this shell too, and lives on.
for p in "${pids[@]}"; do wait "$p" || t_fail "a mount of the eight failed"; done
pids=()
for i in 11 12 13 14 15 16 17 18; do
	"$CLONEFS_BIN/clonefs" materialize "$T/m$i" "$T/clone$i" --no-progress >"$T/mat$i.log" 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "a materialize of the eight failed: $(grep -h ERROR "$T"/mat1?.log | head -1)"; done
for i in 11 12 13 14 15 16 17 18; do fusermount3 -u "$T/m$i"; done
for i in 12 13 14 15 16 17 18; do
	diff -r -x clonefs_info.json "$T/clone11" "$T/clone$i" >/dev/null || t_fail "recipient $i's clone differs from recipient 11's"
done
diff -r -x clonefs_info.json -x 'clonefs_*' "$T/clone2" "$T/clone11" >"$T/diff211" 2>&1 || true
t_log "6: eight equal clones of $B"

t_log "7. gc --keep=1 keeps the newest snapshot whole and removes what only the others used"
# Data that only a dropped snapshot holds: a table of random bytes published in G1, dropped before
# G2, the newest; with 1 MiB packs some of G1's packs hold that table's chunks alone.
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
db_sql "$DONOR_SOCK" "CREATE TABLE sample.t_gc (id INT PRIMARY KEY, b MEDIUMBLOB) ENGINE=InnoDB;
	INSERT INTO sample.t_gc SELECT seq, CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024)) FROM sample.seq_1_to_1500"
"$CLONEFS_BIN/clonefs" publish "$DON" "$S3" -o "$DOPT" --pack-mib=1 --json >"$T/pubg1.json" 2>"$T/pubg1.err" ||
	t_fail "publish G1 failed: $(cat "$T/pubg1.err")"
db_sql "$DONOR_SOCK" "DROP TABLE sample.t_gc"
"$CLONEFS_BIN/clonefs" publish "$DON" "$S3" -o "$DOPT" --pack-mib=1 --json >"$T/pubg2.json" 2>"$T/pubg2.err" ||
	t_fail "publish G2 failed: $(cat "$T/pubg2.err")"
G2=$(jget "$T/pubg2.json" snapshot_id)
smount 6 "$G2"
"$CLONEFS_BIN/clonefs" materialize "$T/m6" "$T/clone6" --no-progress >"$T/mat6.log" 2>&1 || t_fail "materialize of $G2 failed: $(cat "$T/mat6.log")"
fusermount3 -u "$T/m6"
rm -rf "$T/cache6"
objs() { s3curl GET "?list-type=2&prefix=prod%2F" | grep -o '<Key>[^<]*</Key>' | wc -l; }
n0=$(objs)
"$CLONEFS_BIN/clonefs" store gc "$S3" -o "store_key_file=$T/store.key" --keep=1 --grace=0 >"$T/gc1" || t_fail "gc failed: $(cat "$T/gc1")"
n1=$(objs)
t_log "$(tail -1 "$T/gc1"); objects $n0 -> $n1"
left=$("$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" --json | python3 -c 'import json,sys; print(" ".join(s["snapshot_id"] for s in json.load(sys.stdin)))')
[ "$left" = "$G2" ] || t_fail "after gc --keep=1 the store holds '$left', expected only the newest, $G2"
[ "$n1" -lt "$n0" ] || t_fail "gc removed no object"
grep -q "^removing .*\.pack$" "$T/gc1" || { cat "$T/gc1"; t_fail "gc removed no pack, though G1's table of random bytes is in no kept snapshot"; }
# What is left is exactly what the kept snapshot uses: its packs, each with its index.
packs_stored() { s3curl GET "?list-type=2&prefix=prod%2Fpacks%2F" | grep -o "\\.$1</Key>" | wc -l; }
kept=$("$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["packs"])')
p1=$(packs_stored pack)
i1=$(packs_stored idx)
[ "$p1" = "$kept" ] && [ "$i1" = "$kept" ] ||
	t_fail "after gc the store holds $p1 packs and $i1 indexes; the kept snapshot uses $kept"
smount 7 "$G2"
"$CLONEFS_BIN/clonefs" materialize "$T/m7" "$T/clone7" --no-progress >"$T/mat7.log" 2>&1 || t_fail "materialize after gc failed: $(cat "$T/mat7.log")"
fusermount3 -u "$T/m7"
diff -r -x clonefs_info.json "$T/clone6" "$T/clone7" >/dev/null || t_fail "the kept snapshot's clone after gc differs from before"
t_log "7: the kept snapshot $G2 materializes equal after gc"
t_log "PASS"
