# reflink.sh: helpers of the reflink method's tests (sourced after e2e.sh): a loop-mounted
# filesystem image, and a bank-transfer write load whose sum of balances never changes.

# loopfs_mount TYPE SIZE DIR: a fresh TYPE (xfs, btrfs, ext4) filesystem of SIZE in DIR/TYPE.img,
# loop-mounted with direct I/O (no second page cache, as a disk) at DIR/TYPE; unmounted and
# detached at exit. Sets LOOPFS_MNT. Skips the test when the tools or loop devices are missing.
loopfs_mount() {
	local type=$1 size=$2 dir=$3 loop
	command -v "mkfs.$type" >/dev/null || t_skip "mkfs.$type is not installed"
	truncate -s "$size" "$dir/$type.img"
	"mkfs.$type" -q "$dir/$type.img" >"$dir/mkfs-$type.log" 2>&1 ||
		{ cat "$dir/mkfs-$type.log"; t_fail "mkfs.$type failed"; }
	loop=$(losetup --find --show --direct-io=on "$dir/$type.img" 2>"$dir/losetup.err") ||
		loop=$(losetup --find --show "$dir/$type.img" 2>"$dir/losetup.err") ||
		t_skip "no loop device: $(cat "$dir/losetup.err")"
	t_on_exit "losetup -d '$loop'"
	LOOPFS_MNT="$dir/$type"
	mkdir -p "$LOOPFS_MNT"
	mount -t "$type" "$loop" "$LOOPFS_MNT" 2>"$dir/mount.err" || t_skip "cannot mount $type: $(cat "$dir/mount.err")"
	t_on_exit "umount '$LOOPFS_MNT' || umount -l '$LOOPFS_MNT'"
	chmod 755 "$LOOPFS_MNT"
}

# bank_load SOCK ROWS: schema `bank`: ROWS accounts of 1000 each (a 200-byte pad per row, so that
# the table outgrows a small buffer pool), an empty transfer history, and audit tables in Aria and
# MyISAM that every tenth transfer appends to (outside its transaction).
bank_load() {
	db_sql "$1" "CREATE DATABASE bank; USE bank;
		CREATE TABLE bank.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL, pad CHAR(200) NOT NULL) ENGINE=InnoDB;
		CREATE TABLE bank.hist (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, amt INT, pad CHAR(200)) ENGINE=InnoDB;
		CREATE TABLE bank.audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, amt INT) ENGINE=Aria;
		CREATE TABLE bank.audit_m (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, b INT, amt INT) ENGINE=MyISAM;
		INSERT INTO bank.acct SELECT seq, 1000, MD5(seq) FROM seq_1_to_$2;"
}

# bank_sum SOCK: the sum of all balances.
bank_sum() { db_sql "$1" "SELECT SUM(bal) FROM bank.acct"; }

# bank_transfers_start SOCK ROWS WORKERS: WORKERS clients moving money between random accounts
# (each transfer one transaction, logged in bank.hist) until bank_transfers_stop; bounded to 10 min.
bank_transfers_start() {
	local sock=$1 rows=$2 workers=$3 w
	BANK_STOP=$(mktemp -u /tmp/clonefs-bank-stop.XXXXXX)
	BANK_PIDS=()
	for ((w = 0; w < workers; w++)); do
		(
			end=$((SECONDS + 600))
			while [ ! -e "$BANK_STOP" ] && [ $SECONDS -lt $end ]; do
				for i in 1 2 3 4 5 6 7 8 9 10; do
					a=$(((RANDOM * 32768 + RANDOM) % rows + 1))
					b=$(((RANDOM * 32768 + RANDOM) % rows + 1))
					amt=$((RANDOM % 50 + 1))
					echo "BEGIN; UPDATE bank.acct SET bal = bal - $amt WHERE id = $a;
					      UPDATE bank.acct SET bal = bal + $amt WHERE id = $b;
					      INSERT INTO bank.hist (a, b, amt, pad) VALUES ($a, $b, $amt, REPEAT('h', 200)); COMMIT;"
				done
				echo "INSERT INTO bank.audit (a, b, amt) VALUES ($a, $b, $amt);
				      INSERT INTO bank.audit_m (a, b, amt) VALUES ($a, $b, $amt);"
			done | mariadb --no-defaults -S "$sock" -u root
		) &
		BANK_PIDS+=($!)
	done
	t_on_exit "bank_transfers_stop"
}

bank_transfers_stop() {
	[ ${#BANK_PIDS[@]} -gt 0 ] 2>/dev/null || return 0
	touch "$BANK_STOP"
	local p
	for p in "${BANK_PIDS[@]}"; do
		t_wait_for "! kill -0 $p 2>/dev/null" 60 || kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -f "$BANK_STOP"
	BANK_PIDS=()
}

# db_check_clean SOCK OUT: mariadb-check of every table says OK (notes about engines that have no
# check are not errors); its output in OUT.
db_check_clean() {
	mariadb-check --no-defaults -S "$1" -u root --all-databases >"$2" 2>&1 || { cat "$2"; t_fail "mariadb-check failed"; }
	if grep -Ev '(OK|^note *: The storage engine for the table doesn.t support check)$' "$2" | grep -Eq '^(error|Error|warning|status)|corrupt'; then
		cat "$2"
		t_fail "mariadb-check found a problem"
	fi
}
