#!/usr/bin/env bash
# test_many_tables.sh: open-file limits (issue 20 item 4) with real processes: a donor of
# CFS_TABLES (default 600) InnoDB tables, one file each; every clonefs process runs with a soft
# open-files limit of 256 (the common 1024 against 5,000 tables, scaled down to stay fast): clonefsd
# and its mariabackup snapshot, materialize; the mount also with a hard limit of 256, so only its
# bound on open data files (least recently used closed) lets it serve and hydrate every file.
# The clone then starts with mysqld_safe and holds every table and row.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

N=${CFS_TABLES:-600}
LIMIT=256
T=$(t_tmpdir)
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
t_log "$N tables, one file each"
python3 -c '
import sys
n = int(sys.argv[1])
print("CREATE DATABASE many;")
for i in range(n):
    print(f"CREATE TABLE many.t{i} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO many.t{i} VALUES ({i}, {i * 7});")
' "$N" | mariadb --no-defaults -S "$DONOR_SOCK" -u root
cfs_make_clone_user "$DONOR_SOCK" cloner pw

# From here on every process of this test starts with a soft limit of LIMIT (the hard one stays).
ulimit -Sn $LIMIT
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data"

t_log "mount with soft and hard limit $LIMIT: hydrates every file with its open data files bounded"
mkdir -p "$T/mnt"
(ulimit -n $LIMIT && CLONEFS_PASSWORD=pw exec "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,cache_dir=$T/cache") || t_fail "mount failed with $N tables and an open-files limit of $LIMIT"
t_on_exit "fusermount3 -uz '$T/mnt' 2>/dev/null || true"
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/mnt/.clonefs/status" "$1"; }
t_wait_for "[ \"\$(field state)\" = complete ]" 180 || t_fail "hydration did not complete: $(field state) $(field last_error)"
pid=$(pgrep -f "mount.clonefs cloner@127.0.0.1:$PORT" | head -1)
open=$(ls "/proc/$pid/fd" | wc -l)
[ "$open" -lt $LIMIT ] || t_fail "the mount holds $open files open, limit $LIMIT"
t_log "hydrated with $open files open in the mount daemon"

t_log "materialize (soft limit $LIMIT) and start the clone"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress || t_fail "materialize failed"
fusermount3 -u "$T/mnt"
db_start_safe "$T/clone" "$T/clone-run"
CLONE_SOCK="$T/clone-run/mysql.sock"
c=$(db_sql "$CLONE_SOCK" "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='many'")
[ "$c" = "$N" ] || t_fail "the clone has $c of $N tables"
for i in 0 $((N / 2)) $((N - 1)); do
	v=$(db_sql "$CLONE_SOCK" "SELECT v FROM many.t$i WHERE id=$i")
	[ "$v" = $((i * 7)) ] || t_fail "many.t$i holds '$v' in the clone"
done
diff <(db_checksums "$DONOR_SOCK") <(db_checksums "$CLONE_SOCK") >"$T/diff" || { head "$T/diff"; t_fail "checksums differ"; }
t_log "PASS: $N tables cloned with an open-files limit of $LIMIT"
