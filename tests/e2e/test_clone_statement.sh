#!/usr/bin/env bash
# test_clone_statement.sh: `clonefs clone` takes the seed's statement and enforces each prerequisite
# the real parts can produce here with MySQL's code, writing nothing: syntax (1064), relative and
# existing DATA DIRECTORY (1525, 1007), donor not in / empty valid_donor_list (3869), a clone in
# progress (3634), a donor plugin the recipient lacks (3870), wrong password and missing privilege (3862 wrapping 1045 / 1227), REQUIRE SSL
# against a donor without TLS (2026), version (3864, a wrapper reporting another version), charset
# and page size (3868), donor max_allowed_packet (3862 wrapping 3957), disk space on a small tmpfs
# (3873), a file system block size other than the donor's for page-compressed data (3869), an
# external tablespace path taken (1086), an interrupt (1317, nothing left), the donor killed mid-copy (one line, nothing left). Then a clone into DATA DIRECTORY that
# mysqld_safe starts with the donor's checksums, and `clonefs check` printing its table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
export CLONEFS_LOCK_DIR=$T
# What the donors log about the refusals and interruptions below.
t_log_expect "authentication of '(cloner|weak)' refused: ERROR (1045|1227) "
t_log_expect "session of '' ended: ERROR 7000: expected AUTH, got CLOSE"
db_start "$T/donor"
SOCK="$T/donor/mysql.sock"
db_load_sample "$SOCK" 5
cfs_make_clone_user "$SOCK" cloner 'pw'
db_sql "$SOCK" "CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weak-pw'; GRANT SELECT ON *.* TO 'weak'@'localhost';
	INSTALL SONAME 'metadata_lock_info'"  # a plugin from a library, which a recipient must have too
tls_make "$T/tls"
# mariabackup as clonefsd runs it, slowed on demand ($T/slow seconds) to hold a clone in progress.
mkdir -p "$T/wrap"
printf '#!/bin/sh\n[ "$2" = --backup ] && sleep "$(cat %s/slow 2>/dev/null || echo 0)"\nexec %s "$@"\n' \
	"$T" "$(command -v mariabackup)" >"$T/wrap/mariabackup"
chmod 755 "$T/wrap/mariabackup"
PORT=$(t_free_port)
PATH="$T/wrap:$PATH" cfs_start_donor "$T/d" "$PORT" "$SOCK" "$T/donor/data" \
	--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
PLAIN=$(t_free_port)
cfs_start_donor "$T/p" "$PLAIN" "$SOCK" "$T/donor/data"

# The recipient: the server binary of this host with the donor's settings (no running instance).
recipient_cnf() { # FILE [extra lines for [mysqld]]
	local f=$1
	shift
	{
		echo "[mysqld]"
		echo "character-set-server=latin1"
		echo "collation-server=latin1_swedish_ci"
		for l in "$@"; do echo "$l"; done
		echo "[clonefs]"
		echo "valid_donor_list=127.0.0.1:$PORT,127.0.0.1:$PLAIN"
	} >"$f"
}
recipient_cnf "$T/r.cnf"
mkdir -p "$T/out"
stmt() { # [DATA DIRECTORY clause] [user] [password] [port]
	echo "CLONE INSTANCE FROM '${2:-cloner}'@'127.0.0.1':${4:-$PORT} IDENTIFIED BY '${3:-pw}' $1"
}

# clone_err CODE STATEMENT [clonefs clone options]: one ERROR line, exit 1, nothing written.
clone_err() {
	local code=$1 st=$2 rc=0
	shift 2
	echo "$st" | "$CLONEFS_BIN/clonefs" clone - --no-progress "$@" >"$T/stdout" 2>"$T/err" || rc=$?
	[ $rc = 1 ] || { cat "$T/stdout" "$T/err"; t_fail "clone exited $rc, expected 1 (ERROR $code)"; }
	cfs_assert_one_error "$T/err" "$code"
	[ -z "$(ls -A "$T/out")" ] || t_fail "ERROR $code left something in $T/out: $(ls -A "$T/out")"
	t_log "ok: $(cat "$T/err")"
}

t_log "the statement as MySQL parses it"
clone_err 1064 "CLONE INSTANCE FROM 'cloner'@'127.0.0.1' IDENTIFIED BY 'pw'" --recipient-defaults-file="$T/r.cnf"
grep -q "near 'IDENTIFIED BY 'pw'' at line 1" "$T/err" || t_fail "1064 does not show where"
clone_err 1064 "$(stmt "DATA DIRECTORY '$T/out/c' REQUIRE TLS")" --recipient-defaults-file="$T/r.cnf"
rc=0
"$CLONEFS_BIN/clonefs" clone "$(stmt "DATA DIRECTORY 'relative/c'")" --recipient-defaults-file="$T/r.cnf" \
	>/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q '^clonefs: \[Warning\] Using a password on the command line interface can be insecure.$' "$T/err" &&
	grep -q '^ERROR 1525 (HY000): Incorrect path value: .relative/c.$' "$T/err" ||
	{ cat "$T/err"; t_fail "no warning for a password on the command line, or not 1525"; }
t_log "ok: a password on the command line is warned about, as the mysql client does"

t_log "DATA DIRECTORY, donor list, one clone at a time"
clone_err 1525 "$(stmt "DATA DIRECTORY = 'out/c'")" --recipient-defaults-file="$T/r.cnf"
mkdir "$T/exists"
clone_err 1007 "$(stmt "DATA DIRECTORY = '$T/exists'")" --recipient-defaults-file="$T/r.cnf"
clone_err 3869 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/r.cnf" \
	-o "valid_donor_list=127.0.0.1:1;10.0.0.1:$PORT"
grep -q "127.0.0.1:$PORT is not found in clone_valid_donor_list: 127.0.0.1:1;10.0.0.1:$PORT" "$T/err" || t_fail "3869 wording"
printf '[mysqld]\ncharacter-set-server=latin1\ncollation-server=latin1_swedish_ci\n' >"$T/nolist.cnf"
clone_err 3869 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/nolist.cnf"
echo 8 >"$T/slow"
(stmt "DATA DIRECTORY = '$T/first'" | "$CLONEFS_BIN/clonefs" clone - --no-progress \
	--recipient-defaults-file="$T/r.cnf" >"$T/first.out" 2>&1 || true) &
first=$!
t_wait_for "pgrep -f '$T/wrap/mariabackup' >/dev/null" 30 || t_fail "the first clone did not start a snapshot"
clone_err 3634 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/r.cnf"
echo 0 >"$T/slow"
wait "$first"
grep -q 'FILE COPY  Completed' "$T/first.out" || { cat "$T/first.out"; t_fail "the first clone did not complete"; }
rm -rf "$T/first"

t_log "the donor's errors, wrapped in 3862 as MySQL's clone wraps them"
clone_err 3862 "$(stmt "DATA DIRECTORY = '$T/out/c'" cloner wrong-pw)" --recipient-defaults-file="$T/r.cnf"
grep -q "Clone Donor Error: Connect failed: 1045 : Access denied for user 'cloner'" "$T/err" || t_fail "3862 does not carry 1045"
clone_err 3862 "$(stmt "DATA DIRECTORY = '$T/out/c'" weak weak-pw)" --recipient-defaults-file="$T/r.cnf"
grep -q "Clone Donor Error: 1227 : Access denied; you need (at least one of) the RELOAD" "$T/err" || t_fail "3862 does not carry 1227"
clone_err 2026 "$(stmt "DATA DIRECTORY = '$T/out/c' REQUIRE SSL" cloner pw "$PLAIN")" --recipient-defaults-file="$T/r.cnf"

t_log "the recipient's server against the donor's facts"
mkdir -p "$T/old"
# The real server, its version line (--version, and the first line of --verbose --help) rewritten.
printf '#!/bin/sh\n%s "$@" | sed "1s/ Ver [^ ]*/ Ver 10.5.99-MariaDB/"\n' "$(command -v mariadbd)" >"$T/old/mariadbd"
chmod 755 "$T/old/mariadbd"
recipient_cnf "$T/old.cnf"
printf '[mysqld_safe]\nmysqld=%s\n' "$T/old/mariadbd" >>"$T/old.cnf"
clone_err 3864 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/old.cnf"
grep -q "is different from Recipient MySQL version 10.5.99-MariaDB" "$T/err" || t_fail "3864 does not name the versions"
mkdir -p "$T/noplugins"
recipient_cnf "$T/plug.cnf" "plugin-dir=$T/noplugins"
clone_err 3870 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/plug.cnf"
grep -q "Clone Donor plugin METADATA_LOCK_INFO is not active in Recipient." "$T/err" || t_fail "3870 wording"
recipient_cnf "$T/page.cnf" "innodb-page-size=8192"
clone_err 3868 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/page.cnf"
grep -q "Clone Configuration innodb_page_size: Donor value: 16384 is different from Recipient value: 8192." "$T/err" ||
	t_fail "3868 wording for innodb_page_size"
recipient_cnf "$T/cs.cnf" "character-set-server=utf8mb4" "collation-server=utf8mb4_general_ci"
clone_err 3868 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/cs.cnf"
grep -q "character_set_server: Donor value: latin1 is different from Recipient value: utf8mb4" "$T/err" || t_fail "3868 charset"
db_sql "$SOCK" "SET GLOBAL max_allowed_packet = 1048576"
clone_err 3862 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/r.cnf"
grep -q "Clone Donor Error: 3957 : Clone needs max_allowed_packet value to be 2097152 or more. Current value is 1048576." "$T/err" ||
	t_fail "3957 inside 3862"
db_sql "$SOCK" "SET GLOBAL max_allowed_packet = 16777216"

t_log "disk space, before a byte is written"
mkdir -p "$T/small"
mount -t tmpfs -o size=4m tmpfs "$T/small"
t_on_exit "umount -l '$T/small' 2>/dev/null || true"
rc=0
stmt "DATA DIRECTORY = '$T/small/c'" | "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/r.cnf" \
	>/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 3873
[ -z "$(ls -A "$T/small")" ] || t_fail "3873 left something on the small filesystem: $(ls -A "$T/small")"
t_log "ok: $(cat "$T/err")"
umount "$T/small"
# Page-compressed tables (the sample has one) need the donor's file system block size: a 1 KiB-block ext4.
truncate -s 300M "$T/ext4.img"
mkfs.ext4 -q -b 1024 -F "$T/ext4.img"
mkdir -p "$T/kb"
mount -o loop "$T/ext4.img" "$T/kb"
t_on_exit "umount -l '$T/kb' 2>/dev/null || true"
rc=0
stmt "DATA DIRECTORY = '$T/kb/c'" | "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/r.cnf" \
	>/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 3869
grep -q "file system block size: Donor value: 4096 is different from Recipient value: 1024" "$T/err" || t_fail "3869 block size wording"
[ -z "$(ls -A "$T/kb" | grep -v lost+found)" ] || t_fail "3869 left something on the 1 KiB-block filesystem"
t_log "ok: $(cat "$T/err")"
umount "$T/kb"
t_log "clonefs check: one row per prerequisite"
rc=0
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/clonefs" check "cloner@127.0.0.1:$PORT" --recipient-defaults-file="$T/page.cnf" \
	--data-directory="$T/out/c" >"$T/check.out" 2>"$T/err" || rc=$?
cat "$T/check.out"
[ $rc = 1 ] && cfs_assert_one_error "$T/err" 3868 || t_fail "check with a page size mismatch: exit $rc"
grep -q '^innodb_page_size .*16384 .*8192 .*FAIL' "$T/check.out" || t_fail "check does not show the page sizes"
grep -q '^same version series .*pass' "$T/check.out" || t_fail "check does not show the version row"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/clonefs" check "cloner@127.0.0.1:$PORT" --recipient-defaults-file="$T/r.cnf" \
	--data-directory="$T/out/c" >"$T/check.out" || { cat "$T/check.out"; t_fail "check failed on a good pair"; }
[ -z "$(ls -A "$T/out")" ] || t_fail "check wrote into $T/out"

t_log "a clone into DATA DIRECTORY that mysqld_safe starts"
stmt "DATA DIRECTORY = '$T/out/c' REQUIRE SSL" | "$CLONEFS_BIN/clonefs" clone - --no-progress \
	--recipient-defaults-file="$T/r.cnf" -o "ssl_ca=$T/tls/ca.pem" >"$T/clone.out" 2>"$T/err" ||
	{ cat "$T/clone.out" "$T/err"; t_fail "clone failed"; }
cat "$T/clone.out"
[ -s "$T/err" ] && { cat "$T/err"; t_fail "a successful clone printed on stderr"; }
[ -z "$(ls -A "$T/out" | grep -v '^c$')" ] || t_fail "scratch left beside the clone: $(ls -A "$T/out")"
db_start_safe "$T/out/c" "$T/clone"
db_checksums "$SOCK" >"$T/donor.sums"
db_checksums "$T/clone/mysql.sock" >"$T/clone.sums"
diff "$T/donor.sums" "$T/clone.sums" || t_fail "the clone's checksums differ from the donor's"
db_stop "$T/clone"

t_log "Ctrl-C during the copy: ERROR 1317, the private mount gone, nothing left"
SLOW=$(t_free_port)
cfs_start_donor "$T/slowd" "$SLOW" "$SOCK" "$T/donor/data" --max-bandwidth=500000
recipient_cnf "$T/slow.cnf"
sed -i "s/^valid_donor_list=.*/valid_donor_list=127.0.0.1:$SLOW/" "$T/slow.cnf"
echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$SLOW IDENTIFIED BY 'pw' DATA DIRECTORY = '$T/out/i'" |
	"$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/slow.cnf" >"$T/int.out" 2>"$T/int.err" &
cl=$!
t_wait_for "grep -q 'FILE COPY  In Progress' '$T/int.out'" 60 || { cat "$T/int.out" "$T/int.err"; t_fail "the slow clone did not start copying"; }
kill -INT "$cl"
rc=0
wait "$cl" || rc=$?
[ $rc = 1 ] || { cat "$T/int.out" "$T/int.err"; t_fail "an interrupted clone exited $rc"; }
cfs_assert_one_error "$T/int.err" 1317
grep -qx 'ERROR 1317 (70100): Query execution was interrupted' "$T/int.err" || t_fail "1317 wording"
findmnt -rn -o TARGET | grep -q "^$T/out/" && t_fail "the private mount is still mounted"
[ -z "$(ls -A "$T/out" | grep -vx c)" ] || t_fail "an interrupted clone left $(ls -A "$T/out" | grep -vx c)"
"$CLONEFS_BIN/clonefs" status --clone --json | python3 -c 'import json, sys; d = json.load(sys.stdin)
assert d["state"] == "Failed" and d["error_no"] == 1317, d' || t_fail "the progress does not say the clone was interrupted"
t_log "ok: $(cat "$T/int.err")"

t_log "the donor killed during the copy: one error line after network_timeout, nothing left"
echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$SLOW IDENTIFIED BY 'pw' DATA DIRECTORY = '$T/out/k'" |
	"$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$T/slow.cnf" -o network_timeout=3 \
	>"$T/kill.out" 2>"$T/kill.err" &
cl=$!
t_wait_for "grep -q 'FILE COPY  In Progress' '$T/kill.out'" 60 || { cat "$T/kill.out" "$T/kill.err"; t_fail "the slow clone did not start copying"; }
kill -9 "$CFS_DONOR_PID"
rc=0
wait "$cl" || rc=$?
[ $rc = 1 ] || { cat "$T/kill.out" "$T/kill.err"; t_fail "a clone whose donor died exited $rc"; }
# The mount's own reason: the donor unreachable past network_timeout (7001), or the refused
# reconnection that is the latest attempt (2003); either way one line.
[ "$(wc -l <"$T/kill.err")" = 1 ] && grep -qE '^ERROR (7001|2003) \(HY000\): ' "$T/kill.err" ||
	{ cat "$T/kill.err"; t_fail "a clone whose donor died did not say the donor is unreachable"; }
findmnt -rn -o TARGET | grep -q "^$T/out/" && t_fail "the private mount is still mounted"
[ -z "$(ls -A "$T/out" | grep -vx c)" ] || t_fail "a failed clone left $(ls -A "$T/out" | grep -vx c)"
# The progress records the error the DBA saw (materialize's own), not a generic one.
"$CLONEFS_BIN/clonefs" status --clone --json >"$T/kill.json"
[ "ERROR $(cfs_status_field "$T/kill.json" error_no) (HY000): $(cfs_status_field "$T/kill.json" error_message)" = "$(cat "$T/kill.err")" ] ||
	{ cat "$T/kill.json"; t_fail "the progress does not record the error the clone printed"; }
t_log "ok: $(cat "$T/kill.err")"

t_log "external tablespaces: the path taken (1086), then free"
mkdir -p "$T/ext" && chown mysql:mysql "$T/ext"
db_sql "$SOCK" "CREATE TABLE sample.t_ext (id INT PRIMARY KEY) ENGINE=InnoDB DATA DIRECTORY='$T/ext'; INSERT INTO sample.t_ext VALUES (1)"
# Here the donor's own file is at that path: the recipient would overwrite it.
rm -rf "$T/out/c"
clone_err 1086 "$(stmt "DATA DIRECTORY = '$T/out/c'")" --recipient-defaults-file="$T/r.cnf"
grep -q "File '$T/ext/sample/t_ext.ibd' already exists" "$T/err" || t_fail "1086 does not name the file"

t_log "an external tablespace lands at its absolute path (in a mount namespace where that path is free)"
mkdir -p "$T/e" && chown mysql:mysql "$T/e"
cat >"$T/ns.sh" <<EOF
set -e
mount -t tmpfs tmpfs "$T/ext"   # the donor's own files at that path are hidden here only
echo "$(stmt "DATA DIRECTORY = '$T/out/e'")" | CLONEFS_LOCK_DIR=$T "$CLONEFS_BIN/clonefs" clone - --no-progress \
	--recipient-defaults-file="$T/r.cnf" >/dev/null
test -f "$T/ext/sample/t_ext.ibd" || { echo "not at $T/ext/sample/t_ext.ibd"; exit 1; }
mariadbd --no-defaults --datadir="$T/out/e" --socket="$T/e/sock" --pid-file="$T/e/pid" --log-error="$T/e/err" \
	--skip-networking --user=mysql >/dev/null 2>&1 &
for i in \$(seq 1 60); do mariadb --no-defaults -S "$T/e/sock" -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
echo "t_ext: \$(mariadb --no-defaults -S "$T/e/sock" -u root -N -e 'SELECT GROUP_CONCAT(id) FROM sample.t_ext')"
mariadb-admin --no-defaults -S "$T/e/sock" -u root shutdown
EOF
unshare -m --propagation private bash "$T/ns.sh" >"$T/ns.out" 2>&1 || { cat "$T/ns.out"; t_fail "external tablespace clone failed"; }
cat "$T/ns.out"
grep -qx 't_ext: 1' "$T/ns.out" || t_fail "the external table does not read back on the clone"
[ ! -e "$T/ext/sample/t_ext.ibd.clonefs" ] && [ -f "$T/ext/sample/t_ext.ibd" ] || t_fail "the donor's own file was touched"
t_log "PASS: $(wc -l <"$T/donor.sums") checksums equal; every prerequisite refused with MySQL's code, nothing written"
