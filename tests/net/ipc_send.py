"""Sends one crafted datagram to ipfd's control socket and says what happened.

  ipc_send.py SOCKET KIND [RIGHT_ID]
  KIND: status admit revoke sync (well formed), random truncated long huge
        magic version type zero_right (malformed)
Prints "reply STATUS", "closed" (no reply, connection closed) or "refused ERROR".
"""
import os
import socket
import struct
import sys

MAGIC = 0x534B5348
TYPES = {"admit": 1, "revoke": 2, "sync": 3, "status": 4}


def req(magic=MAGIC, version=1, typ=4, right=0, service=0, rid=7):
    return struct.pack("<IHHQqq", magic, version, typ, rid, right, service)


def payload(kind, right):
    if kind in TYPES:
        return req(typ=TYPES[kind], right=right)
    return {
        "random": os.urandom(32),
        "truncated": req(typ=1, right=right)[:31],
        "long": req(typ=1, right=right) + b"\0",
        "huge": req(typ=1, right=right) + os.urandom(100000),
        "magic": req(magic=0x48534B53, typ=1, right=right),
        "version": req(version=2, typ=1, right=right),
        "type": req(typ=99, right=right),
        "zero_right": req(typ=1, right=0),
    }[kind]


def main(argv):
    path, kind = argv[1], argv[2]
    right = int(argv[3]) if len(argv) > 3 else 1
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(3.0)
    try:
        s.connect(path)
    except OSError as e:
        print("refused %s" % e.strerror)
        return 0
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.send(payload(kind, right))
        d = s.recv(4096)
    except OSError:
        d = b""
    if len(d) >= 16:
        print("reply %d" % struct.unpack_from("<IHHQ", d)[2])
    else:
        print("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
