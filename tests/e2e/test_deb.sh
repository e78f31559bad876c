#!/usr/bin/env bash
# test_deb.sh: the Debian package as a DBA installs it. `make deb` builds it (once: make rebuilds it
# only when a source changed); lintian reports no error; its control data, conffile and modes are
# what a Debian service needs (every option of clonefsd --help in the conffile); clonefsd.service
# and the example mount unit pass systemd-analyze verify. Then, unpacked into a scratch root
# (nothing on the host changes), the unit's ExecStart line as written runs against a test donor
# with the shipped conffile (edited as a DBA would),
# tells systemd's notify socket READY=1, RELOADING=1 on SIGHUP and STOPPING=1; and the installed
# mount.clonefs and clonefs alone (PATH without the build's bin/) clone the donor, which mysqld_safe
# starts with the donor's checksums.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
top=$(cd "$here/../.." && pwd)

T=$(t_tmpdir)
t_log "make deb"
make -s -C "$top" deb >"$T/make.log" 2>&1 || { cat "$T/make.log"; t_fail "make deb failed"; }
debs=("$top"/build/deb/clonefs_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || t_fail "make deb left ${#debs[@]} packages in build/deb: ${debs[*]}"
DEB=${debs[0]}
t_log "$(basename "$DEB"): $(stat -c %s "$DEB") bytes"

t_log "lintian: no error"
lintian --allow-root "$DEB" >"$T/lintian" 2>&1 || true
sed 's/^/   /' "$T/lintian"
grep -q '^E: ' "$T/lintian" && t_fail "lintian reports errors"

t_log "control data: Depends from shlibs plus fuse3, Recommends mariadb-backup, the conffile"
dep=$(dpkg-deb -f "$DEB" Depends)
for d in libc6 libfuse3-3 libmariadb3 libssl3 libzstd1 libsystemd0 fuse3; do
	[[ ", $dep," == *", $d"[\ ,]* ]] || t_fail "Depends lacks $d: $dep"
done
[ "$(dpkg-deb -f "$DEB" Recommends)" = mariadb-backup ] || t_fail "Recommends is not mariadb-backup"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | grep -qx /etc/clonefs/clonefsd.conf ||
	t_fail "/etc/clonefs/clonefsd.conf is not a conffile"
dpkg-deb -c "$DEB" >"$T/contents"
for f in ./usr/sbin/clonefsd ./sbin/mount.clonefs ./usr/bin/clonefs ./lib/systemd/system/clonefsd.service \
	 ./usr/share/man/man8/clonefsd.8.gz ./usr/share/man/man8/mount.clonefs.8.gz ./usr/share/man/man1/clonefs.1.gz \
	 ./usr/share/doc/clonefs/examples/mnt-donor.mount; do
	grep -q " $f\$" "$T/contents" || t_fail "the package lacks $f"
done
grep -q ' \./usr/sbin/mount\.clonefs$' "$T/contents" && t_fail "mount.clonefs in both /sbin and /usr/sbin (the same file on merged /usr)"
for d in var/lib/clonefs var/cache/clonefs; do
	grep -q "^drwx------ root/root .* \./$d/\$" "$T/contents" || t_fail "/$d is not root's with mode 0700"
done

t_log "unpacked into a scratch root"
R=$T/root
dpkg -x "$DEB" "$R"
unit=$R/lib/systemd/system/clonefsd.service
grep -q '^Type=notify$' "$unit" || t_fail "clonefsd.service is not Type=notify"
for k in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes Restart=on-failure 'ReadWritePaths=/var/lib/clonefs'; do
	grep -q "^$k\$" "$unit" || t_fail "clonefsd.service lacks $k"
done
grep -q '^CapabilityBoundingSet=CAP_' "$unit" || t_fail "clonefsd.service has no CapabilityBoundingSet"

t_log "systemd-analyze verify (the unit with its binary in the scratch root; the mount unit as shipped)"
mkdir -p "$T/units"
sed "s|/usr/sbin/clonefsd|$R/usr/sbin/clonefsd|" "$unit" >"$T/units/clonefsd.service"
cp "$R/usr/share/doc/clonefs/examples/mnt-donor.mount" "$T/units/"
for u in clonefsd.service mnt-donor.mount; do
	systemd-analyze verify --man=no "$T/units/$u" >"$T/verify" 2>&1 || { cat "$T/verify"; t_fail "systemd-analyze verify $u failed"; }
	[ ! -s "$T/verify" ] || { cat "$T/verify"; t_fail "systemd-analyze verify $u has something to say"; }
done

t_log "a donor, and the unit's ExecStart line as written with the shipped conffile"
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 5
cfs_make_clone_user "$DONOR_SOCK" cloner 'pw-deb'
tls_make "$T/tls"
PORT=$(t_free_port)
MPORT=$(t_free_port)
sed -e "s|^socket = .*|socket = $DONOR_SOCK|" -e "s|^#listen = .*|listen = 127.0.0.1:$PORT|" \
    -e "s|^#state_dir = .*|state_dir = $T/state|" -e "s|^#snapshot_method = .*|snapshot_method = mariabackup|" \
    -e "s|^#ssl_cert = .*|ssl_cert = $T/tls/server.pem|" -e "s|^#ssl_key = .*|ssl_key = $T/tls/server-key.pem|" \
    -e "s|^#metrics = .*|metrics = 127.0.0.1:$MPORT|" "$R/etc/clonefs/clonefsd.conf" >"$T/clonefsd.conf"
[ "$(grep -cvE '^(#|\[|$)' "$R/etc/clonefs/clonefsd.conf")" = 1 ] || t_fail "the shipped conffile sets more than socket"
[ "$(grep -cvE '^(#|\[|$)' "$T/clonefsd.conf")" = 7 ] || t_fail "the shipped conffile lacks a commented option line"
# Every option of clonefsd --help is in the conffile, commented with its default (or set).
"$R/usr/sbin/clonefsd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u |
	grep -vxE -- '--(defaults-file|explain-methods|help|version)' >"$T/options"
while read -r o; do
	n=${o#--}
	grep -qE "^#?${n//-/_} = " "$R/etc/clonefs/clonefsd.conf" ||
		t_fail "clonefsd $o is not in /etc/clonefs/clonefsd.conf: add it to debian/clonefsd.conf, commented, with its default"
done <"$T/options"
[ "$(wc -l <"$T/options")" -ge 18 ] || t_fail "only $(wc -l <"$T/options") options found in clonefsd --help"
export PATH="$R/usr/bin:$R/usr/sbin:$R/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
[ "$(command -v clonefs)" = "$R/usr/bin/clonefs" ] && [ "$(command -v mount.clonefs)" = "$R/sbin/mount.clonefs" ] ||
	t_fail "PATH finds $(command -v clonefs) and $(command -v mount.clonefs)"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -ra cmd <<<"$exec_start"
cmd[0]=$R${cmd[0]}
# systemd's side of Type=notify: a datagram socket whose messages are kept one per line.
/usr/bin/python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a', buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace('\n', ' ') + '\n')
PY
npid=$!
t_on_exit "kill $npid 2>/dev/null || true"
t_wait_for "[ -S '$T/notify.sock' ]" 10 || t_fail "no notify socket"
t_log "${cmd[*]} --defaults-file=$T/clonefsd.conf"
NOTIFY_SOCKET=$T/notify.sock "${cmd[@]}" --defaults-file="$T/clonefsd.conf" >"$T/clonefsd.log" 2>&1 &
dpid=$!
t_on_exit "kill $dpid 2>/dev/null; wait $dpid 2>/dev/null || true"
t_wait_for "grep -q '^READY=1' '$T/notify.log'" 30 || { cat "$T/clonefsd.log"; t_fail "clonefsd did not notify READY=1"; }
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || t_fail "READY=1 before clonefsd listens on $PORT"
grep -q "^READY=1 STATUS=listening on 127.0.0.1:$PORT, method mariabackup, TLS offered\$" "$T/notify.log" ||
	{ cat "$T/notify.log"; t_fail "no STATUS= for systemctl status with READY=1"; }
kill -HUP "$dpid"
t_wait_for "grep -q '^RELOADING=1' '$T/notify.log' && [ \$(grep -c '^READY=1' '$T/notify.log') = 2 ]" 20 ||
	{ cat "$T/notify.log"; t_fail "SIGHUP did not notify RELOADING=1 then READY=1"; }

t_log "clone with the installed binaries: mount.clonefs, clonefs materialize, mysqld_safe"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='pw-deb' mount.clonefs "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
clonefs materialize "$T/mnt" "$T/clone" --owner=mysql --no-progress
fusermount3 -u "$T/mnt"
/usr/bin/python3 "$here/../lib/prom.py" scrape "http://127.0.0.1:$MPORT/metrics" "$T/m.json"
served=$(/usr/bin/python3 "$here/../lib/prom.py" get "$T/m.json" clonefsd_served_bytes_total method=mariabackup)
[ "$served" -gt 0 ] || t_fail "the installed clonefsd's metrics show nothing served"
db_start_safe "$T/clone" "$T/clone-run"
diff <(db_checksums "$DONOR_SOCK") <(db_checksums "$T/clone-run/mysql.sock") >"$T/diff" ||
	{ cat "$T/diff"; t_fail "the clone made by the installed binaries differs from the donor"; }
kill "$dpid"
t_wait_for "! kill -0 $dpid 2>/dev/null" 30 || t_fail "clonefsd did not stop on SIGTERM"
grep -q '^STOPPING=1' "$T/notify.log" || t_fail "clonefsd did not notify STOPPING=1"
t_log "PASS: $(basename "$DEB") is lintian-clean, its units verify, and its binaries alone clone the donor ($(db_checksums "$DONOR_SOCK" | wc -l) checksums equal)"
