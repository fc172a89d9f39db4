"""A client sending continuously through a firewall (run inside a client namespace).

  udp_stream.py SRC DST PORT OUT [BURST]

Sends UDP datagrams from SRC to DST:PORT until the file OUT.stop appears, then
writes the number sent to OUT. Without BURST it never rests (one CPU, a
datagram every few microseconds: a gap of a fraction of a millisecond in a
firewall is met); with BURST it sends that many, then rests 1 ms. A firewall
that refuses one answers with an ICMP error, which the test counts where the
firewall sends it: the sender only keeps the stream going.
"""
import os
import socket
import sys
import time


def main():
    src, dst, port, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    burst = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    to = (dst, port)
    sent = 0
    while not os.path.exists(out + ".stop"):
        for _ in range(burst or 2000):
            try:
                s.sendto(b"x", to)
                sent += 1
            except OSError:     # an ICMP error reported back, or a full buffer: keep going
                pass
        if burst:
            time.sleep(0.001)
    with open(out, "w") as f:
        f.write("%d\n" % sent)


if __name__ == "__main__":
    main()
