#!/usr/bin/env python3
"""flaky_http.py: a loopback proxy in front of an S3 endpoint that misbehaves as stores and
networks do, on purpose (radosgw cannot be told to): per connection, at random (seeded), it
answers 503 Slow Down, resets the connection at once, or forwards for a short random time and
then resets both sides mid-transfer. Counts what it did in --stats. Stops after --lifetime s."""
import argparse, random, select, socket, struct, threading, time

def rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
    except OSError:
        pass

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', type=int, required=True)
    ap.add_argument('--to', type=int, required=True)
    ap.add_argument('--p503', type=float, default=0.2)
    ap.add_argument('--preset', type=float, default=0.15)
    ap.add_argument('--max-forward', type=float, default=1.5, help='seconds a forwarded connection lives at most')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--stats', required=True)
    ap.add_argument('--lifetime', type=int, default=600)
    a = ap.parse_args()
    rnd, lock = random.Random(a.seed), threading.Lock()
    stats = {'503': 0, 'reset': 0, 'cut': 0, 'forwarded': 0}
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', a.listen))
    srv.listen(64)
    srv.settimeout(0.2)
    end = time.time() + a.lifetime

    def save():
        with open(a.stats, 'w') as f:
            f.write(' '.join('%s=%d' % kv for kv in sorted(stats.items())) + '\n')

    def serve(c, choice, life):
        try:
            if choice == '503':
                c.settimeout(5)
                buf = b''
                while b'\r\n\r\n' not in buf and len(buf) < 65536:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                c.sendall(b'HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: 52\r\n'
                          b'Connection: close\r\n\r\n<Error><Code>SlowDown</Code><Message/></Error>      ')
                c.close()
                return
            if choice == 'reset':
                rst(c)
                return
            u = socket.create_connection(('127.0.0.1', a.to))
            stop = time.time() + life
            while time.time() < min(stop, end):
                r, _, _ = select.select([c, u], [], [], 0.05)
                for s in r:
                    d = s.recv(1 << 16)
                    if not d:
                        c.close(); u.close()
                        return
                    (u if s is c else c).sendall(d)
            with lock:
                stats['cut'] += 1
            rst(c); rst(u)
        except OSError:
            rst(c)

    save()
    print('ready', flush=True)
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        with lock:
            x = rnd.random()
            choice = '503' if x < a.p503 else 'reset' if x < a.p503 + a.preset else 'forward'
            life = rnd.uniform(0.05, a.max_forward)
            stats[choice if choice != 'forward' else 'forwarded'] += 1
            save()
        threading.Thread(target=serve, args=(c, choice, life), daemon=True).start()

main()
