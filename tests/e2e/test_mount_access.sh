#!/usr/bin/env bash
# test_mount_access.sh: a mount is the mounting user's, as sshfs's is: another local user (nobody)
# can neither list it nor read its status; with -o allow_other that user sees the data as the
# donor's file modes allow (a 0644 file yes, a 0600 one no), and /.clonefs/ (donor host, binlog
# position, cache path) still not; root's clonefs status and materialize work either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
db_start "$T/donor"
SOCK="$T/donor/mysql.sock"
cfs_make_clone_user "$SOCK" cloner pw
# A cold tree served as it is (--snapshot-method=dir), with the modes the test needs.
mkdir -p "$T/cold/pub" "$T/cold/priv"
echo "public bytes" >"$T/cold/pub/t.ibd"
echo "private bytes" >"$T/cold/priv/x.ibd"
chmod 755 "$T/cold/pub"
chmod 644 "$T/cold/pub/t.ibd"
chmod 700 "$T/cold/priv"
chmod 600 "$T/cold/priv/x.ibd"
PORT=$(t_free_port)
cfs_start_donor "$T/d" "$PORT" "$SOCK" "$T/cold" --snapshot-method=dir
mkdir -p "$T/mnt"
chmod 755 "$T/mnt"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
mnt() { CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" -o "prefetch=off,cache_dir=$T/cache${1:+,$1}" 2>/dev/null; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
refused() { # WHAT CMD...: nobody's CMD must fail
	local what=$1
	shift
	as_nobody "$@" >/dev/null 2>"$T/err" && t_fail "nobody could $what"
	t_log "ok, nobody cannot $what: $(head -1 "$T/err")"
}
root_works() {
	"$CLONEFS_BIN/clonefs" status "$T/mnt" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["snapshot_id"], d' ||
		t_fail "root's clonefs status does not read the mount"
	cmp -s "$T/mnt/priv/x.ibd" "$T/cold/priv/x.ibd" || t_fail "root does not read a 0600 file"
}

t_log "by default the mount is root's alone (root mounted it)"
mnt ""
findmnt -n -o OPTIONS "$T/mnt" | grep -qw allow_other && t_fail "allow_other without asking: $(findmnt -n -o OPTIONS "$T/mnt")"
refused "list the mount" ls "$T/mnt"
refused "read a 0644 data file" cat "$T/mnt/pub/t.ibd"
refused "read the status" cat "$T/mnt/.clonefs/status"
refused "run clonefs status" "$CLONEFS_BIN/clonefs" status "$T/mnt"
root_works
"$CLONEFS_BIN/clonefs" materialize "$T/mnt" "$T/copy" --owner=mysql --no-progress >/dev/null ||
	t_fail "root's materialize failed on a mount of its own"
cmp -s "$T/copy/pub/t.ibd" "$T/cold/pub/t.ibd" || t_fail "materialize copied something else"
fusermount3 -u "$T/mnt"

t_log "-o allow_other: other users as the donor's modes allow, never /.clonefs/"
mnt "allow_other"
findmnt -n -o OPTIONS "$T/mnt" | grep -qw allow_other || t_fail "allow_other was asked for: $(findmnt -n -o OPTIONS "$T/mnt")"
as_nobody ls -a "$T/mnt" | grep -qx pub || t_fail "nobody cannot list an allow_other mount"
[ "$(as_nobody cat "$T/mnt/pub/t.ibd")" = "public bytes" ] || t_fail "nobody cannot read a 0644 file with allow_other"
refused "read a 0600 data file" cat "$T/mnt/priv/x.ibd"
refused "list /.clonefs/" ls "$T/mnt/.clonefs"
refused "read the status" cat "$T/mnt/.clonefs/status"
refused "read the facts" cat "$T/mnt/.clonefs/facts"
refused "run clonefs status" "$CLONEFS_BIN/clonefs" status "$T/mnt"
root_works
t_log "PASS: only the mounting user by default; with allow_other, the data by its modes and never the status"
