#!/usr/bin/env bash
# test_service.sh: clonefsd as a service. --metrics serves Prometheus text that prometheus_client's
# parser reads, and its counters move with what happens (a snapshot, bytes served, a refused login);
# the HTTP responder answers bad requests with 4xx. A mount's /.clonefs/metrics parses too and moves
# with reads (chunks fetched, cache hits, fetch latency). SIGHUP: a renewed certificate is what the
# next TLS session is shown, while the mount made before carries on and its snapshot reopens; a
# broken certificate keeps the running one; a changed option that needs a restart is logged as
# such. Every log line is key=value. A daemonized clonefsd reopens its log file on SIGHUP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
# What this test provokes: a wrong password, garbage on the port, a certificate that cannot be loaded.
t_log_expect "authentication of 'cloner' refused: ERROR 1045 "
t_log_expect "session of '' ended: read from [0-9.:]+ failed: Protocol error"
t_log_expect "event=reload_failed msg=\"certificate [^ ]+ not reloaded, the previous one stays"
PROM="/usr/bin/python3 $here/../lib/prom.py"

T=$(t_tmpdir)
tls_make "$T/tls"
mkdir -p "$T/cert"
cp "$T/tls/server.pem" "$T/tls/server-key.pem" "$T/cert/"
printf '[clonefsd]\nidle_timeout = 600\n' >"$T/clonefsd.conf"
MPORT=$(t_free_port)
cfs_donor_up "$T" 5 'pw-svc' --ssl-cert="$T/cert/server.pem" --ssl-key="$T/cert/server-key.pem" \
	--metrics="127.0.0.1:$MPORT" --defaults-file="$T/clonefsd.conf"
M="http://127.0.0.1:$MPORT/metrics"
val() { $PROM get "$@" || t_fail "no sample $2 ${*:3} in $1"; }

t_log "clonefsd --metrics before any recipient"
$PROM scrape "$M" "$T/m0.json"
s0=$(val "$T/m0.json" clonefsd_sessions_total) # the readiness probe's connection may count
[ "$(val "$T/m0.json" clonefsd_served_bytes_total method=mariabackup)" = 0 ] || t_fail "bytes served before any read"
val "$T/m0.json" clonefsd_snapshot_seconds_count >/dev/null
val "$T/m0.json" clonefsd_snapshot_lock_seconds_bucket le=+Inf >/dev/null

t_log "the responder: 405, 404, 400, 505 for what is not GET /metrics; HEAD and a query string are fine"
for c in 'POST /metrics HTTP/1.0\r\n\r\n=405' 'GET /nothing HTTP/1.0\r\n\r\n=404' 'hello\r\n\r\n=400' \
	 'GET /metrics HTTP/1.0\r\nno colon here\r\n\r\n=400' 'GET /metrics HTTP/2.0\r\n\r\n=505' \
	 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n=200' 'GET /metrics?name[]=x HTTP/1.0\n\n=200'; do
	got=$($PROM http "$MPORT" "${c%=*}")
	[ "$got" = "${c##*=}" ] || t_fail "request '${c%=*}': status $got, expected ${c##*=}"
done
head -c 6000 /dev/zero | tr '\0' 'A' >"$T/long"
[ "$($PROM http "$MPORT" "$(cat "$T/long")")" = 400 ] || t_fail "an over-long request head is not refused with 400"

t_log "a TLS mount; a read moves the donor's and the mount's counters"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='pw-svc' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,prefetch=off,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
$PROM scrape "$T/mnt/.clonefs/metrics" "$T/mm0.json"
ls "$T/mnt/.clonefs" | tr '\n' ' ' | grep -q '^facts metrics status $' || t_fail "/.clonefs lists $(ls "$T/mnt/.clonefs")"
big=$(cd "$T/mnt" && find . -name '*.ibd' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
cat "$T/mnt/$big" >/dev/null
$PROM scrape "$M" "$T/m1.json"
$PROM scrape "$T/mnt/.clonefs/metrics" "$T/mm1.json"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/mnt/.clonefs/status")
L=("snapshot=$ID" "donor=127.0.0.1:$PORT")
served=$(val "$T/m1.json" clonefsd_served_bytes_total method=mariabackup)
size=$(stat -c %s "$T/mnt/$big")
t_log "read $big ($size bytes): served $served bytes"
[ "$served" -ge "$size" ] || t_fail "clonefsd_served_bytes_total{method=mariabackup} is $served after reading $size bytes"
[ "$(val "$T/m1.json" clonefsd_snapshots_made_total method=mariabackup)" = 1 ] || t_fail "snapshots_made_total is not 1"
[ "$(val "$T/m1.json" clonefsd_snapshots)" = 1 ] || t_fail "clonefsd_snapshots is not 1"
[ "$(val "$T/m1.json" clonefsd_snapshot_seconds_count)" = 1 ] || t_fail "the snapshot's time was not observed"
[ "$(val "$T/m1.json" clonefsd_sessions)" -ge 1 ] || t_fail "no session open while mounted"
[ "$(val "$T/m1.json" clonefsd_sessions_total)" -gt "$s0" ] || t_fail "sessions_total did not move with a mount"
f0=$(val "$T/mm0.json" clonefs_chunks_fetched_total "${L[@]}")
f1=$(val "$T/mm1.json" clonefs_chunks_fetched_total "${L[@]}")
n1=$(val "$T/mm1.json" clonefs_fetch_seconds_count "${L[@]}")
inf=$(val "$T/mm1.json" clonefs_fetch_seconds_bucket "${L[@]}" le=+Inf)
t_log "mount: chunks fetched $f0 -> $f1, $n1 fetches timed"
[ "$f1" -gt "$f0" ] && [ "$n1" -ge 1 ] && [ "$inf" = "$n1" ] || t_fail "the mount's fetch counters did not move"
ratio=$(val "$T/mm1.json" clonefs_hydration_ratio "${L[@]}")
python3 -c "import sys; sys.exit(not 0 < $ratio < 1)" || t_fail "hydration ratio $ratio of a lazy mount after one file"
# Drop the file's pages from the kernel's cache: the next read reaches the mount, which finds the
# chunks in its own cache.
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$T/mnt/$big"
h1=$(val "$T/mm1.json" clonefs_cache_hits_total "${L[@]}")
cat "$T/mnt/$big" >/dev/null
$PROM scrape "$T/mnt/.clonefs/metrics" "$T/mm2.json"
h2=$(val "$T/mm2.json" clonefs_cache_hits_total "${L[@]}")
[ "$(val "$T/mm2.json" clonefs_chunks_fetched_total "${L[@]}")" = "$f1" ] || t_fail "a re-read fetched again"
[ "$h2" -gt "$h1" ] || t_fail "clonefs_cache_hits_total did not move on a re-read ($h1 -> $h2)"

t_log "a refused login is counted, with its error code"
CLONEFS_PASSWORD='wrong' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache2" 2>/dev/null && t_fail "a wrong password mounted"
$PROM scrape "$M" "$T/m2.json"
[ "$(val "$T/m2.json" clonefsd_auth_failures_total)" = 1 ] || t_fail "auth_failures_total is not 1"
[ "$(val "$T/m2.json" clonefsd_errors_total code=1045)" = 1 ] || t_fail "errors_total{code=1045} is not 1"

t_log "SIGHUP with a renewed certificate"
read -r fp0 serial0 < <($PROM donor_cert "$PORT")
want0=$(openssl x509 -in "$T/tls/server.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
[ "$fp0" = "$want0" ] || t_fail "the donor shows $fp0, not server.pem's $want0"
(
	cd "$T/tls"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout new-key.pem \
		-out new.csr 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >new.ext
	openssl x509 -req -in new.csr -CA ca.pem -CAkey ca-key.pem -set_serial 0x5EED1234 -days 2 -extfile new.ext \
		-out new.pem 2>/dev/null
)
cp "$T/tls/new-key.pem" "$T/cert/server-key.pem.tmp" && mv "$T/cert/server-key.pem.tmp" "$T/cert/server-key.pem"
cp "$T/tls/new.pem" "$T/cert/server.pem.tmp" && mv "$T/cert/server.pem.tmp" "$T/cert/server.pem"
read -r fp serial < <($PROM donor_cert "$PORT")
[ "$fp" = "$fp0" ] || t_fail "the certificate changed before SIGHUP"
sed -i 's/^idle_timeout = 600/idle_timeout = 300/' "$T/clonefsd.conf"
kill -HUP "$CFS_DONOR_PID"
t_wait_for "grep -q 'event=tls_loaded' '$T/clonefsd.log'" 20 || { cat "$T/clonefsd.log"; t_fail "no tls_loaded after SIGHUP"; }
read -r fp1 serial1 < <($PROM donor_cert "$PORT")
want1=$(openssl x509 -in "$T/tls/new.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
t_log "certificate serial $serial0 -> $serial1"
[ "$fp1" = "$want1" ] && [ "$serial1" = 5EED1234 ] || t_fail "after SIGHUP a new session is shown $fp1 ($serial1), not the renewed $want1"
grep -q "event=tls_loaded msg=\"certificate $T/cert/server.pem loaded for new connections (cert_sha256=$want1 serial=5EED1234)\"" \
	"$T/clonefsd.log" || t_fail "the reload's log line does not name the new certificate"
grep -q 'event=reload_deferred msg="--idle-timeout changed; it takes effect when clonefsd is restarted"' "$T/clonefsd.log" ||
	t_fail "the changed idle_timeout is not logged as waiting for a restart"
t_log "the mount made before the reload carries on; its snapshot reopens under the new certificate"
other=$(cd "$T/mnt" && find . -path './sample/*.ibd' -printf '%s %P\n' | sort -n | tail -2 | head -1 | cut -d' ' -f2)
snapfile=$(find "$T/state/$ID" -path "*/$other" -print -quit)
cmp "$T/mnt/$other" "$snapfile" || t_fail "a read through the mount made before the reload differs"
mkdir -p "$T/mnt2"
CLONEFS_PASSWORD='pw-svc' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt2" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,prefetch=off,cache_dir=$T/cache3,snapshot=$ID"
t_on_exit "fusermount3 -u '$T/mnt2' 2>/dev/null || true"
cmp "$T/mnt2/$big" "$T/mnt/$big" || t_fail "the snapshot reopened after the reload differs"
fusermount3 -u "$T/mnt2"

t_log "a broken certificate at SIGHUP: the running one stays"
cp "$T/cert/server.pem" "$T/cert/good.pem"
echo garbage >"$T/cert/server.pem"
kill -HUP "$CFS_DONOR_PID"
t_wait_for "grep -q 'event=reload_failed' '$T/clonefsd.log'" 20 || { cat "$T/clonefsd.log"; t_fail "no reload_failed"; }
read -r fp2 _ < <($PROM donor_cert "$PORT")
[ "$fp2" = "$fp1" ] || t_fail "a failed reload changed the certificate"
$PROM scrape "$M" "$T/m3.json"
[ "$(val "$T/m3.json" clonefsd_reloads_total result=ok)" = 1 ] && [ "$(val "$T/m3.json" clonefsd_reloads_total result=failed)" = 1 ] ||
	t_fail "reloads_total does not count one ok and one failed"
cp "$T/cert/good.pem" "$T/cert/server.pem"
fusermount3 -u "$T/mnt"

t_log "a daemonized clonefsd reopens its log file on SIGHUP (logrotate)"
S2=$T/state2
P2=$(t_free_port)
"$CLONEFS_BIN/clonefsd" --listen="127.0.0.1:$P2" --socket="$DONOR_SOCK" --state-dir="$S2" \
	--snapshot-method=mariabackup --defaults-file="$T/clonefsd.conf"
# The daemon writes its pid once detached, maybe after the command returned.
t_wait_for "[ -s '$S2/clonefsd.pid' ]" 10 || t_fail "the daemonized clonefsd wrote no pid file"
pid2=$(cat "$S2/clonefsd.pid")
t_on_exit "kill $pid2 2>/dev/null || true"
mv "$S2/clonefsd.log" "$S2/clonefsd.log.1"
kill -HUP "$pid2"
t_wait_for "grep -q 'event=log_reopened' '$S2/clonefsd.log' 2>/dev/null" 20 || t_fail "no new log file after SIGHUP"
grep -q 'listening on' "$S2/clonefsd.log.1" || t_fail "the rotated file lost the lines before the reload"
grep -q 'listening on' "$S2/clonefsd.log" && t_fail "the new log file holds lines from before the reload"
kill "$pid2"
t_wait_for "! kill -0 $pid2 2>/dev/null" 30 || t_fail "the daemonized clonefsd did not stop"
grep -q 'event=stopped msg="stopped"' "$S2/clonefsd.log" || t_fail "no clean stop in the new log file"

t_log "every log line is key=value: ts=... event=NAME msg=\"...\""
for f in "$T/clonefsd.log" "$S2/clonefsd.log.1" "$S2/clonefsd.log"; do
	bad=$(grep -cvE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z event=[a-z_]+ msg="([^"\\]|\\.)*"$' "$f" || true)
	[ "$bad" = 0 ] || { grep -vE '^ts=\S+ event=[a-z_]+ msg=' "$f" | head; t_fail "$bad lines of $f are not key=value"; }
done
t_log "PASS: metrics parse and move, bad requests are refused, SIGHUP renews the certificate and reopens the log"
