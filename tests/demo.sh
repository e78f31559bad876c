#!/usr/bin/env bash
# demo.sh: `make demo`: the main job end to end on a throwaway local donor: a MariaDB server with
# sample data, clonefsd over TLS, a lazy mount, a materialized clone, mysqld_safe on it, and
# CHECKSUM TABLE of donor and clone side by side. Cleans up after itself, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/lib/e2e.sh"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
T=$(t_tmpdir)

step "Starting a throwaway MariaDB donor in $T/donor (no networking, its own socket)"
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
step "Loading sample data: InnoDB in every row format, page-compressed, partitioned, MyISAM, Aria, views, triggers, routines, users"
db_load_sample "$DONOR_SOCK" 20
cfs_make_clone_user "$DONOR_SOCK" cloner 'demo-password'
db_sql "$DONOR_SOCK" "SELECT TABLE_NAME, ENGINE, ROW_FORMAT, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA='sample' AND TABLE_TYPE='BASE TABLE'" | column -t

step "Making a CA and a server certificate; starting clonefsd on 127.0.0.1 with TLS"
tls_make "$T/tls"
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data" \
	--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
echo "clonefsd listening on 127.0.0.1:$PORT (log: $T/clonefsd.log)"

step "Writing to the donor while the snapshot is taken"
db_write_load_start "$DONOR_SOCK"
step "mount.clonefs cloner@127.0.0.1:$PORT $T/mnt -o ssl_mode=required,ssl_ca=ca.pem"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='demo-password' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
db_write_load_stop
ls -la "$T/mnt" | head -20
"$CLONEFS_BIN/clonefs" status "$T/mnt"

step "clonefs materialize $T/mnt $T/clone --owner=mysql"
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql
echo "clonefs_binlog_info: $(cat "$T/clone/clonefs_binlog_info")"
fusermount3 -u "$T/mnt"

step "mysqld_safe --datadir=$T/clone"
db_start_safe "$T/clone" "$T/clone-run"
CLONE_SOCK="$T/clone-run/mysql.sock"

step "The donor moved on after the snapshot; replaying its binary log from the recorded position"
read -r bf bp _ <"$T/clone/clonefs_binlog_info"
echo "clone has $(db_sql "$CLONE_SOCK" 'SELECT COUNT(*) FROM sample.txlog') load transactions; donor has $(db_sql "$DONOR_SOCK" 'SELECT COUNT(*) FROM sample.txlog')"
cfs_replay_binlog "$T/donor" "$bf" "$bp" "$CLONE_SOCK"

step "CHECKSUM TABLE, donor | clone"
db_checksums "$DONOR_SOCK" >"$T/donor.sum"
db_checksums "$CLONE_SOCK" >"$T/clone.sum"
paste "$T/donor.sum" "$T/clone.sum" | awk -F'\t' '{ printf "%-28s %12s | %-28s %12s %s\n", $1, $2, $3, $4, ($1==$3 && $2==$4) ? "" : "  <-- MISMATCH" }'
n=$(wc -l <"$T/donor.sum")
if cmp -s "$T/donor.sum" "$T/clone.sum"; then
	printf '\n\033[1mdemo: all %d checksums match\033[0m\n' "$n"
else
	printf '\n\033[1mdemo: MISMATCH\033[0m\n'
	exit 1
fi
