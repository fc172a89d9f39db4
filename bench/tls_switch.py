#!/usr/bin/env python3
"""Clients for bench/tls.sh: a steady rate of new HTTPS connections, each
from one of CLIENTS clients that offers its saved TLS session (ticket).
A share NEW of the connections comes from a client never seen before (its
session dropped). Phase 1 goes to A; when the file SWITCH appears the clients
go to B (A has stopped). One line per connection on stdout:
  <seconds since start> <A|B> <resumed 0|1> <ok 0|1> <new client 0|1>
Usage: tls_switch.py A_IP B_IP PORT CLIENTS RATE SECONDS NEW SWITCH
"""
import random
import socket
import ssl
import sys
import threading
import time

a_ip, b_ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
clients, rate, seconds = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
new_share, switch_file = float(sys.argv[7]), sys.argv[8]

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sessions = [None] * clients
lock = threading.Lock()
out = sys.stdout
start = time.monotonic()


def target():
    try:
        open(switch_file).close()
        return "B", b_ip
    except OSError:
        return "A", a_ip


def one(i):
    name, ip = target()
    with lock:
        fresh = sessions[i] is None or random.random() < new_share
        if fresh:
            sessions[i] = None          # a new client: nothing to resume
        sess = sessions[i]
    resumed, ok = 0, 0
    try:
        with socket.create_connection((ip, port), timeout=5) as raw:
            with ctx.wrap_socket(raw, session=sess) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                while s.recv(4096):
                    pass
                resumed = 1 if s.session_reused else 0
                with lock:
                    sessions[i] = s.session
                ok = 1
    except (OSError, ssl.SSLError):
        pass
    with lock:
        out.write("%.3f %s %d %d %d\n" % (time.monotonic() - start, name, resumed, ok, fresh))


def worker(k, n):
    # Each of n workers paces its share of the rate on its own schedule.
    step = n / rate
    due = start + k * step / n
    while due - start < seconds:
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        one(random.randrange(clients))
        due += step


WORKERS = 8
ts = [threading.Thread(target=worker, args=(k, WORKERS)) for k in range(WORKERS)]
for t in ts:
    t.start()
for t in ts:
    t.join()
out.flush()
