#!/usr/bin/env python3
"""hostile_donor.py: a test donor that speaks clonefs protocol v1 (docs/protocol.md) in plaintext and
misbehaves on purpose, one way per run (--mode), so the recipient's defences can be tested for real.
It serves a tiny tree: directory `db`, regular file `db/t.ibd` (2 chunks) and `ibdata1`."""
import argparse, hashlib, socket, struct, sys, zlib

from cfs_wire import (AUTH, AUTH_OK, CHUNK_T, ERROR, HELLO, HELLO_OK, MANIFEST, MANIFEST_GET, READ,
                      SNAP_INFO, SNAP_OPEN, frame, recv_frame, s)

CHUNK = 1 << 20

def entry(t, mode, size, path, target=''):
    return struct.pack('>BIQqI', t, mode, size, 1700000000, 0) + s(path) + s(target)

FILES = {'db/t.ibd': bytes(range(256)) * (CHUNK // 256) + b'x' * 1000, 'ibdata1': b'\x07' * 5000}

def manifest(mode):
    ents = [entry(1, 0o755, 0, 'db'), entry(2, 0o640, len(FILES['db/t.ibd']), 'db/t.ibd'),
            entry(2, 0o640, len(FILES['ibdata1']), 'ibdata1')]
    total = sum(len(v) for v in FILES.values())
    bad = {'dotdot': entry(2, 0o640, 1, '../escape'), 'absolute': entry(2, 0o640, 1, '/etc/passwd'),
           'duplicate': entry(2, 0o640, 1, 'ibdata1'), 'symlink_out': entry(3, 0o777, 0, 'link', '../../etc'),
           'nul': entry(2, 0o640, 1, 'a\0b'), 'no_parent': entry(2, 0o640, 1, 'nodir/f')}
    if mode in bad:
        ents.append(bad[mode])
        if bad[mode][0] == 2:
            total += 1
    body = b''.join(ents)
    if mode == 'count_lie':
        return struct.pack('>IIIQ', 0x4346534D, 1, 900000, total) + body
    if mode == 'size_lie':
        total += 12345
    return struct.pack('>IIIQ', 0x4346534D, 1, len(ents), total) + body

def chunk(mode, fid, idx, data):
    raw_len = len(data)
    digest = hashlib.sha256(data).digest()
    if mode == 'bad_digest':
        digest = bytes(32)
    if mode == 'bomb':
        # A zstd frame is not available in the stdlib; announce 1 MiB, send a declared 64 MiB frame header
        # followed by junk: the decoder must refuse without expanding anything.
        zhdr = b'\x28\xb5\x2f\xfd' + b'\xa4' + struct.pack('<I', 64 << 20) + b'\x00' * 64
        return struct.pack('>IQBI', fid, idx, 1, raw_len) + digest + zhdr
    if mode == 'oversize_chunk':
        return struct.pack('>IQBI', fid, idx, 0, 64 << 20) + digest
    if mode == 'wrong_index':
        idx += 1
    return struct.pack('>IQBI', fid, idx, 0, raw_len) + digest + data

def serve(c, mode, pem):
    t, req, _ = recv_frame(c)
    if mode == 'not_clonefs':
        c.sendall(b'\x4a\x00\x00\x00\x0a5.5.5-10.11.19-MariaDB\x00' + b'\x00' * 60)
        return
    c.sendall(frame(HELLO_OK, req, struct.pack('>HB', 1, 0) + b'\x11' * 32 + s(pem) + struct.pack('>I', 4 << 20)))
    t, req, _ = recv_frame(c)          # AUTH: accepted whatever it holds
    c.sendall(frame(AUTH_OK, req, b''))
    t, req, _ = recv_frame(c)          # SNAP_OPEN
    if mode == 'huge_frame':
        c.sendall(frame(SNAP_INFO, req, b'', length=1 << 30))
        return
    c.sendall(frame(SNAP_INFO, req, s('hostile-1') + struct.pack('>II', CHUNK, 1) + s('version') + s('10.11.19-MariaDB')))
    names = ['db', 'db/t.ibd', 'ibdata1']
    while True:
        t, req, p = recv_frame(c)
        if t == MANIFEST_GET:
            blob = manifest(mode)
            c.sendall(frame(MANIFEST, req, struct.pack('>I', len(blob)) + blob))
        elif t == READ:
            fid, first, count = struct.unpack('>IQI', p)
            data = FILES[names[fid]]
            for i in range(first, first + count):
                c.sendall(frame(CHUNK_T, req, chunk(mode, fid, i, data[i * CHUNK:(i + 1) * CHUNK])))
        elif t == 14:
            return

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--mode', required=True)
    ap.add_argument('--pem', required=True)
    a = ap.parse_args()
    pem = open(a.pem).read()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', a.port))
    srv.listen(16)
    srv.settimeout(120)
    print('ready', flush=True)
    while True:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            return
        c.settimeout(30)
        try:
            serve(c, a.mode, pem)
        except (EOFError, OSError):
            pass
        finally:
            c.close()

if __name__ == '__main__':
    main()
