#!/usr/bin/env bash
# test_thin_crash.sh: a thin clone survives kill -9 of its mount daemon (issue 14's crash rules).
# mariadbd runs on a thin clone (-o rw,upper=DIR) under a transfer workload (money moved between
# accounts, the sum constant; every acknowledged commit's id logged by the client); the mount daemon
# is killed with -9 at a random moment, the server (which now sees errors) is killed too, the same
# upper= is mounted again and the server restarted: InnoDB recovers, the sum is unchanged and every
# acknowledged id is there. Five rounds on one upper.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/thin.sh"

T=$(t_tmpdir)
THIN_PW='pw'
cfs_donor_up "$T" 1 "$THIN_PW"
db_sql "$DONOR_SOCK" "CREATE DATABASE bank; CREATE TABLE bank.accounts (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB;
	USE bank; INSERT INTO bank.accounts SELECT seq, 1000 FROM seq_1_to_100;
	CREATE TABLE bank.acked (id BIGINT PRIMARY KEY) ENGINE=InnoDB;"
MP="$T/mnt"
thin_mount "$MP" "$T/upper" "$T/cache"

# A server on the mount, started by hand (mysqld_safe would restart it against a dead mount).
start_server() {
	mkdir -p "$T/run/tmp"
	chown mysql:mysql "$T/run" "$T/run/tmp"
	mariadbd --no-defaults --datadir="$MP" --socket="$T/run/mysql.sock" --pid-file="$T/run/mysqld.pid" \
		--log-error="$T/run/error.log" --skip-networking --user=mysql --tmpdir="$T/run/tmp" \
		--innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=1 >/dev/null 2>&1 &
	SERVER_PID=$!
	_db_wait_ready "$T/run/mysql.sock" "$T/run/error.log"
}
t_on_exit "kill -9 \${SERVER_PID:-0} 2>/dev/null || true"
: >"$T/acked"
for round in 1 2 3 4 5; do
	start_server
	sum=$(db_sql "$T/run/mysql.sock" "SELECT SUM(bal) FROM bank.accounts")
	[ "$sum" = 100000 ] || t_fail "round $round: the sum is $sum after recovery, not 100000"
	missing=$(python3 - "$T/acked" <<PY
import subprocess, sys
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
have = set(subprocess.run(["mariadb", "--no-defaults", "-S", "$T/run/mysql.sock", "-u", "root", "-N", "-B", "-e",
                           "SELECT id FROM bank.acked"], capture_output=True, text=True, check=True).stdout.split())
print(len([a for a in acked if a not in have]), len(acked))
PY
)
	[ "${missing%% *}" = 0 ] || t_fail "round $round: acknowledged ids missing after recovery ($missing: missing, acknowledged)"
	t_log "round $round: sum $sum, all ${missing#* } acknowledged ids present; transfers, then kill -9 of the mount daemon"
	(
		i=0
		while :; do
			i=$((i + 1))
			id=$((round * 1000000 + i)) a=$((RANDOM % 100 + 1)) b=$((RANDOM % 100 + 1)) amt=$((RANDOM % 50 + 1))
			mariadb --no-defaults -S "$T/run/mysql.sock" -u root -e "BEGIN; UPDATE bank.accounts SET bal = bal - $amt WHERE id = $a;
				UPDATE bank.accounts SET bal = bal + $amt WHERE id = $b; INSERT INTO bank.acked VALUES ($id); COMMIT;" \
				>/dev/null 2>&1 || break
			echo "$id" >>"$T/acked"
		done
	) &
	load=$!
	sleep "$(python3 -c 'import random; print(round(random.uniform(1.0, 3.0), 2))')"
	daemon=$(pgrep -f -x "$CLONEFS_BIN/mount.clonefs cloner@127.0.0.1:$PORT $MP -o .*upper=$T/upper.*") ||
		t_fail "no mount daemon found"
	kill -9 $daemon
	t_wait_for "! kill -0 $load 2>/dev/null" 30 || kill $load 2>/dev/null || true
	kill -9 "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	wait "$load" 2>/dev/null || true
	rm -f "$T/run/mysqld.pid" "$T/run/mysql.sock"
	fusermount3 -u -z "$MP"
	thin_mount "$MP" "$T/upper" "$T/cache"
done
start_server
sum=$(db_sql "$T/run/mysql.sock" "SELECT SUM(bal) FROM bank.accounts")
[ "$sum" = 100000 ] || t_fail "the sum is $sum after the last recovery"
n=$(wc -l <"$T/acked")
[ "$n" -gt 20 ] || t_fail "only $n transfers were acknowledged: the workload did not run"
[ "$(db_sql "$T/run/mysql.sock" "SELECT COUNT(*) FROM bank.acked")" -ge "$n" ] || t_fail "acknowledged ids lost"
mariadb-check --no-defaults -S "$T/run/mysql.sock" -u root bank >"$T/check" || { cat "$T/check"; t_fail "mariadb-check bank failed"; }
t_log "PASS: five kill -9 rounds, the sum unchanged and all $n acknowledged ids present"
