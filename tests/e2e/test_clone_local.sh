#!/usr/bin/env bash
# test_clone_local.sh: clonefs clone "CLONE LOCAL DATA DIRECTORY = '/d'" on a loop-mounted XFS and
# on btrfs (the datadir in the top-level subvolume), with a real MariaDB under a transfer load: it
# logs in as the [client] account of the option file, /d is a reflink snapshot with
# clonefs_binlog_info and clonefs_info.json, starts with mysqld_safe at once, holds the constant
# sum, and equals the donor after replaying its binary log from the recorded position. MySQL's
# errors for the local checks: 1525, 1007, 3632, 1045, 1227. /d on another filesystem: a copy of a
# reflink snapshot, which starts and equals the donor after replay too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
. "$here/../lib/reflink.sh"

command -v losetup >/dev/null || t_skip "losetup is not installed (util-linux)"
T=$(t_tmpdir)
[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf '$T'"
ROWS=5000

for fs in xfs btrfs; do
	mkdir -p "$T/$fs-img"
	loopfs_mount "$fs" 1G "$T/$fs-img"
	MNT=$LOOPFS_MNT
	t_log "$fs: MariaDB at $MNT/donor/data under a transfer load"
	db_start "$MNT/donor"
	SOCK="$MNT/donor/mysql.sock"
	db_load_sample "$SOCK" 2
	bank_load "$SOCK" "$ROWS"
	SUM=$(bank_sum "$SOCK")
	cat >"$T/my-$fs.cnf" <<CNF
[mysqld]
datadir=$MNT/donor/data
socket=$SOCK
[client]
socket=$SOCK
user=root
CNF
	bank_transfers_start "$SOCK" "$ROWS" 2
	sleep 0.5
	start=$(date +%s%N)
	if [ $fs = xfs ]; then # logged in as the option file's [client] account
		echo "CLONE LOCAL DATA DIRECTORY = '$MNT/clone'" |
			"$CLONEFS_BIN/clonefs" clone - --defaults-file="$T/my-$fs.cnf" >"$T/out" 2>"$T/err" ||
			{ cat "$T/out" "$T/err"; t_fail "$fs: CLONE LOCAL failed"; }
	else # as the mysql client's options say, the statement on the command line (no password in it)
		"$CLONEFS_BIN/clonefs" clone "CLONE LOCAL DATA DIRECTORY = '$MNT/clone'" --socket="$SOCK" -u root \
			>"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; t_fail "$fs: CLONE LOCAL failed"; }
	fi
	[ -s "$T/err" ] && grep -v "backup lock held for" "$T/err" && t_fail "$fs: CLONE LOCAL wrote more than its lock line on stderr"
	ms=$((($(date +%s%N) - start) / 1000000))
	bank_transfers_stop
	grep -q "^CLONE LOCAL DATA DIRECTORY '$MNT/clone': a reflink snapshot of '$MNT/donor/data' in [0-9]* ms" "$T/out" ||
		{ cat "$T/out" "$T/err"; t_fail "$fs: no summary line"; }
	t_log "$fs: $(cat "$T/out") [${ms} ms for the whole command]"
	[ -z "$(ls -A "$MNT" | grep -e clonefs-partial -e clonefs-snapshots)" ] || { ls -la "$MNT"; t_fail "$fs: leftovers beside the clone"; }
	read -r file pos gtid <"$MNT/clone/clonefs_binlog_info"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["method"] == "reflink" and d["binlog_pos"] == sys.argv[2]' \
		"$MNT/clone/clonefs_info.json" "$pos" || t_fail "$fs: clonefs_info.json disagrees with clonefs_binlog_info"
	db_start_safe "$MNT/clone" "$T/run-$fs"
	CSOCK="$T/run-$fs/mysql.sock"
	[ "$(bank_sum "$CSOCK")" = "$SUM" ] || t_fail "$fs: the clone's sum is $(bank_sum "$CSOCK"), not $SUM"
	db_check_clean "$CSOCK" "$T/check.out"
	cfs_replay_binlog "$MNT/donor" "$file" "$pos" "$CSOCK"
	diff <(db_checksums "$SOCK") <(db_checksums "$CSOCK") >"$T/diff" ||
		{ cat "$T/diff"; t_fail "$fs: checksums differ after replaying the binlog from $file:$pos"; }
	t_log "$fs: the clone started, its sum holds, mariadb-check is clean, replay from $file:$pos equals the donor"
	db_stop "$T/run-$fs"
done

t_log "$fs: DATA DIRECTORY on another filesystem: a copy of a reflink snapshot"
mkdir -p "$T/elsewhere"
bank_transfers_start "$SOCK" "$ROWS" 2
sleep 0.5
echo "CLONE LOCAL DATA DIRECTORY = '$T/elsewhere/clone'" |
	"$CLONEFS_BIN/clonefs" clone - --defaults-file="$T/my-$fs.cnf" >"$T/out" 2>"$T/err" ||
	{ cat "$T/out" "$T/err"; t_fail "CLONE LOCAL onto another filesystem failed"; }
bank_transfers_stop
grep -q "^CLONE LOCAL DATA DIRECTORY '$T/elsewhere/clone': a copy of a reflink snapshot of" "$T/out" || { cat "$T/out"; t_fail "not a copy"; }
[ -z "$(ls -A "$MNT" | grep -e clonefs-partial)" ] && [ -z "$(ls -A "$MNT/donor/.clonefs-snapshots")" ] ||
	{ ls -la "$MNT" "$MNT/donor/.clonefs-snapshots"; t_fail "the intermediate snapshot was left behind"; }
read -r file pos gtid <"$T/elsewhere/clone/clonefs_binlog_info"
db_start_safe "$T/elsewhere/clone" "$T/run-copy"
CSOCK="$T/run-copy/mysql.sock"
[ "$(bank_sum "$CSOCK")" = "$SUM" ] || t_fail "the copied clone's sum is $(bank_sum "$CSOCK"), not $SUM"
cfs_replay_binlog "$MNT/donor" "$file" "$pos" "$CSOCK"
diff <(db_checksums "$SOCK") <(db_checksums "$CSOCK") >"$T/diff" ||
	{ cat "$T/diff"; t_fail "the copied clone differs from the donor after replay from $file:$pos"; }
db_stop "$T/run-copy"
t_log "ok: $(cut -c1-160 "$T/out")...: started, sum holds, replay equals the donor"

t_log "MySQL's errors for the checks that apply locally"
local_err() { # CODE DIR [login options]
	local rc=0 code=$1 dir=$2
	shift 2
	[ $# -gt 0 ] || set -- --defaults-file="$T/my-btrfs.cnf"
	echo "CLONE LOCAL DATA DIRECTORY = '$dir'" | "$CLONEFS_BIN/clonefs" clone - "$@" >/dev/null 2>"$T/err" || rc=$?
	[ $rc = 1 ] || { cat "$T/err"; t_fail "CLONE LOCAL into '$dir': exit $rc"; }
	cfs_assert_one_error "$T/err" "$code"
	t_log "ok: $(cat "$T/err")"
}
local_err 1525 "relative/dir"
local_err 1007 "$MNT/clone"
local_err 3632 "$MNT/donor/data/inside"
db_sql "$SOCK" "CREATE USER 'weak'@'localhost' IDENTIFIED BY 'weak-pw'"
printf '[client]\nsocket=%s\nuser=weak\npassword=wrong\n' "$SOCK" >"$T/bad.cnf"
rc=0
echo "CLONE LOCAL DATA DIRECTORY = '$MNT/c2'" | "$CLONEFS_BIN/clonefs" clone - --defaults-file="$T/bad.cnf" >/dev/null 2>"$T/err" || rc=$?
grep -q "^ERROR 1045 (28000): Access denied for user 'weak'@'localhost'" "$T/err" || { cat "$T/err"; t_fail "a wrong password is not 1045"; }
t_log "ok: $(head -1 "$T/err")"
CLONEFS_PASSWORD=weak-pw local_err 1227 "$MNT/c2" --socket="$SOCK" --user=weak -p
[ ! -e "$MNT/c2" ] && [ -z "$(ls -A "$MNT" | grep clonefs-partial)" ] || t_fail "a refused CLONE LOCAL left files"
t_log "PASS: CLONE LOCAL on xfs and btrfs: started, consistent, equal to the donor after replay; errors as MySQL's"
