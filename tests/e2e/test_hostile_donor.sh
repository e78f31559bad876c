#!/usr/bin/env bash
# test_hostile_donor.sh: a donor that lies. Each bad manifest is rejected before anything is mounted
# (ERROR 7000, one line, exit 1); each bad chunk (wrong digest, zstd bomb, oversized, wrong index)
# fails the read with EIO, is never cached, and the mount keeps working; a peer that is not clonefsd
# is ERROR 3863; a 1 GiB frame header is refused without allocating it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"
mkdir -p "$T/mnt"

start_hostile() {
	HPORT=$(t_free_port)
	# A log per mode: the previous one says "ready" until this one's redirection truncates it.
	python3 "$here/../lib/hostile_donor.py" --port "$HPORT" --mode "$1" --pem "$T/pub.pem" >"$T/hostile.$1.log" 2>&1 &
	HPID=$!
	t_wait_for "grep -q ready '$T/hostile.$1.log'" 10 || t_fail "hostile donor did not start"
}
stop_hostile() { kill "$HPID" 2>/dev/null || true; wait "$HPID" 2>/dev/null || true; }
t_on_exit "stop_hostile"

mount_hostile() {
	CLONEFS_PASSWORD=x timeout 60 "$CLONEFS_BIN/mount.clonefs" "u@127.0.0.1:$HPORT" "$T/mnt" \
		-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache,network_timeout=2" 2>"$T/err" >/dev/null
}

for mode in dotdot absolute duplicate symlink_out nul no_parent count_lie size_lie huge_frame not_clonefs; do
	start_hostile "$mode"
	rc=0; mount_hostile || rc=$?
	stop_hostile
	[ $rc = 1 ] || { cat "$T/err"; t_fail "$mode: mount exited $rc, expected 1"; }
	code=7000; [ "$mode" = not_clonefs ] && code=3863
	cfs_assert_one_error "$T/err" "$code"
	mountpoint -q "$T/mnt" && t_fail "$mode: something got mounted"
	[ -z "$(find "$T/cache" -path '*/data/*' -type f 2>/dev/null)" ] || t_fail "$mode: data written to the cache"
	t_log "ok $mode: $(cat "$T/err")"
done

for spec in bad_digest:7002 bomb:7000 oversize_chunk:7000 wrong_index:7000; do
	mode=${spec%:*} code=${spec#*:}
	start_hostile "$mode"
	mount_hostile || { cat "$T/err"; t_fail "$mode: the manifest is fine, the mount should succeed"; }
	rc=0; cat "$T/mnt/db/t.ibd" >/dev/null 2>"$T/readerr" || rc=$?
	[ $rc != 0 ] && grep -q "Input/output error" "$T/readerr" || t_fail "$mode: reading a bad chunk did not fail with EIO"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["chunks_cached"]==0, d; assert d["last_error"].startswith("ERROR "+sys.argv[3]), d["last_error"]; print("ok", sys.argv[2], "->", d["last_error"])' \
		"$T/mnt/.clonefs/status" "$mode" "$code" || t_fail "$mode: wrong or missing error in the status"
	fusermount3 -u "$T/mnt"
	stop_hostile
	rm -rf "$T/cache"
done
t_log "PASS: every hostile manifest and chunk was refused, nothing bad was cached or shown"
