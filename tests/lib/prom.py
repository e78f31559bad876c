#!/usr/bin/python3
"""prom.py: test helper for Prometheus metrics, parsed with prometheus_client's own text parser.

  prom.py scrape URL|FILE OUT.json      every sample as {"name{k=v,...}": value} (sorted labels)
  prom.py get OUT.json NAME [k=v ...]   one sample's value, or exit 1 when absent
  prom.py http PORT REQUEST_BYTES       send raw bytes, print the status line's code (or "closed")
  prom.py donor_cert PORT               the SHA-256 fingerprint and serial of the certificate a new TLS
                                        session with clonefsd on PORT is shown (protocol HELLO, then TLS)
"""
import hashlib, json, os, socket, ssl, subprocess, sys, urllib.request

from prometheus_client.parser import text_string_to_metric_families


def key(name, labels):
    return name + '{' + ','.join('%s=%s' % kv for kv in sorted(labels.items())) + '}'


def scrape(src, out):
    if src.startswith('http://'):
        with urllib.request.urlopen(src, timeout=10) as r:
            ctype = r.headers.get('Content-Type', '')
            if not ctype.startswith('text/plain') or 'version=0.0.4' not in ctype:
                sys.exit('FAIL: Content-Type %r' % ctype)
            text = r.read().decode()
    else:
        with open(src) as f:
            text = f.read()
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            k = key(s.name, s.labels)
            if k in samples:
                sys.exit('FAIL: sample %s twice' % k)
            samples[k] = s.value
    if not samples:
        sys.exit('FAIL: no samples in %s' % src)
    with open(out, 'w') as f:
        json.dump({'samples': samples, 'types': types}, f, indent=0, sort_keys=True)


def get(path, name, *kv):
    with open(path) as f:
        samples = json.load(f)['samples']
    k = key(name, dict(x.split('=', 1) for x in kv))
    if k not in samples:
        sys.exit(1)
    v = samples[k]
    print(int(v) if v == int(v) else v)


def http(port, raw):
    s = socket.create_connection(('127.0.0.1', int(port)), timeout=15)
    s.sendall(raw.encode().decode('unicode_escape').encode('latin-1'))
    data = b''
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    s.close()
    print(data.split(b' ', 2)[1].decode() if data.startswith(b'HTTP/1.') else 'closed')


def donor_cert(port):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))
    from test_donor_protocol import Conn
    c = Conn(int(port))
    c.handshake(tls=True)
    if not isinstance(c.sock, ssl.SSLSocket):
        sys.exit('FAIL: the donor did not offer TLS')
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    serial = subprocess.run(['openssl', 'x509', '-inform', 'DER', '-noout', '-serial'], input=der,
                            capture_output=True, check=True).stdout.decode().strip().split('=', 1)[1]
    print(hashlib.sha256(der).hexdigest(), serial.upper())


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    {'scrape': scrape, 'get': get, 'http': http, 'donor_cert': donor_cert}[cmd](*args)
