#!/usr/bin/env bash
# demo_store.sh: `make demo-store`: the object-store tier end to end on throwaway parts: a MariaDB
# donor with sample data behind clonefsd over TLS, a single-node Ceph with radosgw (S3) on loopback,
# `clonefs publish` of a snapshot taken under a write load, clonefsd stopped, a mount from the store,
# a materialized clone, mysqld_safe on it, and CHECKSUM TABLE of donor and clone side by side.
# Cleans up after itself, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/lib/e2e.sh"
. "$here/lib/ceph.sh"
. "$here/lib/demo.sh"
DEMO_NAME=demo-store
command -v radosgw >/dev/null || t_fail "radosgw is not installed (make deps installs ceph-mon, ceph-osd, radosgw)"

T=$(t_tmpdir)
demo_donor_up "$T"

step "Starting a single-node Ceph on loopback: one monitor, one OSD on memstore (RAM), radosgw"
ceph_up "$T/ceph"
echo "radosgw (S3) at $RGW_URL; AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
openssl rand -hex 32 >"$T/store.key"
chmod 600 "$T/store.key"
S3=s3://clonefs-demo/prod
echo "store key (chunks are encrypted with it; without it nothing in the store can be read): $T/store.key"

step "Writing to the donor while the snapshot is taken"
db_write_load_start "$DONOR_SOCK"
step "clonefs publish cloner@127.0.0.1:$PORT $S3 -o ssl_mode=required,ssl_ca=ca.pem,store_key_file=store.key"
CLONEFS_PASSWORD='demo-password' "$CLONEFS_BIN/clonefs" publish "cloner@127.0.0.1:$PORT" "$S3" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,store_key_file=$T/store.key" | tee "$T/publish.out"
db_write_load_stop
ID=$(sed -n 's/^published snapshot \([^ ]*\) to .*/\1/p' "$T/publish.out")
[ -n "$ID" ] || t_fail "clonefs publish did not name the snapshot it published"

step "clonefs store list $S3"
"$CLONEFS_BIN/clonefs" store list "$S3" -o "store_key_file=$T/store.key"

step "Stopping clonefsd: from here on the donor host is not involved"
kill "$CFS_DONOR_PID"
wait "$CFS_DONOR_PID" 2>/dev/null || true
! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || t_fail "clonefsd still answers on port $PORT"
echo "clonefsd (pid $CFS_DONOR_PID) stopped; nothing listens on 127.0.0.1:$PORT"

step "mount.clonefs $S3/$ID $T/mnt -o store_key_file=store.key"
mkdir -p "$T/mnt"
"$CLONEFS_BIN/mount.clonefs" "$S3/$ID" "$T/mnt" -o "store_key_file=$T/store.key,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
demo_finish "$T"
