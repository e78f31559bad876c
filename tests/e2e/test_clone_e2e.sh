#!/usr/bin/env bash
# test_clone_e2e.sh: the backbone, end to end with real parts: a MariaDB donor under a write load,
# clonefsd (mariabackup snapshot) over TLS with a verified CA, a lazy FUSE mount, materialize,
# mysqld_safe on the result; then the donor's binary log replayed from the recorded position into
# the clone must reach exactly the donor's checksums (so the clone held the snapshot instant).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 20
cfs_make_clone_user "$DONOR_SOCK" cloner 'S3cret-pw'
tls_make "$T/tls"

db_write_load_start "$DONOR_SOCK"
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" \
	--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"

t_log "mount over TLS (ssl_mode=required, verified CA) while the donor is being written"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='S3cret-pw' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
db_write_load_stop

status=$(cat "$T/mnt/.clonefs/status")
echo "$status" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tls"].startswith("TLS"), d["tls"]; print("status ok:", d["snapshot_id"], d["tls"], d["binlog_file"], d["binlog_pos"])'
binlog_file=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["binlog_file"])')
binlog_pos=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["binlog_pos"])')
[ -n "$binlog_file" ] && [ -n "$binlog_pos" ] || t_fail "no binlog position recorded in the status"

t_log "materialize"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress
[ -f "$T/clone/clonefs_info.json" ] || t_fail "no clonefs_info.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/clone/clonefs_info.json"
read -r f p g < "$T/clone/clonefs_binlog_info" || true
[ "$f" = "$binlog_file" ] && [ "$p" = "$binlog_pos" ] || t_fail "clonefs_binlog_info '$f $p' disagrees with the status '$binlog_file $binlog_pos'"
ls -a "$T" | grep -q clonefs-partial && t_fail "a partial directory was left behind"
fusermount3 -u "$T/mnt"

t_log "start the clone with mysqld_safe --datadir"
db_start_safe "$T/clone" "$T/clone-run"
CLONE_SOCK="$T/clone-run/mysql.sock"

t_log "every object a DBA expects is there"
for q in "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA='sample'" \
	 "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='sample'" \
	 "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='sample'" \
	 "SELECT COUNT(*) FROM mysql.global_priv WHERE User='cloner'" \
	 "SELECT GROUP_CONCAT(DISTINCT ENGINE ORDER BY ENGINE) FROM information_schema.TABLES WHERE TABLE_SCHEMA='sample' AND TABLE_TYPE='BASE TABLE'"; do
	d=$(db_sql "$DONOR_SOCK" "$q"); c=$(db_sql "$CLONE_SOCK" "$q")
	[ "$d" = "$c" ] && [ -n "$c" ] && [ "$c" != 0 ] || t_fail "'$q': donor '$d', clone '$c'"
done

t_log "replay the donor's binary log from $binlog_file:$binlog_pos into the clone"
cfs_replay_and_compare "$T/donor" "$binlog_file" "$binlog_pos" "$DONOR_SOCK" "$CLONE_SOCK"
t_log "PASS: $CFS_NSUMS checksums equal (donor vs clone + binlog replay from the snapshot position)"
