#!/usr/bin/env bash
# test_donor_grants.sh: the donor's server judges each recipient's account by the recipient's real
# address (clonefsd's logins carry it in a PROXY protocol header), as it would a direct login, with
# two loopback sources (mount.clonefs -o bind_address=): 'u'@'127.0.0.2' clones from 127.0.0.2
# (mariabackup logging in as 'u' through clonefsd's relay) and is refused from 127.0.0.1;
# 'cloner'@'localhost' is taken from 127.0.0.1 (the server names 127.0.0.1 'localhost') and refused
# from 127.0.0.2; with skip_name_resolve it is refused from 127.0.0.1 too, while '127.0.0.%' and
# net/mask accounts are taken. A server without proxy_protocol_networks stops clonefsd at start with
# one line naming it, unless --proxy-protocol=off (then every recipient is 'user'@'localhost').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
# Refused logins and snapshots are what this test provokes.
t_log_expect "authentication of '[a-z]*' refused: ERROR 1045 "
t_log_expect "snapshot 'no-such-snapshot' for '[a-z]*' refused: ERROR 7005 "

T=$(t_tmpdir)
tls_make "$T/tls"
GRANT="RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SELECT ON *.*"

db_start "$T/donor"
SOCK="$T/donor/mysql.sock"
db_load_sample "$SOCK" 1
db_sql "$SOCK" "CREATE USER 'u'@'127.0.0.2' IDENTIFIED BY 'u-pw'; GRANT $GRANT TO 'u'@'127.0.0.2'"
cfs_make_clone_user "$SOCK" cloner pw localhost

# donor NAME SOCK [clonefsd options...]: clonefsd with TLS on a free port (sets PORT).
donor() {
	local name=$1 sock=$2
	shift 2
	PORT=$(t_free_port)
	cfs_start_donor "$T/$name" "$PORT" "$sock" "$T/donor/data" --ssl-cert="$T/tls/server.pem" \
		--ssl-key="$T/tls/server-key.pem" "$@"
}

# try USER PASSWORD SOURCE SNAPSHOT: mount as USER from SOURCE; 0 when mounted (then unmounted), else
# the error line in $T/err.
try() {
	local user=$1 pw=$2 src=$3 snap=$4 rc=0
	mkdir -p "$T/mnt"
	CLONEFS_PASSWORD=$pw "$CLONEFS_BIN/mount.clonefs" "$user@127.0.0.1:$PORT" "$T/mnt" \
		-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache-$user-$src,prefetch=off,bind_address=$src,snapshot=$snap" \
		>/dev/null 2>"$T/err" || rc=$?
	[ $rc = 0 ] || return 1
	[ -d "$T/mnt/sample" ] || { fusermount3 -u "$T/mnt"; t_fail "$user from $src: mounted without the sample schema"; }
	ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/mnt/.clonefs/status")
	fusermount3 -u "$T/mnt"
}

# refused USER PASSWORD SOURCE MESSAGE: one line, ERROR 1045 with the server's words.
refused() {
	if try "$1" "$2" "$3" "${ID:-new}"; then t_fail "$1 from $3 was let in"; fi
	cfs_assert_one_error "$T/err" 1045
	grep -qF "$4" "$T/err" || { cat "$T/err"; t_fail "$1 from $3: expected '$4'"; }
	t_log "$1 from $3: $(cat "$T/err")"
}

t_log "server with name resolution (the default)"
donor a "$SOCK"
try u u-pw 127.0.0.2 new || { cat "$T/err" "$T/a/clonefsd.log"; t_fail "'u'@'127.0.0.2' cannot clone from 127.0.0.2"; }
grep -q "snapshot $ID: making it with mariabackup as 'u' from 127.0.0.2" "$T/a/clonefsd.log" || t_fail "the snapshot was not made by mariabackup as 'u'"
t_log "u from 127.0.0.2: snapshot $ID made by mariabackup logged in as 'u'@'127.0.0.2'"
refused u u-pw 127.0.0.1 "Access denied for user 'u'@'localhost' (using password: YES)"
try cloner pw 127.0.0.1 "$ID" || { cat "$T/err"; t_fail "'cloner'@'localhost' cannot mount from 127.0.0.1"; }
refused cloner pw 127.0.0.2 "Access denied for user 'cloner'@'127.0.0.2' (using password: YES)"

t_log "server with skip_name_resolve and no proxy_protocol_networks"
db_start "$T/s2" --skip-name-resolve --proxy-protocol-networks=
S2="$T/s2/mysql.sock"
rc=0
timeout 60 "$CLONEFS_BIN/clonefsd" --listen="127.0.0.1:$(t_free_port)" --socket="$S2" --state-dir="$T/refused" \
	--foreground >"$T/refused.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$T/refused.out"; t_fail "clonefsd started (exit $rc) though the server refuses PROXY headers"; }
cfs_assert_one_error "$T/refused.out" 3862
grep -q "proxy_protocol_networks=localhost under \[mariadbd\]" "$T/refused.out" || t_fail "the error does not say what to configure"
t_log "refused at start: $(cat "$T/refused.out")"

donor off "$S2" --proxy-protocol=off --snapshot-method=dir
grep -q "warning: --proxy-protocol=off" "$T/off/clonefsd.log" || t_fail "--proxy-protocol=off is not warned about"
db_sql "$S2" "CREATE USER 'cloner'@'localhost' IDENTIFIED BY 'pw'; GRANT $GRANT TO 'cloner'@'localhost';
	CREATE USER 'w'@'127.0.0.%' IDENTIFIED BY 'w-pw'; GRANT $GRANT TO 'w'@'127.0.0.%';
	CREATE USER 'n'@'127.0.0.0/255.255.255.0' IDENTIFIED BY 'n-pw'; GRANT $GRANT TO 'n'@'127.0.0.0/255.255.255.0'"
# Past authentication, the snapshot is unknown: 7005 (not 1045) says the account was taken.
passed_auth() {
	if try "$1" "$2" "$3" no-such-snapshot; then t_fail "snapshot no-such-snapshot was mounted"; fi
	cfs_assert_one_error "$T/err" 7005
}
passed_auth cloner pw 127.0.0.2
t_log "--proxy-protocol=off: 'cloner'@'localhost' is taken from 127.0.0.2, as documented"

db_sql "$S2" "SET GLOBAL proxy_protocol_networks='localhost'"
donor b "$S2" --snapshot-method=dir
refused cloner pw 127.0.0.1 "Access denied for user 'cloner'@'127.0.0.1' (using password: YES)"
grep -q "account cloner@localhost matched only by the name 'localhost'" "$T/b/clonefsd.log" ||
	{ cat "$T/b/clonefsd.log"; t_fail "the refusal of a 'localhost' account is not explained in the log"; }
passed_auth w w-pw 127.0.0.2
passed_auth n n-pw 127.0.0.2
refused w wrong 127.0.0.2 "Access denied for user 'w'@'127.0.0.2' (using password: YES)"
t_log "skip_name_resolve: '127.0.0.%' and net/mask accounts taken, 'localhost' refused over the network"
echo "PASS"
