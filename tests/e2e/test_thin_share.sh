#!/usr/bin/env bash
# test_thin_share.sh: two thin clones of one snapshot at once, and a full upper (issue 14).
# Two rw mounts of one snapshot share one base cache (a shared lock; one's stored chunks serve the
# other): the cache holds the snapshot once, each clone's server sees only its own writes. Then a
# thin clone whose upper is a small tmpfs: ENOSPC reaches mysqld, the mount keeps serving, and once
# space is freed the server restarts with clean tables and the snapshot's checksums.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/thin.sh"

T=$(t_tmpdir)
THIN_PW='pw'
cfs_donor_up "$T" 10 "$THIN_PW"
base_sums=$(thin_sum "$DONOR_SOCK" sample.t_dynamic sample.t_myisam sample.t_aria sample.t_part)
SRV=(--innodb-log-file-size=16M --innodb-buffer-pool-size=32M --innodb-temp-data-file-path=ibtmp1:1M:autoextend)

t_log "two thin clones of one snapshot, one cache"
thin_mount "$T/a" "$T/upper-a" "$T/cache"
snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/a/.clonefs/status")
thin_mount "$T/b" "$T/upper-b" "$T/cache" "snapshot=$snap"
t_wait_for "grep -q '\"state\":\"complete\"' '$T/a/.clonefs/status' && grep -q '\"state\":\"complete\"' '$T/b/.clonefs/status'" 60 ||
	t_fail "the two clones did not finish hydrating"
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_total"])' "$T/a/.clonefs/status")
used=$(du -sB1 "$T/cache" | cut -f1)
fa=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$T/a/.clonefs/status")
fb=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$T/b/.clonefs/status")
t_log "snapshot $total bytes, shared cache $used bytes on disk; fetched by a $fa, by b $fb"
[ "$used" -lt $((total * 3 / 2)) ] || t_fail "the cache holds $used bytes for a $total-byte snapshot: stored more than once"
thin_start_safe "$T/a" "$T/run-a" "${SRV[@]}"
thin_start_safe "$T/b" "$T/run-b" "${SRV[@]}"
db_sql "$T/run-a/mysql.sock" "INSERT INTO sample.txlog (note) VALUES ('only in a'); UPDATE sample.t_dynamic SET b = 'a' WHERE id <= 100"
db_sql "$T/run-b/mysql.sock" "INSERT INTO sample.txlog (note) VALUES ('only in b'); DELETE FROM sample.t_myisam WHERE id <= 100"
[ "$(db_sql "$T/run-a/mysql.sock" "SELECT GROUP_CONCAT(note) FROM sample.txlog WHERE note LIKE 'only in %'")" = "only in a" ] ||
	t_fail "clone a does not see exactly its own write"
[ "$(db_sql "$T/run-b/mysql.sock" "SELECT GROUP_CONCAT(note) FROM sample.txlog WHERE note LIKE 'only in %'")" = "only in b" ] ||
	t_fail "clone b does not see exactly its own write"
[ "$(db_sql "$T/run-a/mysql.sock" "SELECT COUNT(*) FROM sample.t_myisam")" = "$(db_sql "$DONOR_SOCK" "SELECT COUNT(*) FROM sample.t_myisam")" ] ||
	t_fail "clone a sees clone b's delete"
[ "$(db_sql "$T/run-b/mysql.sock" "SELECT COUNT(*) FROM sample.t_dynamic WHERE b = 'a'")" = 0 ] || t_fail "clone b sees clone a's update"
rc=0
CLONEFS_PASSWORD=$THIN_PW "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/ro" -o "ssl_mode=disabled,cache_dir=$T/cache,snapshot=$snap" \
	>"$T/err" 2>&1 || rc=$?
[ $rc != 0 ] || t_fail "a read-only mount joined the thin clones' cache"
db_stop "$T/run-a"
db_stop "$T/run-b"
fusermount3 -u "$T/a"
fusermount3 -u "$T/b"

t_log "a thin clone on a full upper"
mkdir -p "$T/small"
mount -t tmpfs -o size=160m tmpfs "$T/small"
t_on_exit "umount -l '$T/small' 2>/dev/null || true"
thin_mount "$T/c" "$T/small/upper" "$T/cache" "snapshot=$snap"
thin_start_safe "$T/c" "$T/run-c" "${SRV[@]}"
free=$(df -B1 --output=avail "$T/small" | tail -1)
fallocate -l $((free - 3 * 1024 * 1024)) "$T/small/filler"
db_sql "$T/run-c/mysql.sock" "CREATE TABLE sample.big (id INT PRIMARY KEY, v LONGBLOB) ENGINE=InnoDB" || true
rc=0
db_sql "$T/run-c/mysql.sock" "USE sample; INSERT INTO sample.big SELECT seq, REPEAT('z', 100000) FROM seq_1_to_200" >"$T/full.out" 2>&1 || rc=$?
[ $rc != 0 ] || t_fail "100 MB went into a 3 MB upper without an error"
cat "$T/full.out"
grep -i "No space left\|error 28\|errno: 28\|Errcode: 28\|error number 28\|is full\|disk space" "$T/full.out" "$T/run-c/error.log" | head -5 ||
	t_fail "the error mysqld saw is not ENOSPC"
t_log "the mount keeps serving"
ls "$T/c/sample" >/dev/null || t_fail "the mount stopped serving after ENOSPC"
grep -q '"upper"' "$T/c/.clonefs/status" || t_fail "no status after ENOSPC"
cmp <(cat "$T/c/sample/t_myisam.MYD") "$T/donor/data/sample/t_myisam.MYD" >/dev/null || true
rm -f "$T/small/filler"
db_stop "$T/run-c"
pkill -9 -f -x "mariadbd .*--datadir=$T/c .*" 2>/dev/null || true
thin_start_safe "$T/c" "$T/run-c" "${SRV[@]}"
mariadb-check --no-defaults -S "$T/run-c/mysql.sock" -u root --all-databases >"$T/check" 2>&1 || { cat "$T/check"; t_fail "mariadb-check failed after ENOSPC"; }
[ "$(thin_sum "$T/run-c/mysql.sock" sample.t_dynamic sample.t_myisam sample.t_aria sample.t_part)" = "$base_sums" ] ||
	t_fail "checksums differ from the snapshot's after ENOSPC and a restart"
t_log "PASS: two thin clones share one cache and see their own writes; ENOSPC reached mysqld and nothing was corrupted"
