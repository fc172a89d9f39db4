"""Connection probes across a failover (run inside a client namespace).

  probe.py [-t TIMEOUT] DST PORT SECS OUT SRC...

Every 100 ms, for SECS seconds, each SRC address opens a new TCP connection to
DST:PORT (TIMEOUT seconds to connect, 0.3 by default) and closes it. OUT gets
one line per attempt: "UNIX_MS SRC 1" when it connected, "UNIX_MS SRC 0 WHY"
when not, WHY being "refused" (a reset: a firewall's reject or no listener),
"timeout" (no answer within TIMEOUT: a packet dropped or late, or this process
not scheduled in time) or the errno's name. Stops early when the file OUT.stop
appears.
"""
import errno
import os
import socket
import sys
import time


def attempt(src, dst, port, timeout):
    s = socket.socket()
    s.settimeout(timeout)
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
    args = sys.argv[1:]
    timeout = 0.3
    if args[0] == "-t":
        timeout = float(args[1])
        args = args[2:]
    dst, port, secs, out = args[0], int(args[1]), float(args[2]), args[3]
    srcs = args[4:]
    end = time.monotonic() + secs
    with open(out, "w", buffering=1) as f:
        while time.monotonic() < end and not os.path.exists(out + ".stop"):
            t0 = time.monotonic()
            for src in srcs:
                f.write("%d %s %s\n" % (int(time.time() * 1000), src, attempt(src, dst, port, timeout)))
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
