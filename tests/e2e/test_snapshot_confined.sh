#!/usr/bin/env bash
# test_snapshot_confined.sh: a snapshot never serves a byte from outside the donor's datadir,
# whatever the method (mariabackup, dir, btrfs): a table file that is a symlink to a secret outside
# (mariabackup, as root, copies what it points to), a database directory that is a symlink to a
# directory outside, a hard link to a file outside, and an .isl naming a file that is no tablespace
# are left out and logged; files hard-linked only to each other inside the datadir, and ordinary
# files, are served.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf '$T'"
tls_make "$T/tls"
SECRET="CLONEFS-SECRET-$$-$RANDOM"

# The donor on btrfs when this host can loop-mount one (the btrfs case needs it), else in $T.
BASE="$T"
if command -v mkfs.btrfs >/dev/null && truncate -s 400M "$T/btrfs.img" && mkfs.btrfs -q "$T/btrfs.img" >/dev/null 2>&1 &&
	LOOP=$(losetup --find --show "$T/btrfs.img" 2>/dev/null); then
	t_on_exit "losetup -d '$LOOP'"
	mkdir -p "$T/btrfs"
	if mount -t btrfs "$LOOP" "$T/btrfs" 2>/dev/null; then
		t_on_exit "umount '$T/btrfs' || umount -l '$T/btrfs'"
		chmod 755 "$T/btrfs"
		btrfs -q subvolume create "$T/btrfs/sub" >/dev/null
		chmod 755 "$T/btrfs/sub"
		BASE="$T/btrfs/sub"
	fi
fi

db_start "$BASE/donor"
DONOR_SOCK="$BASE/donor/mysql.sock"
DATA="$BASE/donor/data"
db_load_sample "$DONOR_SOCK" 1
cfs_make_clone_user "$DONOR_SOCK" cloner pw
db_sql "$DONOR_SOCK" "CREATE DATABASE bars; CREATE TABLE bars.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO bars.t VALUES (1)"

# plant DIR: what a hostile hand (the mysql user, say) leaves in a datadir DIR; the secrets lie in
# the same filesystem and subvolume as DIR, outside it.
plant() {
	local dir=$1 out
	out=$(dirname "$dir")/outside
	mkdir -p "$out/db" "$dir/bars"
	echo "$SECRET symlinked" >"$out/secret"
	echo "$SECRET hard-linked" >"$out/secret-hl"
	echo "$SECRET in a symlinked database" >"$out/db/x.frm"
	ln -sf "$out/secret" "$dir/bars/evil.frm"
	ln -f "$out/secret-hl" "$dir/bars/hard.frm"
	ln -sfn "$out/db" "$dir/evil_db"
	echo "good" >"$dir/bars/good.frm"
	echo "linked inside" >"$dir/bars/in1.frm"
	ln -f "$dir/bars/in1.frm" "$dir/bars/in2.frm"
	echo "read later" >"$dir/bars/later.frm"
}
plant "$DATA"
chown -R mysql:mysql "$DATA/bars"

# A cold datadir for the dir method (it refuses the running server's): the same plants, and an .isl
# naming the secret as if it were a tablespace.
COLD="$T/cold/data"
mkdir -p "$COLD"
plant "$COLD"
echo "$T/cold/outside/secret" >"$COLD/bars/fake.isl"
echo "sibling" >"$COLD/bars/fake.ibd"

# check METHOD DATADIR [clonefsd options...]: mount a new snapshot taken with METHOD and look.
check() {
	local method=$1 datadir=$2 port d="$T/$1"
	shift 2
	port=$(t_free_port)
	mkdir -p "$d"
	cfs_start_donor "$d" "$port" "$DONOR_SOCK" "$datadir" --snapshot-method="$method" \
		--ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem" "$@"
	mkdir -p "$d/mnt"
	CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$port" "$d/mnt" \
		-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$d/cache,prefetch=off" ||
		{ cat "$d/clonefsd.log"; t_fail "$method: mount failed"; }
	t_on_exit "fusermount3 -u '$d/mnt' 2>/dev/null || true"
	local m="$d/mnt"
	ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$m/.clonefs/status")
	[ "$(cat "$m/bars/good.frm")" = good ] || t_fail "$method: bars/good.frm is not served as it is"
	[ "$(cat "$m/bars/in1.frm")" = "linked inside" ] && [ "$(cat "$m/bars/in2.frm")" = "linked inside" ] ||
		t_fail "$method: two files hard-linked to each other inside the datadir are not both served"
	for p in bars/evil.frm bars/hard.frm evil_db evil_db/x.frm; do
		if [ -e "$m/$p" ] || [ -L "$m/$p" ]; then
			ls -la "$m/bars"
			t_fail "$method: $p is served"
		fi
	done
	if grep -rqs -- "$SECRET" "$m"; then
		grep -rls -- "$SECRET" "$m" || true
		t_fail "$method: the mount holds bytes of a file outside the datadir"
	fi
	grep -q "bars/hard.frm is a hard link (2 links, 1 of them in the snapshot) to a file outside the datadir; left out" \
		"$d/clonefsd.log" || { cat "$d/clonefsd.log"; t_fail "$method: the hard link left out is not logged"; }
	fusermount3 -u "$m"
	t_log "$method: nothing from outside the datadir is served"
}

check mariabackup "$DATA"
grep -q "bars/evil.frm leads through a symlink in the datadir to '$BASE/donor/outside/secret', outside .*; what mariabackup copied from there is left out" \
	"$T/mariabackup/clonefsd.log" || { cat "$T/mariabackup/clonefsd.log"; t_fail "the symlinked file left out is not logged"; }

check dir "$COLD"
grep -q "bars/fake.isl names '$T/cold/outside/secret', not an .ibd file: not a tablespace the server declared; left out" \
	"$T/dir/clonefsd.log" || { cat "$T/dir/clonefsd.log"; t_fail "the .isl naming no tablespace is not logged"; }
ls "$T/dir/mnt/.external" >/dev/null 2>&1 && t_fail "dir: an .external tree is served"
# The dir method serves a live directory: a database directory swapped for a symlink after the
# snapshot was listed must not lead a read of a listed file out of it.
mv "$COLD/bars" "$COLD/bars.real"
mkdir -p "$T/cold/outside2"
echo "$SECRET behind a swapped directory" >"$T/cold/outside2/later.frm"
ln -s "$T/cold/outside2" "$COLD/bars"
CLONEFS_PASSWORD=pw "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/dir/clonefsd.log")" \
	"$T/dir/mnt" -o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/dir/cache2,prefetch=off,snapshot=$ID"
if got=$(cat "$T/dir/mnt/bars/later.frm" 2>/dev/null); then
	fusermount3 -u "$T/dir/mnt"
	t_fail "dir: bars/later.frm read through a directory swapped for a symlink: '$got'"
fi
fusermount3 -u "$T/dir/mnt"
t_log "dir: a directory swapped for a symlink after the snapshot is not followed"

if [ "$BASE" != "$T" ]; then
	check btrfs "$DATA" --state-dir="$T/btrfs/state"
else
	t_log "btrfs: no loop-mounted btrfs on this host; case skipped"
fi
echo "PASS"
