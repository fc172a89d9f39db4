"""Many connections to one HTTP server at once (run inside a namespace).

  conns.py ADDR PORT N

Opens N connections and sends on each a request without its last line, so
the server holds all N at once; then ends every request and reads every
answer. Prints "opened O answered A status200 S" (A counts answers with a
status line; a connection closed without one is not answered).
"""
import resource
import selectors
import socket
import sys
import time

DEADLINE_S = 60.0
HEAD = b"GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n"


def open_all(addr, port, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((addr, port))
            s.sendall(HEAD)
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


def read_all(socks):
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        s.setblocking(False)
        try:
            s.sendall(b"\r\n")
        except OSError:
            continue
        sel.register(s, selectors.EVENT_READ)
        got[s] = b""
    end = time.monotonic() + DEADLINE_S
    while sel.get_map() and time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if d:
                got[s] += d
            else:
                sel.unregister(s)
    return got


def main():
    addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
    socks = open_all(addr, port, n)
    got = read_all(socks)
    answered = sum(1 for d in got.values() if d.startswith(b"HTTP/1."))
    ok = sum(1 for d in got.values() if d.startswith(b"HTTP/1.1 200"))
    print("opened %d answered %d status200 %d" % (len(socks), answered, ok))


main()
