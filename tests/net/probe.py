"""Connection probes across a failover (run inside a client namespace).

  probe.py DST PORT SECS OUT SRC...

Every 100 ms, for SECS seconds, each SRC address opens a new TCP connection to
DST:PORT (300 ms timeout) and closes it. OUT gets one line per attempt:
"UNIX_MS SRC 1" when it connected, "UNIX_MS SRC 0 WHY" when not, WHY
being "refused" (a reset: a firewall's reject or no listener), "timeout" (no
answer within 300 ms: a packet dropped or late) or the errno's name. Stops
early when the file OUT.stop appears.
"""
import errno
import os
import socket
import sys
import time


def attempt(src, dst, port):
    s = socket.socket()
    s.settimeout(0.3)
    try:
        s.bind((src, 0))
        s.connect((dst, port))
        return "1"
    except socket.timeout:
        return "0 timeout"
    except ConnectionRefusedError:
        return "0 refused"
    except OSError as e:
        return "0 " + errno.errorcode.get(e.errno, "error")
    finally:
        s.close()


def main():
    dst, port, secs, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    srcs = sys.argv[5:]
    end = time.monotonic() + secs
    with open(out, "w", buffering=1) as f:
        while time.monotonic() < end and not os.path.exists(out + ".stop"):
            t0 = time.monotonic()
            for src in srcs:
                f.write("%d %s %s\n" % (int(time.time() * 1000), src, attempt(src, dst, port)))
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
