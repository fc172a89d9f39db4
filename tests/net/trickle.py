"""A bounded slow-client flood for the listener tests (run inside a namespace).

  trickle.py SRC HOST PORT COUNT SECONDS MODE DIR

Opens COUNT connections from address SRC to HOST:PORT, one after the other,
and keeps each busy with a request that never completes: MODE "headers"
sends a request line and then one more header line every half second; MODE
"body" sends complete headers of a POST and then one byte of its body every
half second. Nothing is ever finished, so a server that resets its idle
timer on every byte keeps these connections forever.

After all connections are made and 1.5 s have passed, DIR/held gets the
number still open. The run ends after SECONDS or when DIR/stop exists, and
DIR/result gets "opened N closed C last_close_s S": connections the server
closed (EOF or reset) and when the last of them was closed, counted from the
first connect.
"""
import os
import select
import socket
import sys
import time

STEP = 0.5


def connect(src, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.bind((src, 0))
    s.connect((host, port))
    s.setblocking(False)
    return s


def start(s, mode, host):
    if mode == "body":
        s.send(("POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                "application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n"
                % host).encode())
    else:
        s.send(("GET / HTTP/1.1\r\nHost: %s\r\n" % host).encode())


def closed_by_server(s):
    try:
        r, _, _ = select.select([s], [], [], 0)
        if r and s.recv(4096) == b"":
            return True
    except OSError:
        return True
    return False


def poke(s, mode):
    try:
        s.send(b"a" if mode == "body" else b"X-Slow: 1\r\n")
    except OSError:
        return False
    return True


def main():
    src, host, port, count, secs, mode, out = sys.argv[1:8]
    port, count, secs = int(port), int(count), float(secs)
    t0 = time.monotonic()
    conns, closed, last = [], 0, 0.0
    for _ in range(count):
        try:
            s = connect(src, host, port)
            start(s, mode, host)
            conns.append(s)
        except OSError:
            closed += 1
            last = time.monotonic() - t0
    held_at = time.monotonic() + 1.5
    held_written = False
    while time.monotonic() - t0 < secs and not os.path.exists(os.path.join(out, "stop")):
        time.sleep(STEP)
        alive = []
        for s in conns:
            if closed_by_server(s) or not poke(s, mode):
                closed += 1
                last = time.monotonic() - t0
                s.close()
            else:
                alive.append(s)
        conns = alive
        if not held_written and time.monotonic() >= held_at:
            with open(os.path.join(out, "held.tmp"), "w") as f:
                f.write("%d\n" % len(conns))
            os.rename(os.path.join(out, "held.tmp"), os.path.join(out, "held"))
            held_written = True
        if not conns and held_written:
            break
    for s in conns:
        s.close()
    with open(os.path.join(out, "result.tmp"), "w") as f:
        f.write("opened %d closed %d last_close_s %.1f\n" % (count, closed, last))
    os.rename(os.path.join(out, "result.tmp"), os.path.join(out, "result"))


if __name__ == "__main__":
    main()
