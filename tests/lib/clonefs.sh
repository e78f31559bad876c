# clonefs.sh: test helpers that drive clonefs itself: a clone account on the donor, clonefsd in the
# foreground with its log checked at exit, and binlog replay from a recorded position.
# Needs common.sh and mariadb.sh sourced first.

# cfs_make_clone_user SOCK USER PASSWORD [HOST]: the privileges mariabackup needs on MariaDB 10.11, for
# 'USER'@'HOST' (default 127.0.0.1, where the tests' recipients connect from: the server judges the
# account by the recipient's address, with or without skip_name_resolve).
cfs_make_clone_user() {
	local host=${4:-127.0.0.1}
	db_sql "$1" "CREATE USER '$2'@'$host' IDENTIFIED BY '$3';
		GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SELECT ON *.* TO '$2'@'$host';"
}

# cfs_start_donor DIR PORT SOCK DATADIR [clonefsd options...]: clonefsd in the background, its log in
# DIR/clonefsd.log; waits (bounded) until it listens; stopped at exit.
cfs_start_donor() {
	local dir=$1 port=$2 sock=$3 datadir=$4
	shift 4
	mkdir -p "$dir/state"
	"$CLONEFS_BIN/clonefsd" --listen="127.0.0.1:$port" --socket="$sock" --datadir="$datadir" \
		--snapshot-method=mariabackup --state-dir="$dir/state" --foreground "$@" \
		>"$dir/clonefsd.log" 2>&1 &
	CFS_DONOR_PID=$!
	t_on_exit "kill $CFS_DONOR_PID 2>/dev/null; wait $CFS_DONOR_PID 2>/dev/null || true"
	# The port accepts before clonefsd has reloaded its snapshots; its "listening" line comes after.
	t_wait_for "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && grep -q ' listening on ' '$dir/clonefsd.log'" 30 ||
		{ cat "$dir/clonefsd.log"; t_fail "clonefsd did not start listening on port $port"; }
}

# cfs_replay_binlog DONORDIR FILE POS SOCK: apply the donor's binary logs from FILE:POS to SOCK.
cfs_replay_binlog() {
	local dir=$1 file=$2 pos=$3 sock=$4
	local binlogs=() started=0
	for f in $(ls "$dir"/binlog/*.[0-9]* 2>/dev/null | sort); do
		[ "$(basename "$f")" = "$file" ] && started=1
		[ $started = 1 ] && binlogs+=("$f")
	done
	[ ${#binlogs[@]} -gt 0 ] || t_fail "binlog $file not found under $dir/binlog"
	mariadb-binlog --start-position="$pos" "${binlogs[@]}" | mariadb --no-defaults -S "$sock" -u root
}

# cfs_assert_same_data SOCK_A SOCK_B WHAT: db_checksums of the two servers are equal, else the
# difference is shown and the test fails with WHAT. Sets CFS_NSUMS to the number of checksums.
cfs_assert_same_data() {
	local a=$1 b=$2 what=$3 sa sb
	sa=$(db_checksums "$a")
	sb=$(db_checksums "$b")
	[ "$sa" = "$sb" ] || { diff <(echo "$sa") <(echo "$sb") | head -40; t_fail "$what: the checksums differ"; }
	CFS_NSUMS=$(echo "$sa" | wc -l)
}

# cfs_replay_and_compare DONORDIR FILE POS DONOR_SOCK CLONE_SOCK: replay the donor's binary logs
# from the clone's recorded FILE:POS into the clone, then the clone must equal the donor.
cfs_replay_and_compare() {
	cfs_replay_binlog "$1" "$2" "$3" "$5"
	cfs_assert_same_data "$4" "$5" "donor vs clone + binlog replay from $2:$3"
}

# cfs_status_field MOUNT|FILE|- KEY: a value of a mount's status (MOUNT/.clonefs/status), of a JSON
# file, or of the JSON on stdin; KEY may name a nested one (donor.version). Fails when it is absent.
cfs_status_field() {
	local src=$1
	[ -d "$src" ] && src=$src/.clonefs/status
	[ "$src" = - ] && src=/dev/stdin
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    if not isinstance(v, dict) or k not in v:
        sys.exit("no %s in %s" % (sys.argv[2], sys.argv[1]))
    v = v[k]
print(v)' "$src" "$2"
}

# cfs_assert_one_error OUTFILE CODE: exactly one line, "ERROR CODE (".
cfs_assert_one_error() {
	local out=$1 code=$2
	[ "$(wc -l <"$out")" -eq 1 ] || { cat "$out"; t_fail "expected one line of error output, got $(wc -l <"$out")"; }
	grep -q "^ERROR $code (" "$out" || { cat "$out"; t_fail "expected ERROR $code"; }
}

# cfs_donor_up DIR MB PASSWORD [clonefsd options...]: a MariaDB donor in DIR/donor with about MB of
# sample data and the account cloner/PASSWORD, and clonefsd on a free port (state in DIR/state,
# log DIR/clonefsd.log). Sets DONOR_SOCK and PORT.
cfs_donor_up() {
	local dir=$1 mb=$2 pw=$3
	shift 3
	db_start "$dir/donor"
	DONOR_SOCK="$dir/donor/mysql.sock"
	db_load_sample "$DONOR_SOCK" "$mb"
	cfs_make_clone_user "$DONOR_SOCK" cloner "$pw"
	PORT=$(t_free_port)
	cfs_start_donor "$dir" "$PORT" "$DONOR_SOCK" "$dir/donor/data" "$@"
}

# cfs_materialize_how OUT: from materialize's output file OUT, "HANDED RANGE FUSE": how many files
# were handed off by the mount, copied from its cache with copy_file_range, read through the mount.
cfs_materialize_how() {
	sed -n "s/^from the mount's cache: \([0-9]*\) files handed off, \([0-9]*\) copied with copy_file_range, \([0-9]*\) read through the mount$/\1 \2 \3/p" "$1"
}

# cfs_cut_proxy DIR: tests/lib/cut_proxy.py between a mount and clonefsd (on PORT) standing in for
# the network: sets PROXY (its port) and PROXY_PID. `touch DIR/cut` cuts every connection and
# refuses new ones; SIGSTOP of PROXY_PID is a blackhole (connections stay open, nothing crosses).
cfs_cut_proxy() {
	local dir=$1
	PROXY=$(t_free_port)
	python3 "$(dirname "${BASH_SOURCE[0]}")/cut_proxy.py" --listen "$PROXY" --to "$PORT" --ctl "$dir/cut" \
		>"$dir/proxy.log" 2>&1 &
	PROXY_PID=$!
	t_on_exit "kill -CONT $PROXY_PID 2>/dev/null; kill $PROXY_PID 2>/dev/null || true"
	t_wait_for "grep -q ready '$dir/proxy.log'" 10 || t_fail "proxy did not start"
}
