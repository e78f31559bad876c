# thin.sh: helpers for thin-clone tests (issue 14): a writable mount by hand, the recipient's option
# file for clonefs clone, and a server on a thin clone. Needs e2e.sh sourced first.

# thin_mount MP UPPER CACHE [extra -o options]: mount.clonefs -o rw,upper=UPPER of cloner@127.0.0.1:$PORT
# (password $THIN_PW), unmounted at exit.
thin_mount() {
	local mp=$1 upper=$2 cache=$3 extra=${4:-}
	mkdir -p "$mp"
	CLONEFS_PASSWORD=$THIN_PW "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$mp" \
		-o "ssl_mode=disabled,cache_dir=$cache,rw,upper=$upper${extra:+,$extra}"
	t_on_exit "fusermount3 -u -z '$mp' 2>/dev/null || true"
}

# thin_recipient_cnf FILE: a recipient option file with the donor's settings and this donor allowed.
thin_recipient_cnf() {
	printf '[mysqld]\ncharacter-set-server=latin1\ncollation-server=latin1_swedish_ci\n[clonefs]\nvalid_donor_list=127.0.0.1:%s\n' \
		"$PORT" >"$1"
}

# thin_sum SOCK TABLES...: CHECKSUM TABLE of the tables, one line each.
thin_sum() {
	local sock=$1
	shift
	db_sql "$sock" "CHECKSUM TABLE $(IFS=,; echo "$*") EXTENDED"
}

# thin_start_safe DATADIR DIR: db_start_safe with the server's temporary files in DIR/tmp (not a /tmp
# shared with every other test's servers, whose #sql-temptable names can meet).
thin_start_safe() {
	local datadir=$1 dir=$2
	mkdir -p "$dir/tmp"
	chown mysql:mysql "$dir" "$dir/tmp"
	mysqld_safe --no-defaults --datadir="$datadir" --socket="$dir/mysql.sock" --pid-file="$dir/mysqld.pid" \
		--log-error="$dir/error.log" --skip-networking --user=mysql --tmpdir="$dir/tmp" "${@:3}" \
		>"$dir/mysqld_safe.log" 2>&1 &
	t_on_exit "db_stop '$dir'"
	_db_wait_ready "$dir/mysql.sock" "$dir/error.log"
}
