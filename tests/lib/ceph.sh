# ceph.sh: a throwaway single-node Ceph on loopback for the object-store tests and demo: one
# monitor, one OSD on memstore (RAM, nothing on disk), one radosgw (S3 on 127.0.0.1). Sourced
# after common.sh. ceph_up DIR starts it (about 10 s) and exports AWS_* for it; ceph_down stops it.
# CEPH_MEMSTORE_BYTES (default 2 GiB) is the OSD's capacity: what the store may hold, all of it in RAM.

# ceph_up DIR: CEPH_DIR, RGW_PORT, RGW_URL and the AWS_* variables of a user that owns its buckets.
ceph_up() {
	CEPH_DIR=$1
	mkdir -p "$CEPH_DIR"/{mon,osd,rgw,run}
	local monport fsid
	monport=$(t_free_port)
	RGW_PORT=$(t_free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$CEPH_DIR/ceph.conf" <<EOC
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
ms service mode = crc secure
ms cluster mode = crc secure
ms mon service mode = crc secure
ms mon cluster mode = crc secure
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
osd crush chooseleaf type = 0
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/\$name.log
pid file = $CEPH_DIR/run/\$name.pid
mon data = $CEPH_DIR/mon
osd data = $CEPH_DIR/osd
keyring = $CEPH_DIR/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $CEPH_DIR/rgw
EOC
	export CEPH_CONF=$CEPH_DIR/ceph.conf
	t_on_exit "ceph_down"
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$CEPH_DIR/monmap" >/dev/null
	ceph-mon -i a --mkfs --monmap "$CEPH_DIR/monmap" >/dev/null 2>&1 || t_fail "ceph-mon --mkfs failed"
	ceph-mon -i a || t_fail "ceph-mon did not start"
	local id
	id=$(timeout 30 ceph osd create) || t_fail "ceph osd create failed (monitor not answering)"
	ceph-osd -i "$id" --mkfs >/dev/null 2>&1 || t_fail "ceph-osd --mkfs failed"
	timeout 30 ceph osd crush add "osd.$id" 1 host=localhost root=default >/dev/null 2>&1 || true
	ceph-osd -i "$id" 2>/dev/null || t_fail "ceph-osd did not start"
	rgw_start
	timeout 30 radosgw-admin user create --uid=clonefs-test --display-name=clonefs-test \
		--access-key=CLONEFSTESTKEY --secret=clonefs-test-secret >/dev/null || t_fail "radosgw-admin user create failed"
	export AWS_ACCESS_KEY_ID=CLONEFSTESTKEY AWS_SECRET_ACCESS_KEY=clonefs-test-secret
	export AWS_ENDPOINT_URL=$RGW_URL AWS_REGION=us-east-1
	unset AWS_PROFILE
}

# rgw_start / rgw_kill: radosgw alone (the store's front end), for faults.
rgw_start() {
	RGW_URL=http://127.0.0.1:$RGW_PORT
	radosgw -n client.rgw 2>/dev/null || t_fail "radosgw did not start"
	t_wait_for "curl -s -o /dev/null -m 2 $RGW_URL/" 60 || t_fail "radosgw did not answer on $RGW_URL within 60 s (log: $CEPH_DIR/client.rgw.log)"
}
rgw_kill() {
	local p
	p=$(cat "$CEPH_DIR/run/client.rgw.pid" 2>/dev/null) || return 0
	kill -9 "$p" 2>/dev/null || true
	t_wait_for "! kill -0 $p 2>/dev/null" 20 || true
	rm -f "$CEPH_DIR/run/client.rgw.pid"
}

ceph_down() {
	[ -n "${CEPH_DIR:-}" ] || return 0
	local f p
	for f in "$CEPH_DIR"/run/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill -9 "$p" 2>/dev/null || true
	done
	CEPH_DIR=
}
