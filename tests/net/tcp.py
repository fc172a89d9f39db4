"""TCP helpers for the network tests (run inside a namespace).

  tcp.py serve PORT...            echo server on every address, each PORT, TCP and UDP
  tcp.py echo ADDR PORT           exchange one line; exit 0 when it came back
  tcp.py hold ADDR PORT DIR       connect and echo once, write DIR/state "up", wait for
                                  DIR/go, echo again; DIR/state becomes "alive" or "cut ..."
  tcp.py hammer ADDR PORT SECS    connect over and over for SECS; print "tries N connected M"
  tcp.py udp ADDR PORT            one UDP datagram; exit 0 when it was echoed
"""
import os
import socket
import sys
import threading
import time

TIMEOUT = 2.0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo_conn, args=(c,), daemon=True).start()


def echo_conn(c):
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()


def serve_udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(4096)
        s.sendto(d, a)


def serve(ports):
    for p in ports:
        threading.Thread(target=serve_tcp, args=(p,), daemon=True).start()
        threading.Thread(target=serve_udp, args=(p,), daemon=True).start()
    while True:
        time.sleep(3600)


def exchange(s, line):
    s.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed by peer")
        got += d
    if got != line:
        raise ConnectionError("bad echo")


def connect(addr, port, timeout=TIMEOUT):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    return s


def echo(addr, port):
    s = connect(addr, port)
    exchange(s, b"ping\n")
    s.close()
    return 0


def put(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def hold(addr, port, d):
    s = connect(addr, port)
    exchange(s, b"one\n")
    put(os.path.join(d, "state"), "up")
    while not os.path.exists(os.path.join(d, "go")):
        time.sleep(0.05)
    try:
        exchange(s, b"two\n")
        put(os.path.join(d, "state"), "alive")
    except OSError as e:
        put(os.path.join(d, "state"), "cut %s" % type(e).__name__)
    return 0


def hammer(addr, port, secs):
    tries = connected = 0
    end = time.time() + secs
    while time.time() < end:
        tries += 1
        try:
            s = connect(addr, port, 0.2)
            connected += 1
            s.close()
        except OSError:
            time.sleep(0.001)
    print("tries %d connected %d" % (tries, connected))
    return 0


def udp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.sendto(b"ping\n", (addr, port))
    d, _ = s.recvfrom(4096)
    return 0 if d == b"ping\n" else 1


def main(argv):
    cmd = argv[1]
    try:
        if cmd == "serve":
            return serve([int(p) for p in argv[2:]])
        if cmd == "echo":
            return echo(argv[2], int(argv[3]))
        if cmd == "hold":
            return hold(argv[2], int(argv[3]), argv[4])
        if cmd == "hammer":
            return hammer(argv[2], int(argv[3]), float(argv[4]))
        if cmd == "udp":
            return udp(argv[2], int(argv[3]))
    except OSError as e:
        print("%s: %s" % (cmd, e), file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
