# bench_lib.sh: the timing helpers run.sh and many_tables.sh share (sourced after tests/lib/e2e.sh).
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
say() { printf '%s\n' "-- $*" >&2; }
# cold: every timed step starts from the same state, the page cache dropped (written back first):
# the donor's files are read from the disk, as a production donor's InnoDB files are (O_DIRECT keeps
# them out of the page cache), and no step inherits the page cache an earlier one filled. (On this
# VM a clone run with a few GB of earlier snapshots still cached took 1.4-1.8 s against 1.0-1.1 s
# after a drop: new page cache there costs more than reused.)
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# bench_donor DIR MB: the bench's donor: a MariaDB server in DIR (db_start) with about MB of data made
# by sysbench oltp_read_write prepare (8 tables in sbtest) and the account cloner/pw. Sets SOCK and
# rows (per table).
bench_donor() {
	db_start "$1" --innodb-buffer-pool-size=512M
	SOCK="$1/mysql.sock"
	db_sql "$SOCK" "CREATE DATABASE sbtest"
	rows=$(($2 * 1024 * 1024 / 8 / 230))
	sysbench oltp_read_write --mysql-socket="$SOCK" --mysql-user=root --mysql-db=sbtest --tables=8 \
		--table-size="$rows" --threads=2 prepare >"$1/sysbench.log" 2>&1 || { tail "$1/sysbench.log"; t_fail "sysbench prepare failed"; }
	cfs_make_clone_user "$SOCK" cloner pw
}
