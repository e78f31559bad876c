#!/usr/bin/env bash
# test_tls_modes.sh: REQUIRE [NO] SSL as the seed describes it, with real TLS: preferred against a
# TLS donor uses TLS (status says so); a donor that requires a client certificate refuses a
# recipient without one and accepts one with it; a donor holding an encrypted table refuses
# ssl_mode=disabled with ER_CLONE_ENCRYPTION before copying anything; and a capture of a plaintext
# session (every byte both ways) does not contain the password.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
# The refusals below, as the donors log them.
t_log_expect "TLS handshake failed: ERROR 2026: SSL connection error: handshake with [0-9.:]+ failed: peer did not return a certificate"
t_log_expect "snapshot 'new' for 'cloner' refused: ERROR 3872 "
printf '1;%s\n' "$(openssl rand -hex 32)" >"$T/keys.txt"
chown mysql "$T/keys.txt"
db_start "$T/donor" --plugin-load-add=file_key_management --file-key-management-filename="$T/keys.txt"
DONOR_SOCK="$T/donor/mysql.sock"
db_load_sample "$DONOR_SOCK" 5
PW='Pass-Word-7f3e9c'
cfs_make_clone_user "$DONOR_SOCK" cloner "$PW"
tls_make "$T/tls"
mkdir -p "$T/mnt"
field() { cfs_status_field "$T/mnt" "$1"; }
mnt() { CLONEFS_PASSWORD="$PW" "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$1" "$T/mnt" -o "prefetch=off,cache_dir=$T/cache,$2"; }
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"

t_log "a donor that requires client certificates"
PORT=$(t_free_port)
cfs_start_donor "$T/d1" "$PORT" "$DONOR_SOCK" "$T/donor/data" --ssl-cert="$T/tls/server.pem" \
	--ssl-key="$T/tls/server-key.pem" --ssl-ca="$T/tls/ca.pem" --require-client-cert
rc=0; mnt "$PORT" "ssl_mode=required,ssl_ca=$T/tls/ca.pem" 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "no client certificate: exit $rc"
cfs_assert_one_error "$T/err" 2026
t_log "ok: $(cat "$T/err")"
mnt "$PORT" "ssl_mode=required,ssl_ca=$T/tls/ca.pem,ssl_cert=$T/tls/client.pem,ssl_key=$T/tls/client-key.pem"
[[ $(field tls) == TLS* ]] || t_fail "client-certificate mount is not on TLS"
fusermount3 -u "$T/mnt"

t_log "preferred (the default) against a TLS donor uses TLS"
mnt "$PORT" "ssl_cert=$T/tls/client.pem,ssl_key=$T/tls/client-key.pem"
[[ $(field tls) == TLS* ]] && [ "$(field ssl_mode)" = preferred ] || t_fail "preferred did not use TLS: $(field tls)"
t_log "ok: $(field ssl_mode) -> $(field tls)"
fusermount3 -u "$T/mnt"

t_log "plaintext session through a recording proxy: the password never crosses in clear"
PLAIN=$(t_free_port)
cfs_start_donor "$T/d2" "$PLAIN" "$DONOR_SOCK" "$T/donor/data"
REC=$(t_free_port)
python3 "$here/../lib/cut_proxy.py" --listen "$REC" --to "$PLAIN" --ctl "$T/never" --record "$T/capture.bin" >"$T/proxy.log" 2>&1 &
t_on_exit "kill $! 2>/dev/null || true"
t_wait_for "grep -q ready '$T/proxy.log'" 10 || t_fail "proxy did not start"
mnt "$REC" "ssl_mode=disabled"
[ "$(field tls)" = none ] || t_fail "ssl_mode=disabled used TLS"
find "$T/mnt/sample" -type f -exec cat {} + >/dev/null
[ "$(stat -c %s "$T/capture.bin")" -gt 100000 ] || t_fail "the capture holds too little to mean anything"
grep -qaF "$PW" "$T/capture.bin" && t_fail "the password crossed the wire in clear"
grep -qaF "cloner" "$T/capture.bin" || t_fail "the capture does not even hold the user name: not a capture of this session"
t_log "ok: $(stat -c %s "$T/capture.bin") bytes captured, password absent"
fusermount3 -u "$T/mnt"

t_log "an encrypted table: ssl_mode=disabled is refused with ER_CLONE_ENCRYPTION, nothing copied"
db_sql "$DONOR_SOCK" "CREATE TABLE sample.secret (id INT PRIMARY KEY, s VARCHAR(64)) ENGINE=InnoDB ENCRYPTED=YES ENCRYPTION_KEY_ID=1;
	INSERT INTO sample.secret VALUES (1, 'classified');"
before=$(ls "$T/d2/state" | wc -l)
rc=0; mnt "$PLAIN" "ssl_mode=disabled" 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "encrypted over plaintext: exit $rc"
cfs_assert_one_error "$T/err" 3872
[ "$(ls "$T/d2/state" | wc -l)" = "$before" ] || t_fail "a snapshot was made before refusing"
t_log "ok: $(cat "$T/err")"
mnt "$PORT" "ssl_mode=required,ssl_ca=$T/tls/ca.pem,ssl_cert=$T/tls/client.pem,ssl_key=$T/tls/client-key.pem"
[ "$(field tls)" != none ] || t_fail "TLS mount of an encrypted donor"
fusermount3 -u "$T/mnt"

t_log "encrypted Aria tables (aria_encrypt_tables) only over TLS too"
db_sql "$DONOR_SOCK" "DROP TABLE sample.secret"
rc=0; mnt "$PLAIN" "ssl_mode=disabled" || rc=$?
[ $rc = 0 ] || t_fail "no encrypted table left, plaintext: exit $rc"
fusermount3 -u "$T/mnt"
db_sql "$DONOR_SOCK" "SET GLOBAL aria_encrypt_tables = ON;
	CREATE TABLE sample.aria_secret (id INT PRIMARY KEY, s VARCHAR(64)) ENGINE=Aria;
	INSERT INTO sample.aria_secret VALUES (1, 'classified');"
rc=0; mnt "$PLAIN" "ssl_mode=disabled" 2>"$T/err" || rc=$?
[ $rc = 1 ] || t_fail "encrypted Aria over plaintext: exit $rc"
cfs_assert_one_error "$T/err" 3872
t_log "ok: $(cat "$T/err")"
mnt "$PORT" "ssl_mode=required,ssl_ca=$T/tls/ca.pem,ssl_cert=$T/tls/client.pem,ssl_key=$T/tls/client-key.pem"
[ "$(field tls)" != none ] || t_fail "TLS mount of a donor with encrypted Aria tables"
t_log "PASS: client certificates, preferred, no password in clear, encrypted data (InnoDB, Aria) only over TLS"
