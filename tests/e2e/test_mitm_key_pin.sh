#!/usr/bin/env bash
# test_mitm_key_pin.sh: an active man in the middle (tests/lib/mitm_proxy.py: strips TLS or offers
# its own, and puts its own RSA key in HELLO_OK) never learns the password (docs/security.md):
# under the default ssl_mode=preferred the donor's key is pinned on first use and the MITM's key is
# then refused with ERROR 2061 naming the donor and both fingerprints; known_donors=none refuses an
# unpinned key; ssl_ca= alone and preferred,ssl_ca= require TLS, so the stripping MITM is refused
# (2026); clonefs check (the mount's -o) is refused the same way; server_public_key= with the real
# donor's key works without TLS against the donor and is refused through the MITM.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

T=$(t_tmpdir)
PW='Mitm-Pass-8d21c4'
tls_make "$T/tls"
cfs_donor_up "$T" 3 "$PW" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/mitm-key.pem" 2>/dev/null
openssl pkey -in "$T/mitm-key.pem" -pubout -out "$T/mitm-pub.pem"
fingerprint() { echo "SHA256:$(openssl pkey -pubin -in "$1" -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =)"; }
openssl pkey -in "$T/state/rsa.pem" -pubout -out "$T/donor-pub.pem"
DONOR_FP=$(fingerprint "$T/donor-pub.pem")
MITM_FP=$(fingerprint "$T/mitm-pub.pem")
mkdir -p "$T/mnt"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
PX=$(t_free_port)   # where the recipient thinks the donor is: first a plain relay, then the MITM
LOOT="$T/loot"

mnt() { # PORT OPTS
	CLONEFS_PASSWORD="$PW" timeout 120 "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$1" "$T/mnt" \
		-o "prefetch=off,cache_dir=$T/cache,network_timeout=5${2:+,$2}"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/mnt/.clonefs/status" "$1"; }
proxy_up() { # SCRIPT ARGS...: on port PX
	local script=$1
	shift
	rm -f "$T/proxy.log"
	python3 "$here/../lib/$script" --listen "$PX" --to "$PORT" "$@" >"$T/proxy.log" 2>&1 &
	PROXY_PID=$!
	t_wait_for "grep -qs ready '$T/proxy.log'" 10 || t_fail "$script did not start"
}
proxy_down() { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }
t_on_exit "proxy_down"
mitm_up() { proxy_up mitm_proxy.py --key "$T/mitm-key.pem" --pub "$T/mitm-pub.pem" --loot "$LOOT" "$@"; }
no_loot() { [ ! -s "$LOOT" ] || t_fail "$1: the man in the middle learned the password: $(cat "$LOOT")"; }
refused() { # CODE WHAT OPTS: through PX, exit 1 with one ERROR CODE line, nothing mounted or learned
	local rc=0
	mnt "$PX" "$3" 2>"$T/err" || rc=$?
	if [ $rc = 0 ]; then
		no_loot "$2"
		fusermount3 -u "$T/mnt"
		t_fail "$2: mounted through the man in the middle"
	fi
	[ $rc = 1 ] || { cat "$T/err"; t_fail "$2: exit $rc"; }
	cfs_assert_one_error "$T/err" "$1"
	mountpoint -q "$T/mnt" && t_fail "$2: something got mounted"
	no_loot "$2"
	t_log "ok, $2: $(cat "$T/err")"
}

t_log "preferred (the default), first contact through an honest relay: the donor's key is pinned"
proxy_up cut_proxy.py --ctl "$T/never"
mnt "$PX" "" 2>"$T/warn"
cat "$T/warn"
[[ $(field tls) == TLS* ]] || t_fail "preferred against a TLS donor is not on TLS: $(field tls)"
cmp -s "$T/mnt/sample/db.opt" "$T/donor/data/sample/db.opt" || t_fail "a file read through the mount differs"
fusermount3 -u "$T/mnt"
proxy_down

t_log "then a man in the middle"
mitm_up
refused 2061 "preferred, MITM strips TLS and offers its key" ""
grep -qxF "127.0.0.1:$PX $DONOR_FP" "$CLONEFS_KNOWN_DONORS" || { cat "$CLONEFS_KNOWN_DONORS"; t_fail "the donor's key is not pinned"; }
grep -qF "now pinned in $CLONEFS_KNOWN_DONORS" "$T/warn" || t_fail "no warning that a key was pinned"
for f in "127.0.0.1:$PX" "$DONOR_FP" "$MITM_FP" "$CLONEFS_KNOWN_DONORS:1"; do
	grep -qF "$f" "$T/err" || t_fail "the refusal does not name $f"
done
refused 2061 "ssl_mode=disabled, MITM offers its key" "ssl_mode=disabled"
refused 2061 "known_donors=none, no pin" "known_donors=none"
grep -qF "Authentication requires secure connection." "$T/err" || t_fail "not MySQL's words for an insecure password"
refused 2026 "ssl_ca= alone, MITM strips TLS" "ssl_ca=$T/tls/ca.pem"
refused 2026 "preferred,ssl_ca=, MITM strips TLS" "ssl_mode=preferred,ssl_ca=$T/tls/ca.pem"
refused 7006 "ssl_mode=disabled,ssl_ca= contradict" "ssl_mode=disabled,ssl_ca=$T/tls/ca.pem"
refused 2061 "server_public_key= of the real donor, MITM offers its key" \
	"ssl_mode=disabled,known_donors=none,server_public_key=$T/state/rsa-public.pem"
t_log "clonefs check takes the same options and is refused the same way"
rc=0
CLONEFS_PASSWORD="$PW" timeout 120 "$CLONEFS_BIN/clonefs" check "cloner@127.0.0.1:$PX" \
	-o "valid_donor_list=127.0.0.1:$PX" >"$T/check.out" 2>"$T/err" || rc=$?
[ $rc = 1 ] || { cat "$T/check.out" "$T/err"; t_fail "clonefs check through the MITM: exit $rc"; }
cfs_assert_one_error "$T/err" 2061
no_loot "clonefs check"
t_log "ok, clonefs check: $(cut -c1-160 "$T/err")..."
proxy_down

t_log "a man in the middle that offers TLS of its own (a certificate no CA here signed)"
mitm_up --tls-cert "$T/tls/other-ca.pem" --tls-key "$T/tls/other-ca-key.pem"
refused 2061 "preferred, MITM's own TLS and key" ""
refused 2061 "required, MITM's own TLS and key" "ssl_mode=required"
refused 2026 "ssl_ca=, MITM's own TLS" "ssl_ca=$T/tls/ca.pem"
proxy_down

t_log "server_public_key= of the real donor (its rsa-public.pem): no TLS, no store, straight to the donor"
grep -qF "RSA key $DONOR_FP" "$T/clonefsd.log" || t_fail "clonefsd does not log its key's fingerprint $DONOR_FP"
cmp -s "$T/state/rsa-public.pem" "$T/donor-pub.pem" || t_fail "clonefsd's rsa-public.pem is not its key's public half"
mnt "$PORT" "ssl_mode=disabled,known_donors=none,server_public_key=$T/state/rsa-public.pem"
[ "$(field tls)" = none ] || t_fail "ssl_mode=disabled used TLS"
cmp -s "$T/mnt/sample/db.opt" "$T/donor/data/sample/db.opt" || t_fail "a file read through the mount differs"
fusermount3 -u "$T/mnt"
t_log "PASS: the man in the middle was refused every time and never learned the password"
