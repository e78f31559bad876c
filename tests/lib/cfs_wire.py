"""cfs_wire.py: the frame layer of docs/protocol.md §1 for the test peers written in Python
(hostile_donor.py, mitm_proxy.py): strings, frames, and reading a frame whole."""
import struct

MAGIC = 0x43465331
HELLO, HELLO_OK, AUTH, AUTH_OK, SNAP_OPEN, SNAP_INFO, MANIFEST_GET, MANIFEST, READ, CHUNK_T = range(1, 11)
ERROR = 15

def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('>H', len(x)) + x

def frame(t, req, payload, flags=0, length=None):
    return struct.pack('>IBBHII', MAGIC, t, flags, 0, req, len(payload) if length is None else length) + payload

def recv_exact(c, n):
    b = b''
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def recv_frame(c):
    """(type, req_id, payload). A peer's length is not bounded here: these are test tools."""
    magic, t, flags, _, req, ln = struct.unpack('>IBBHII', recv_exact(c, 16))
    return t, req, recv_exact(c, ln) if ln else b''
