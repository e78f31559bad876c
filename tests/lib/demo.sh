# demo.sh: what `make demo` and `make demo-store` share (sourced after e2e.sh): a throwaway donor
# with sample data behind clonefsd over TLS, and the side-by-side CHECKSUM TABLE that ends a demo.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# demo_donor_up T: a MariaDB donor in T/donor with sample data and the account cloner/demo-password,
# a CA and server certificate in T/tls, clonefsd on 127.0.0.1 with TLS. Sets DONOR_SOCK and PORT.
demo_donor_up() {
	local T=$1
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
}

# demo_finish T: the snapshot mounted at T/mnt shown, materialized into T/clone,
# unmounted, started with mysqld_safe, and compared with the donor (demo_replay_and_compare).
demo_finish() {
	local T=$1
	ls -la "$T/mnt" | head -20
	"$CLONEFS_BIN/clonefs" status "$T/mnt"

	step "clonefs materialize $T/mnt $T/clone --owner=mysql"
	"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/clone" --owner=mysql
	echo "clonefs_binlog_info: $(cat "$T/clone/clonefs_binlog_info")"
	fusermount3 -u "$T/mnt"

	step "mysqld_safe --datadir=$T/clone"
	db_start_safe "$T/clone" "$T/clone-run"
	demo_replay_and_compare "$T" "$T/clone-run/mysql.sock"
}

# demo_replay_and_compare T CLONE_SOCK: the clone caught up with the donor by replaying the donor's
# binary log from the position its clonefs_binlog_info records (the donor moved on after the
# snapshot), then CHECKSUM TABLE of every table, donor | clone. The last line says
# "NAME: all N checksums match" (status 0) or "NAME: MISMATCH" (status 1), NAME being $DEMO_NAME.
demo_replay_and_compare() {
	local T=$1 clone_sock=$2 bf bp n
	step "The donor moved on after the snapshot; replaying its binary log from the recorded position"
	read -r bf bp _ <"$T/clone/clonefs_binlog_info"
	echo "clone has $(db_sql "$clone_sock" 'SELECT COUNT(*) FROM sample.txlog') load transactions; donor has $(db_sql "$DONOR_SOCK" 'SELECT COUNT(*) FROM sample.txlog')"
	cfs_replay_binlog "$T/donor" "$bf" "$bp" "$clone_sock"

	step "CHECKSUM TABLE, donor | clone"
	db_checksums "$DONOR_SOCK" >"$T/donor.sum"
	db_checksums "$clone_sock" >"$T/clone.sum"
	paste "$T/donor.sum" "$T/clone.sum" | awk -F'\t' '{ printf "%-28s %12s | %-28s %12s %s\n", $1, $2, $3, $4, ($1==$3 && $2==$4) ? "" : "  <-- MISMATCH" }'
	n=$(wc -l <"$T/donor.sum")
	if [ "$n" -gt 0 ] && cmp -s "$T/donor.sum" "$T/clone.sum"; then
		printf '\n\033[1m%s: all %d checksums match\033[0m\n' "${DEMO_NAME:-demo}" "$n"
	else
		printf '\n\033[1m%s: MISMATCH\033[0m\n' "${DEMO_NAME:-demo}"
		return 1
	fi
}
