#!/usr/bin/env python3
"""cut_proxy.py: a loopback TCP proxy the test controls, standing in for the network (nothing else
can cut a connection on demand). `touch CTL` cuts every connection and refuses new ones until CTL
is removed. Stops by itself after --lifetime seconds."""
import argparse, os, select, socket, threading, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', type=int, required=True)
    ap.add_argument('--to', type=int, required=True)
    ap.add_argument('--ctl', required=True)
    ap.add_argument('--lifetime', type=int, default=900)
    ap.add_argument('--record', help='append every byte that crosses, both ways, to this file')
    a = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', a.listen))
    srv.listen(64)
    srv.settimeout(0.2)
    conns, lock, end = [], threading.Lock(), time.time() + a.lifetime
    rec = open(a.record, 'ab') if a.record else None
    print('ready', flush=True)

    def pump(c, u):
        socks = [c, u]
        try:
            while time.time() < end and not os.path.exists(a.ctl):
                r, _, _ = select.select(socks, [], [], 0.1)
                for s in r:
                    d = s.recv(1 << 16)
                    if not d:
                        return
                    (u if s is c else c).sendall(d)
                    if rec:
                        with lock:
                            rec.write(d)
                            rec.flush()
        except OSError:
            pass
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        if os.path.exists(a.ctl):
            c.close()
            continue
        try:
            u = socket.create_connection(('127.0.0.1', a.to), timeout=5)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()

if __name__ == '__main__':
    main()
