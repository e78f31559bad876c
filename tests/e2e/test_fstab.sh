#!/usr/bin/env bash
# test_fstab.sh: clonefs mounts as a DBA's tools expect: `mount -t clonefs` finds /sbin/mount.clonefs
# (what make install links), an /etc/fstab-style entry mounts by its mount point with mount(8)'s
# generic options (ro, _netdev, noatime) accepted, findmnt shows it read-only, and umount ends it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
tls_make "$T/tls"
cfs_donor_up "$T" 3 'pw' --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
printf 'pw\n' >"$T/pw"
chmod 600 "$T/pw"
mkdir -p "$T/mnt"

# mount(8) runs /sbin/mount.<type>; make install links it. Link this build's if none is there.
if [ ! -e /sbin/mount.clonefs ]; then
	ln -s "$CLONEFS_BIN/mount.clonefs" /sbin/mount.clonefs
	t_on_exit "rm -f /sbin/mount.clonefs"
elif [ "$(readlink -f /sbin/mount.clonefs)" != "$(readlink -f "$CLONEFS_BIN/mount.clonefs")" ]; then
	t_skip "/sbin/mount.clonefs is another build ($(readlink -f /sbin/mount.clonefs)): not replacing it"
fi
t_on_exit "umount '$T/mnt' 2>/dev/null || true"
opts="password_file=$T/pw,ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache,prefetch=off"

t_log "mount -t clonefs"
mount -t clonefs -o "ro,noatime,$opts" "cloner@127.0.0.1:$PORT" "$T/mnt" || t_fail "mount -t clonefs failed"
[ -d "$T/mnt/sample" ] && [ -s "$T/mnt/ibdata1" ] || t_fail "the donor's tree is not under the mount point"
findmnt -n -o FSTYPE,OPTIONS "$T/mnt" | tee "$T/findmnt"
grep -q '^fuse.clonefs ' "$T/findmnt" || t_fail "findmnt does not show fuse.clonefs"
grep -qw ro "$T/findmnt" || t_fail "the mount is not read-only"
umount "$T/mnt"
mountpoint -q "$T/mnt" && t_fail "umount left it mounted"

t_log "an fstab entry, mounted by its mount point"
printf '# donor snapshot\ncloner@127.0.0.1:%s %s clonefs ro,_netdev,noauto,%s 0 0\n' "$PORT" "$T/mnt" "$opts" >"$T/fstab"
mount -T "$T/fstab" "$T/mnt" || t_fail "mount from the fstab entry failed"
mountpoint -q "$T/mnt" || t_fail "the fstab entry did not mount"
cmp "$T/mnt/sample/db.opt" "$T/donor/data/sample/db.opt" || t_fail "a file read through the fstab mount differs"
# The entry's options reached the mount: prefetch=off is lazy (nothing hydrates), ssl_mode=required
# is on TLS; clonefs status reads it, as JSON and as its lines.
"$CLONEFS_BIN/clonefs" status "$T/mnt" --json >"$T/status.json" || t_fail "clonefs status --json failed on the fstab mount"
state=$(cfs_status_field "$T/status.json" state)
[ "$state" = lazy ] || t_fail "the fstab mount (prefetch=off) is in state '$state', expected lazy"
[ "$(cfs_status_field "$T/status.json" ssl_mode)" = required ] && [[ $(cfs_status_field "$T/status.json" tls) == TLS* ]] ||
	t_fail "the fstab mount is not on TLS with ssl_mode=required: $(cat "$T/status.json")"
"$CLONEFS_BIN/clonefs" status "$T/mnt" | grep -q '^state      lazy ' || t_fail "clonefs status does not show the state lazy"
umount "$T/mnt"
t_log "PASS: mount -t clonefs and an fstab entry both mount, read-only; umount ends them"
