#!/usr/bin/env bash
# test_thin_sysbench.sh: sysbench oltp_read_write on a thin clone (issue 14, must-show 2): started
# while the clone is below 10 % hydrated (a bandwidth-limited donor), then again once it is complete,
# with no errors; the clone's checksums after that equal those of the same workload (same seeds, one
# thread) run on a materialized copy of the same snapshot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/thin.sh"

T=$(t_tmpdir)
THIN_PW='pw'
# Little of the snapshot is zeros (a small redo log and system tablespace), so the bytes hydrated
# are mostly data that the bandwidth limit slows down.
db_start "$T/donor" --innodb-log-file-size=2M --innodb-data-file-path=ibdata1:4M:autoextend
DONOR_SOCK="$T/donor/mysql.sock"
db_sql "$DONOR_SOCK" "CREATE DATABASE sbtest"
SB=(--mysql-user=root --mysql-db=sbtest --tables=4 --table-size=100000)
sysbench oltp_read_write --mysql-socket="$DONOR_SOCK" "${SB[@]}" prepare >"$T/prepare.log" 2>&1 ||
	{ tail "$T/prepare.log"; t_fail "sysbench prepare failed"; }
cfs_make_clone_user "$DONOR_SOCK" cloner "$THIN_PW"
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" --max-bandwidth=5000000
SRV=(--innodb-log-file-size=16M --innodb-buffer-pool-size=32M)
TABLES=(sbtest.sbtest1 sbtest.sbtest2 sbtest.sbtest3 sbtest.sbtest4)

# workload SOCK SEED LOG: the same 200 transactions for the same seed, one thread.
workload() {
	sysbench oltp_read_write --mysql-socket="$1" "${SB[@]}" --threads=1 --rand-seed="$2" --events=200 --time=0 \
		run >"$3" 2>&1 || { tail -20 "$3"; t_fail "sysbench run (seed $2) failed"; }
	grep -q "ignored errors: *0 " "$3" || { grep errors "$3"; t_fail "sysbench had errors (seed $2)"; }
}
hydrated_pct() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(100 * d["bytes_cached"] / d["bytes_total"]))' "$1/.clonefs/status"
}

t_log "thin clone; sysbench while it hydrates"
thin_mount "$T/thin" "$T/upper" "$T/cache"
thin_start_safe "$T/thin" "$T/run" "${SRV[@]}"
pct=$(hydrated_pct "$T/thin")
t_log "server up at $pct % hydrated"
[ "$pct" -lt 25 ] && ! grep -q '"state":"complete"' "$T/thin/.clonefs/status" ||
	t_fail "the clone was $pct % hydrated when the workload started"
workload "$T/run/mysql.sock" 1 "$T/sb1.log"
t_log "first run done at $(hydrated_pct "$T/thin") % hydrated; waiting for hydration to complete"
t_wait_for "grep -q '\"state\":\"complete\"' '$T/thin/.clonefs/status'" 120 || t_fail "hydration did not complete"
workload "$T/run/mysql.sock" 2 "$T/sb2.log"
thin_sum "$T/run/mysql.sock" "${TABLES[@]}" >"$T/thin.sums"
snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/thin/.clonefs/status")
db_stop "$T/run"
fusermount3 -u "$T/thin"

t_log "the same workload on a materialized copy of snapshot $snap"
mkdir -p "$T/ro"
CLONEFS_PASSWORD=$THIN_PW "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/ro" \
	-o "ssl_mode=disabled,cache_dir=$T/cache,snapshot=$snap"
t_on_exit "fusermount3 -u -z '$T/ro' 2>/dev/null || true"
"$CLONEFS_BIN/clonefs" materialize "$T/ro" "$T/plain" --owner=mysql --no-progress >/dev/null
fusermount3 -u "$T/ro"
thin_start_safe "$T/plain" "$T/run2" "${SRV[@]}"
workload "$T/run2/mysql.sock" 1 "$T/sbp1.log"
workload "$T/run2/mysql.sock" 2 "$T/sbp2.log"
diff "$T/thin.sums" <(thin_sum "$T/run2/mysql.sock" "${TABLES[@]}") ||
	t_fail "the thin clone's checksums differ from the materialized copy's after the same workload"
t_log "PASS: sysbench on a thin clone from $pct % hydrated and after completion, checksums equal a materialized copy's"
