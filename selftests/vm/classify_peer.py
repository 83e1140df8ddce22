#!/usr/bin/python3
"""Real kernel SCTP and DCCP endpoints for selftests/vm/classify_sctp.sh.

  classify_peer.py sctp-server ADDR PORT
  classify_peer.py sctp-client ADDR PORT COUNT TIMEOUT
  classify_peer.py dccp-server ADDR PORT SERVICE[,SERVICE...]
  classify_peer.py dccp-client ADDR PORT SERVICE SPORT COUNT TIMEOUT

ADDR picks the family (':' = IPv6). Servers print "listening", then one
line per association/connection: "accepted N" after reading N messages to
the end of the stream. Clients connect (within TIMEOUT seconds), send COUNT
messages of 100 bytes, read one "ok" back, close, and print "connected" and
"done"; a connect that does not complete prints "timeout" and exits 3.
A DCCP SERVICE is four printable characters, sent as they are (RFC 4340
§8.1.2: a 32-bit number, big-endian).
"""
import socket
import sys

SOCK_DCCP = 6
IPPROTO_DCCP = 33
SOL_DCCP = 269
DCCP_SOCKOPT_SERVICE = 2


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def sock(kind, addr):
    if kind == "sctp":
        return socket.socket(family(addr), socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    return socket.socket(family(addr), SOCK_DCCP, IPPROTO_DCCP)


def serve(kind, addr, port, services=None):
    s = sock(kind, addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if services:
        s.setsockopt(SOL_DCCP, DCCP_SOCKOPT_SERVICE, b"".join(x.encode() for x in services))
    s.bind((addr, port))
    s.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        n = 0
        while True:
            m = c.recv(4096)
            if not m:
                break
            n += 1
            if b"last" in m:
                c.send(b"ok")
        print("accepted %d" % n, flush=True)
        c.close()


def client(kind, addr, port, count, timeout, service=None, sport=0):
    s = sock(kind, addr)
    if service:
        s.setsockopt(SOL_DCCP, DCCP_SOCKOPT_SERVICE, service.encode())
    if sport:
        s.bind(("::" if ":" in addr else "0.0.0.0", sport))
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except (socket.timeout, TimeoutError):
        print("timeout", flush=True)
        s.close()
        return 3
    print("connected", flush=True)
    for i in range(count):
        body = (b"m%03d" % i).ljust(96, b".") + (b"last" if i == count - 1 else b"more")
        s.send(body)
    if s.recv(16) != b"ok":
        print("no answer", flush=True)
        return 4
    s.close()
    print("done", flush=True)
    return 0


def main(a):
    if a[0] == "sctp-server":
        serve("sctp", a[1], int(a[2]))
    elif a[0] == "dccp-server":
        serve("dccp", a[1], int(a[2]), a[3].split(","))
    elif a[0] == "sctp-client":
        return client("sctp", a[1], int(a[2]), int(a[3]), float(a[4]))
    elif a[0] == "dccp-client":
        return client("dccp", a[1], int(a[2]), int(a[5]), float(a[6]), a[3], int(a[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
