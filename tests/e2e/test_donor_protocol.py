#!/usr/bin/env python3
"""test_donor_protocol.py: a recipient written from docs/protocol.md alone (socket, ssl, the openssl
CLI for RSA-OAEP, libzstd through ctypes), used by test_donor_protocol.sh to hold clonefsd to the
spec frame by frame. One scenario per run; exit 0 when the donor behaved, 1 with a FAIL line if not.

  test_donor_protocol.py PORT SCENARIO [args...]   (user, password, TLS from the environment:
  CFS_USER, CFS_PASSWORD, CFS_TLS=1 to ask for TLS, CFS_CA=ca.pem to verify the donor)
"""
import ctypes, ctypes.util, hashlib, os, socket, ssl, struct, subprocess, sys, tempfile, threading, time

MAGIC = 0x43465331
(HELLO, HELLO_OK, AUTH, AUTH_OK, SNAP_OPEN, SNAP_INFO, MANIFEST_GET, MANIFEST, READ, CHUNK, PROGRESS,
 PING, PONG, CLOSE, ERROR) = range(1, 16)
FLAG_MORE = 1
READ_MAX = 64
ENC_RAW, ENC_ZSTD, ENC_ZERO = 0, 1, 2


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def log(msg):
    print('-- ' + msg, flush=True)


def pstr(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('>H', len(x)) + x


def pbytes(x):
    return struct.pack('>I', len(x)) + x


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            fail('donor sent a short payload')
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def u8(self): return self.take(1)[0]
    def u16(self): return struct.unpack('>H', self.take(2))[0]
    def u32(self): return struct.unpack('>I', self.take(4))[0]
    def i32(self): return struct.unpack('>i', self.take(4))[0]
    def u64(self): return struct.unpack('>Q', self.take(8))[0]
    def i64(self): return struct.unpack('>q', self.take(8))[0]
    def str(self): return self.take(self.u16()).decode()
    def bytes(self): return self.take(self.u32())
    def end(self):
        if self.o != len(self.b):
            fail('donor sent %d trailing bytes' % (len(self.b) - self.o))


class DonorError(Exception):
    def __init__(self, code, state, msg):
        super().__init__('ERROR %d (%s): %s' % (code, state, msg))
        self.code, self.state, self.msg = code, state, msg


_zstd = ctypes.CDLL(ctypes.util.find_library('zstd') or 'libzstd.so.1')
_zstd.ZSTD_decompress.restype = ctypes.c_size_t
_zstd.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
_zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]


# Protocol 2's digest, XXH64, from the reference library (Debian's libxxhash0, not clonefs's own).
_xxh = ctypes.CDLL(ctypes.util.find_library('xxhash') or 'libxxhash.so.0')
_xxh.XXH64.restype = ctypes.c_uint64
_xxh.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]


def chunk_digest(proto, raw):
    """The CHUNK digest field of a protocol version (docs/protocol.md §4)."""
    if proto == 1:
        return hashlib.sha256(raw).digest()
    return struct.pack('>Q', _xxh.XXH64(raw, len(raw), 0)) + bytes(24)


def unzstd(data, raw_len):
    out = ctypes.create_string_buffer(raw_len)
    n = _zstd.ZSTD_decompress(out, raw_len, data, len(data))
    if _zstd.ZSTD_isError(n) or n != raw_len:
        fail('a zstd chunk does not decompress to %d bytes' % raw_len)
    return out.raw


def rsa_oaep(pem, plain):
    with tempfile.NamedTemporaryFile('w', suffix='.pem') as f:
        f.write(pem)
        f.flush()
        return subprocess.run(['openssl', 'pkeyutl', '-encrypt', '-pubin', '-inkey', f.name, '-pkeyopt',
                               'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256'], input=plain,
                              capture_output=True, check=True).stdout


class Conn:
    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.req = 0
        self.hello = None
        self.last_auth = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, t, payload=b'', req=None, flags=0):
        if req is None:
            self.req += 1
            req = self.req
        self.sock.sendall(struct.pack('>IBBHII', MAGIC, t, flags, 0, req, len(payload)) + payload)
        return req

    def recv_exact(self, n):
        b = b''
        while len(b) < n:
            d = self.sock.recv(n - len(b))
            if not d:
                raise EOFError('donor closed the connection')
            b += d
        return b

    def recv(self):
        magic, t, flags, rsv, req, ln = struct.unpack('>IBBHII', self.recv_exact(16))
        if magic != MAGIC or rsv != 0:
            fail('bad frame header from the donor')
        if t == MANIFEST and flags & ~FLAG_MORE or t != MANIFEST and flags:
            fail('flags %#x on frame type %d' % (flags, t))
        payload = self.recv_exact(ln) if ln else b''
        if t == ERROR:
            r = Reader(payload)
            e = DonorError(r.i32(), r.str(), r.str())
            r.end()
            raise e
        return t, flags, req, payload

    def expect(self, t, req):
        got, flags, rreq, payload = self.recv()
        if got != t or rreq != req:
            fail('expected frame %d for request %d, got %d for %d' % (t, req, got, rreq))
        return flags, payload

    def handshake(self, tls=False, proto=(1, 1), ca=None):
        req = self.send(HELLO, struct.pack('>HHB', proto[0], proto[1], 1 if tls else 0) + pstr('test_donor_protocol'))
        _, p = self.expect(HELLO_OK, req)
        r = Reader(p)
        self.hello = {'proto': r.u16(), 'tls': r.u8(), 'nonce': r.take(32), 'pem': r.str(), 'max_frame': r.u32()}
        r.end()
        if tls and self.hello['tls']:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if ca:
                ctx.load_verify_locations(ca)
            else:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname='localhost')
        return self.hello

    def auth(self, user, password, scheme=None):
        tls = isinstance(self.sock, ssl.SSLSocket)
        if scheme is None:
            scheme = 0 if tls else 1
        secret = password.encode() if scheme == 0 else rsa_oaep(self.hello['pem'], self.hello['nonce'] + password.encode())
        self.last_auth = struct.pack('>B', scheme) + pstr(user) + pbytes(secret)
        req = self.send(AUTH, self.last_auth)
        self.expect(AUTH_OK, req)

    def snap_open(self, snap, progress=None):
        req = self.send(SNAP_OPEN, pstr(snap))
        while True:
            t, _, rreq, p = self.recv()
            if rreq != req:
                fail('reply to request %d while waiting for %d' % (rreq, req))
            if t == PROGRESS:
                r = Reader(p)
                line = r.str()
                r.end()
                if progress is not None:
                    progress.append(line)
                continue
            if t != SNAP_INFO:
                fail('SNAP_OPEN answered with frame %d' % t)
            r = Reader(p)
            sid, cs, n = r.str(), r.u32(), r.u32()
            facts = {}
            for _ in range(n):
                k = r.str()
                facts[k] = r.str()
            r.end()
            return sid, cs, facts

    def manifest(self):
        req = self.send(MANIFEST_GET)
        blob, slices = b'', 0
        while True:
            flags, p = self.expect(MANIFEST, req)
            r = Reader(p)
            blob += r.bytes()
            r.end()
            slices += 1
            if not flags & FLAG_MORE:
                break
        r = Reader(blob)
        magic, ver, n, total = r.u32(), r.u32(), r.u32(), r.u64()
        if magic != 0x4346534D or ver != 1:
            fail('bad manifest header')
        ents = []
        for i in range(n):
            ents.append({'id': i, 'type': r.u8(), 'mode': r.u32(), 'size': r.u64(), 'mtime': r.i64(),
                         'nsec': r.u32(), 'path': r.str(), 'target': r.str()})
        r.end()
        if total != sum(e['size'] for e in ents if e['type'] == 2):
            fail('manifest bytes_total %d is not the sum of its files' % total)
        return ents, total, slices

    def read(self, fid, first, count, size, cs):
        req = self.send(READ, struct.pack('>IQI', fid, first, count))
        out = []
        for i in range(count):
            _, p = self.expect(CHUNK, req)
            r = Reader(p)
            cfid, idx, enc, raw_len, digest = r.u32(), r.u64(), r.u8(), r.u32(), r.take(32)
            data = p[r.o:]
            want = min(cs, size - (first + i) * cs)
            if cfid != fid or idx != first + i or raw_len != want:
                fail('chunk %d/%d (%d bytes) for %d/%d (%d bytes)' % (cfid, idx, raw_len, fid, first + i, want))
            if enc == ENC_RAW:
                raw = data
            elif enc == ENC_ZSTD:
                raw = unzstd(data, raw_len)
                if len(data) >= raw_len - raw_len // 16:
                    fail('zstd sent although it saves less than 1/16')
            elif enc == ENC_ZERO:
                if data:
                    fail('a zero chunk carries data')
                raw = bytes(raw_len)
            else:
                fail('unknown chunk encoding %d' % enc)
            if len(raw) != raw_len or chunk_digest(self.hello['proto'], raw) != digest:
                fail('chunk %d/%d does not match its digest' % (fid, idx))
            out.append((enc, raw))
        return out


def env_conn(port, auth=True):
    """A connection as the environment says; CFS_PROTO=1 asks for version 1 only (else 1-2)."""
    c = Conn(port)
    want = int(os.environ.get('CFS_PROTO', '0'))
    c.handshake(tls=os.environ.get('CFS_TLS') == '1', ca=os.environ.get('CFS_CA'),
                proto=(want, want) if want else (1, 2))
    if c.hello['proto'] != (want or 2):
        fail('the donor chose protocol %d, expected %d' % (c.hello['proto'], want or 2))
    if auth:
        c.auth(os.environ['CFS_USER'], os.environ['CFS_PASSWORD'])
    return c


def expect_error(fn, code, state=None, text=None):
    try:
        fn()
    except DonorError as e:
        if e.code != code or (state and e.state != state) or (text is not None and e.msg != text):
            fail('expected ERROR %d (%s): %s; got %s' % (code, state, text, e))
        log('ok: %s' % e)
        return e
    fail('expected ERROR %d, got success' % code)


def expect_closed(c):
    try:
        while True:
            c.recv()
    except (EOFError, ConnectionResetError, ssl.SSLError):
        return
    except DonorError:
        return expect_closed(c)


# --- scenarios ---

def sc_auth_error(port, user, password, code, state, text):
    c = Conn(port)
    c.handshake(tls=os.environ.get('CFS_TLS') == '1')
    expect_error(lambda: c.auth(user, password), int(code), state, text)
    expect_closed(c)


def sc_clear_without_tls(port):
    c = Conn(port)
    c.handshake(tls=False)
    expect_error(lambda: c.auth(os.environ['CFS_USER'], os.environ['CFS_PASSWORD'], scheme=0), 2026)


def sc_replay(port):
    a = Conn(port)
    a.handshake(tls=False)
    a.auth(os.environ['CFS_USER'], os.environ['CFS_PASSWORD'])
    b = Conn(port)
    b.handshake(tls=False)
    req = b.send(AUTH, a.last_auth)
    expect_error(lambda: b.expect(AUTH_OK, req), 3863)
    a.close()


def sc_version(port):
    c = Conn(port)
    expect_error(lambda: c.handshake(proto=(3, 4)), 3863, 'HY000')


def sc_garbage(port):
    c = Conn(port)
    c.sock.sendall(b'GET / HTTP/1.0\r\n\r\n')
    expect_error(c.recv, 7000)
    expect_closed(c)
    c = env_conn(port)
    req = c.send(READ, struct.pack('>IQI', 0, 0, 1) + b'junk')
    expect_error(lambda: c.expect(CHUNK, req), 7000)
    expect_closed(c)
    c = env_conn(port)
    req = c.send(PING)
    c.expect(PONG, req)
    req = c.send(READ, struct.pack('>IQI', 0, 0, 1))
    expect_error(lambda: c.expect(CHUNK, req), 7000)   # READ before SNAP_OPEN
    expect_closed(c)


def source_of(ents, root):
    """Where each entry's bytes are in the snapshot directory: root/path, except .external/<P>, which
    mariabackup copied beside the .isl file naming P."""
    src = {e['path']: os.path.join(root, e['path']) for e in ents}
    for e in ents:
        if e['path'].endswith('.isl'):
            with open(os.path.join(root, e['path'])) as f:
                p = f.read().strip()
            ext = '.external' + p
            if ext in src:
                src[ext] = os.path.join(root, e['path'][:-4] + '.ibd')
    return src


def check_tree(ents, root, excluded):
    by_path = {e['path']: e for e in ents}
    src = source_of(ents, root)
    for e in ents:
        if e['path'] == '.external' or (e['path'].startswith('.external/') and e['type'] == 1):
            continue
        st = os.lstat(src[e['path']])
        if e['type'] == 2 and st.st_size != e['size']:
            fail('%s: manifest size %d, file %d' % (e['path'], e['size'], st.st_size))
        if e['type'] == 3 and os.readlink(src[e['path']]) != e['target']:
            fail('%s: symlink target differs' % e['path'])
        if e['mode'] != st.st_mode & 0o7777:
            fail('%s: mode differs' % e['path'])
    for name in excluded:
        if name in by_path:
            fail('%s is in the manifest' % name)
    return src


def sc_snapshot(port, state_dir, outfile, min_progress='0'):
    """Open a new snapshot, fetch its manifest and every chunk of every file, compare with the files
    in the snapshot's directory, and write a tree from the chunks alone (for mysqld to start from)."""
    c = env_conn(port)
    progress = []
    t0 = time.time()
    sid, cs, facts = c.snap_open('new', progress)
    log('snapshot %s in %.1f s, %d PROGRESS lines (%s)' % (sid, time.time() - t0, len(progress),
                                                           progress[-1] if progress else '-'))
    if cs != 64 << 10:
        fail('chunk size %d, expected the default WIRE_CHUNK_SIZE of 64 KiB' % cs)
    if len(progress) < int(min_progress):
        fail('%d PROGRESS frames while the snapshot was made, expected at least %s' % (len(progress), min_progress))
    for k in ('version', 'version_comment', 'version_compile_os', 'version_compile_machine', 'hostname', 'port',
              'datadir', 'innodb_page_size', 'innodb_data_file_path', 'innodb_checksum_algorithm',
              'character_set_server', 'collation_server', 'character_set_filesystem', 'plugins', 'collations',
              'max_allowed_packet', 'binlog_file', 'binlog_pos', 'gtid_pos', 'encrypted', 'page_compressed',
              'undo_files', 'external_paths', 'flavor', 'log_bin_basename', 'innodb_undo_tablespaces', 'method',
              'created_at', 'bytes_total'):
        if k not in facts:
            fail('fact %s missing' % k)
    if not facts['binlog_file'] or not facts['binlog_pos'].isdigit():
        fail('no binlog position: %r %r' % (facts['binlog_file'], facts['binlog_pos']))
    if facts['page_compressed'] != '1' or facts['encrypted'] != '0' or facts['flavor'] != 'MariaDB':
        fail('facts: page_compressed=%s encrypted=%s flavor=%s' % (facts['page_compressed'], facts['encrypted'],
                                                                 facts['flavor']))
    ents, total, slices = c.manifest()
    if str(total) != facts['bytes_total']:
        fail('bytes_total fact %s, manifest %d' % (facts['bytes_total'], total))
    root = os.path.join(state_dir, sid, 'data')
    src = check_tree(ents, root, ['backup-my.cnf', 'xtrabackup_checkpoints', 'xtrabackup_info',
                                  'xtrabackup_binlog_info', 'xtrabackup_binlog_pos_innodb', 'mysqld.pid', 'mysql.sock'])
    names = [e['path'] for e in ents]
    if [p for p in names if '-bin.' in p or p.startswith('binlog.')]:
        fail('binary logs in the manifest')
    encs = {ENC_RAW: 0, ENC_ZSTD: 0, ENC_ZERO: 0}
    out = {}
    for e in ents:
        if e['type'] != 2 or e['size'] == 0:
            continue
        n = (e['size'] + cs - 1) // cs
        data = b''
        for first in range(0, n, READ_MAX):
            for enc, raw in c.read(e['id'], first, min(READ_MAX, n - first), e['size'], cs):
                encs[enc] += 1
                data += raw
        with open(src[e['path']], 'rb') as f:
            if hashlib.sha256(f.read()).digest() != hashlib.sha256(data).digest():
                fail('%s: chunks differ from the snapshot file' % e['path'])
        out[e['path']] = data
    log('protocol %d: %d entries, %d bytes in %d manifest slice(s); chunks raw %d, zstd %d, zero %d: all digests and files match'
        % (c.hello['proto'], len(ents), total, slices, encs[ENC_RAW], encs[ENC_ZSTD], encs[ENC_ZERO]))
    if outfile != '-':
        for e in ents:
            full = os.path.join(outfile, e['path'])
            if e['type'] == 1:
                os.makedirs(full, exist_ok=True)
            elif e['type'] == 3:
                os.symlink(e['target'], full)
            else:
                with open(full, 'wb') as f:
                    f.write(out.get(e['path'], b''))
        for e in sorted(ents, key=lambda x: x['path'], reverse=True):
            full = os.path.join(outfile, e['path'])
            if e['type'] != 3:
                os.chmod(full, e['mode'])
    req = c.send(PING)
    c.expect(PONG, req)
    c.send(CLOSE)
    print('SNAPSHOT ' + sid)


def sc_concurrent(port):
    """A second "new" while one is being made: 3634; afterwards it shares the first by id."""
    a = env_conn(port)
    b = env_conn(port)
    result = {}
    def make():
        result['a'] = a.snap_open('new', [])
    t = threading.Thread(target=make)
    t.start()
    time.sleep(1.0)
    if not t.is_alive():
        fail('the first snapshot was made before the second asked (too fast to test)')
    expect_error(lambda: b.snap_open('new'), 3634, 'HY000',
                 'Too many concurrent clone operations. Maximum allowed - 1.')
    t.join(300)
    sid = result['a'][0]
    sid_b, _, facts_b = b.snap_open(sid)
    if sid_b != sid or facts_b != result['a'][2]:
        fail('sharing by id gave another snapshot')
    log('ok: the second recipient shares %s' % sid)
    print('SNAPSHOT ' + sid)


def sc_open(port, sid, code=None):
    c = env_conn(port)
    if code:
        expect_error(lambda: c.snap_open(sid), int(code), 'HY000')
        return
    got, cs, facts = c.snap_open(sid)
    if got != sid:
        fail('opened %s, got %s' % (sid, got))
    ents, total, _ = c.manifest()
    big = max((e for e in ents if e['type'] == 2), key=lambda e: e['size'])
    c.read(big['id'], 0, 1, big['size'], cs)
    log('ok: %s served again (%d entries, one chunk of %s verified)' % (sid, len(ents), big['path']))


def sc_holes(port, root):
    """Method dir on a tree with a sparse file: holes go out as zero chunks, data as data."""
    c = env_conn(port)
    sid, cs, facts = c.snap_open('new')
    ents, _, _ = c.manifest()
    e = [x for x in ents if x['path'] == 'sparse.bin']
    if not e:
        fail('sparse.bin not in the manifest')
    e = e[0]
    n = (e['size'] + cs - 1) // cs
    chunks = []
    for first in range(0, n, READ_MAX):
        chunks += c.read(e['id'], first, min(READ_MAX, n - first), e['size'], cs)
    with open(os.path.join(root, 'sparse.bin'), 'rb') as f:
        if b''.join(raw for _, raw in chunks) != f.read():
            fail('sparse.bin differs')
    encs = [enc for enc, _ in chunks]
    if encs[0] == ENC_ZERO or encs[-1] == ENC_ZERO or any(x != ENC_ZERO for x in encs[1:-1]):
        fail('sparse.bin encodings %s: expected data, zero markers, data' % encs)
    if [x for x in ents if x['path'] in ('escape', 'abs')]:
        fail('a symlink leaving the tree is in the manifest')
    log('ok: sparse.bin as %s' % ''.join('DZz'[x] if x != ENC_ZERO else '0' for x in encs))


def sc_maxconn(port, n):
    """With --max-connections=n, the (n+1)th connection gets ERROR 3634 and is closed."""
    held = [env_conn(port) for _ in range(int(n))]
    c = Conn(port)
    expect_error(lambda: c.handshake(), 3634, 'HY000')
    for h in held:
        h.send(CLOSE)
        h.close()
    time.sleep(0.5)
    c = env_conn(port)
    req = c.send(PING)
    c.expect(PONG, req)
    log('ok: accepted again once the others closed')


def sc_encrypted_plain(port):
    c = Conn(port)
    c.handshake(tls=False)
    c.auth(os.environ['CFS_USER'], os.environ['CFS_PASSWORD'])
    expect_error(lambda: c.snap_open('new'), 3872, 'HY000', 'Clone needs SSL connection for encrypted table.')


def sc_snap_error(port, code, contains, state='HY000'):
    c = env_conn(port)
    e = expect_error(lambda: c.snap_open('new'), int(code), state)
    if contains not in e.msg:
        fail('message does not say %r: %s' % (contains, e.msg))


SCENARIOS = {'auth_error': sc_auth_error, 'clear_without_tls': sc_clear_without_tls, 'replay': sc_replay,
             'version': sc_version, 'garbage': sc_garbage, 'snapshot': sc_snapshot, 'concurrent': sc_concurrent,
             'open': sc_open, 'holes': sc_holes, 'maxconn': sc_maxconn, 'encrypted_plain': sc_encrypted_plain,
             'snap_error': sc_snap_error}

if __name__ == '__main__':
    if len(sys.argv) < 3 or sys.argv[2] not in SCENARIOS:
        print(__doc__)
        sys.exit(2)
    SCENARIOS[sys.argv[2]](int(sys.argv[1]), *sys.argv[3:])
