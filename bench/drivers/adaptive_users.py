#!/usr/bin/env python3
"""Simulated users for bench/adaptive.sh (one run).

Users arrive at --rate per second. Each asks for admission with
`sekishoctl grant` (the admission sequence of the portal, without HTTP and
password hash); a refused user goes away (counted). An admitted user makes
requests to the service in a closed loop (one request, --think seconds of
thinking, ...) for --hold seconds, then leaves (`sekishoctl right revoke`).
Every second one line goes to --series: t, users in, effective cap, requests
completed, their p50 and p99 latency (ms). The last line on stdout is the
run's summary (key=value). --halve-at T sends SIGUSR1 to --capsvc-pid at T s
(bench/capsvc halves its workers).
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time


def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


class Run:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.lat = []            # (t_done, ms) of every request
        self.inside = 0
        self.admitted = 0
        self.refused = 0
        self.stop = False
        self.inside_log = []     # (second, users inside)
        self.t0 = time.monotonic()
        host, port = a.url.split("//", 1)[1].split("/", 1)[0].split(":")
        self.addr = (host, int(port))

    def ctl(self, *args):
        return subprocess.run(self.a.ctl.split() + list(args), capture_output=True, text=True)

    def request(self):
        t = time.monotonic()
        try:
            s = socket.create_connection(self.addr, timeout=10)
            s.sendall(b"GET / HTTP/1.0\r\nHost: svc\r\n\r\n")
            while s.recv(4096):
                pass
            s.close()
        except OSError:
            pass
        done = time.monotonic()
        with self.lock:
            self.lat.append((done - self.t0, (done - t) * 1000.0))

    def user(self, n):
        ip = "10.200.%d.%d" % (n // 250, n % 250 + 1)
        r = self.ctl("grant", "u%d" % n, self.a.service, ip)
        if r.returncode != 0:
            with self.lock:
                self.refused += 1
            return
        rid = r.stdout.split("granted right ", 1)[1].split(":", 1)[0]
        with self.lock:
            self.admitted += 1
            self.inside += 1
        end = time.monotonic() + self.a.hold
        while time.monotonic() < end and not self.stop:
            self.request()
            time.sleep(self.a.think * random.uniform(0.5, 1.5))
        self.ctl("right", "revoke", rid)
        with self.lock:
            self.inside -= 1

    def cap_now(self):
        r = self.ctl("service", "show", self.a.service, "--json")
        try:
            return json.loads(r.stdout)["cap_now"]
        except (ValueError, KeyError):
            return -1

    def arrivals(self):
        n = 1
        while not self.stop:
            threading.Thread(target=self.user, args=(n,), daemon=True).start()
            n += 1
            time.sleep(random.expovariate(self.a.rate))

    def sample(self, out):
        halved = False
        for sec in range(1, self.a.duration + 1):
            time.sleep(max(0.0, self.t0 + sec - time.monotonic()))
            if self.a.halve_at and sec >= self.a.halve_at and not halved:
                os.kill(self.a.capsvc_pid, signal.SIGUSR1)
                halved = True
            with self.lock:
                last = [ms for t, ms in self.lat if sec - 1 <= t < sec]
                inside = self.inside
                self.inside_log.append((sec, inside))
            out.write("%d %d %d %d %.1f %.1f\n" % (sec, inside, self.cap_now(), len(last),
                                                   pct(last, 50), pct(last, 99)))
            out.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ctl", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=int, default=60)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--hold", type=float, default=20)
    p.add_argument("--think", type=float, default=0.2)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--halve-at", type=int, default=0)
    p.add_argument("--capsvc-pid", type=int, default=0)
    p.add_argument("--series", required=True)
    a = p.parse_args()
    run = Run(a)
    threading.Thread(target=run.arrivals, daemon=True).start()
    with open(a.series, "w") as out:
        out.write("# t users_in cap_now requests p50_ms p99_ms\n")
        run.sample(out)
    run.stop = True
    with run.lock:
        steady = [ms for t, ms in run.lat if t >= a.warmup and
                  (not a.halve_at or t < a.halve_at)]
        after = [ms for t, ms in run.lat if a.halve_at and t >= a.duration - 20]
        span = a.duration - a.warmup if not a.halve_at else a.halve_at - a.warmup
        ins = [n for t, n in run.inside_log if t >= a.warmup and
               (not a.halve_at or t < a.halve_at)]
        print("admitted=%d refused=%d p50_ms=%.1f p99_ms=%.1f req_s=%.1f p99_last20_ms=%.1f "
              "mean_in=%.1f" % (run.admitted, run.refused, pct(steady, 50), pct(steady, 99),
                                len(steady) / max(1, span), pct(after, 99),
                                sum(ins) / max(1, len(ins))))


if __name__ == "__main__":
    main()
