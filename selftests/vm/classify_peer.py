#!/usr/bin/python3
"""Real kernel SCTP and DCCP endpoints for selftests/vm/classify_sctp.sh.

  classify_peer.py sctp-server ADDR[,ADDR...] PORT
  classify_peer.py sctp-client ADDR PORT COUNT TIMEOUT
  classify_peer.py sctp-mh-client LADDR,LADDR RADDR PORT COUNT GOFILE TIMEOUT
  classify_peer.py dccp-server ADDR PORT SERVICE[,SERVICE...]
  classify_peer.py dccp-client ADDR PORT SERVICE SPORT COUNT TIMEOUT
  classify_peer.py sctp-frame IFACE DSTMAC SRC DST DPORT good|bad
  classify_peer.py pcap-crc FILE
  classify_peer.py init-flood IFACE DSTMAC DST DPORT SOURCES STOPFILE

ADDR picks the family (':' = IPv6). Servers print "listening", then one
line per association/connection: "accepted N" after reading N messages to
the end of the stream. Clients connect (within TIMEOUT seconds), send COUNT
messages of 100 bytes, read one "ok" back, close, and print "connected" and
"done"; a connect that does not complete prints "timeout" and exits 3.
sctp-frame sends one Ethernet/IPv4/SCTP frame on IFACE (AF_PACKET): a
DATA chunk, verification tag 0x12345678, from port 40000, with its
CRC32c (RFC 9260 Appendix A) right or with its lowest bit flipped.
pcap-crc reads an Ethernet pcap and prints how many IPv4 SCTP packets
carry a right CRC32c, a wrong one, and zero in the field.
init-flood sends SCTP INITs (RFC 9260 §3.3.2, verification tag 0, a right
CRC32c) on IFACE as fast as it can, from SOURCES spoofed IPv4 addresses
10.9.x.y in turn, until STOPFILE exists, then prints "sent N refused M"
(M: what the link refused, its queue full).
More than one IPv4 ADDR makes a multihomed endpoint (the first bound, the
others added with SCTP_SOCKOPT_BINDX_ADD, what sctp_bindx(3) does).
sctp-mh-client binds both local addresses, sends COUNT messages and reads
the "ok" ("phase1"), waits for GOFILE to exist, then does it again.
A DCCP SERVICE is four printable characters, sent as they are (RFC 4340
§8.1.2: a 32-bit number, big-endian).
"""
import os
import socket
import struct
import sys
import time

SOL_SCTP = 132
SCTP_SOCKOPT_BINDX_ADD = 100
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


def bind_all(s, addrs, port):
    s.bind((addrs[0], port))
    port = s.getsockname()[1]
    for a in addrs[1:]:
        sa = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(a)
        s.setsockopt(SOL_SCTP, SCTP_SOCKOPT_BINDX_ADD, sa + bytes(8))


def serve(kind, addr, port, services=None):
    addrs = addr.split(",")
    s = sock(kind, addrs[0])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if services:
        s.setsockopt(SOL_DCCP, DCCP_SOCKOPT_SERVICE, b"".join(x.encode() for x in services))
    bind_all(s, addrs, port)
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


def exchange(s, count):
    for i in range(count):
        body = (b"m%03d" % i).ljust(96, b".") + (b"last" if i == count - 1 else b"more")
        s.send(body)
    if s.recv(16) != b"ok":
        print("no answer", flush=True)
        return False
    return True


def mh_client(laddrs, raddr, port, count, gofile, timeout):
    s = sock("sctp", raddr)
    bind_all(s, laddrs.split(","), 0)
    s.settimeout(timeout)
    s.connect((raddr, port))
    print("connected", flush=True)
    if not exchange(s, count):
        return 4
    print("phase1", flush=True)
    deadline = time.monotonic() + timeout
    while not os.path.exists(gofile):
        if time.monotonic() > deadline:
            print("no go", flush=True)
            return 5
        time.sleep(0.05)
    if not exchange(s, count):
        return 4
    s.close()
    print("done", flush=True)
    return 0


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
    if not exchange(s, count):
        return 4
    s.close()
    print("done", flush=True)
    return 0


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def ip_checksum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def sctp_frame(iface, dstmac, src, dst, dport, good):
    # DATA, flags B|E, length 20: TSN 1, stream 0, SSN 0, PPID 0, 4 bytes
    chunk = struct.pack("!BBHIHHI", 0, 3, 20, 1, 0, 0, 0) + b"abcd"
    hdr = struct.pack("!HHII", 40000, dport, 0x12345678, 0)
    crc = crc32c(hdr + chunk)
    if not good:
        crc ^= 1
    sctp = hdr[:8] + struct.pack("<I", crc) + chunk
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(sctp), 1, 0, 64, 132, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    with open("/sys/class/net/%s/address" % iface) as f:
        mine = bytes.fromhex(f.read().strip().replace(":", ""))
    s.send(bytes.fromhex(dstmac.replace(":", "")) + mine + b"\x08\x00" + ip + sctp)
    print("sent", flush=True)
    return 0


def init_flood(iface, dstmac, dst, dport, sources, stopfile):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    with open("/sys/class/net/%s/address" % iface) as f:
        mine = bytes.fromhex(f.read().strip().replace(":", ""))
    eth = bytes.fromhex(dstmac.replace(":", "")) + mine + b"\x08\x00"
    frames = []
    for i in range(sources):
        src = "10.9.%d.%d" % (i >> 8, 1 + (i & 0xFF) % 254)
        # INIT: initiate tag, a_rwnd, 10 outbound / 10 inbound streams, TSN
        chunk = struct.pack("!BBHIIHHI", 1, 0, 20, 0x1000 + i, 65536, 10, 10, 1)
        hdr = struct.pack("!HHII", 20000 + i, dport, 0, 0)
        sctp = hdr[:8] + struct.pack("<I", crc32c(hdr + chunk)) + chunk
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(sctp), i & 0xFFFF, 0, 64, 132, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        frames.append(eth + ip + sctp)
    print("flooding", flush=True)
    sent = refused = 0
    while not os.path.exists(stopfile):
        for f in frames:
            try:
                s.send(f)
                sent += 1
            except OSError:
                # ENOBUFS: the veth peer's ring is full; a flood goes on.
                refused += 1
    print("sent %d refused %d" % (sent, refused), flush=True)
    return 0


def pcap_crc(path):
    right = wrong = zero = 0
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 132:
            continue
        ihl = (frame[14] & 15) * 4
        end = 14 + struct.unpack_from("!H", frame, 16)[0]
        sctp = frame[14 + ihl:end]
        field = struct.unpack_from("<I", sctp, 8)[0]
        if crc32c(sctp[:8] + bytes(4) + sctp[12:]) == field:
            right += 1
        elif field == 0:
            zero += 1
        else:
            wrong += 1
    print("right %d wrong %d zero %d" % (right, wrong, zero))
    return 0


def main(a):
    if a[0] == "sctp-server":
        serve("sctp", a[1], int(a[2]))
    elif a[0] == "dccp-server":
        serve("dccp", a[1], int(a[2]), a[3].split(","))
    elif a[0] == "sctp-client":
        return client("sctp", a[1], int(a[2]), int(a[3]), float(a[4]))
    elif a[0] == "sctp-frame":
        return sctp_frame(a[1], a[2], a[3], a[4], int(a[5]), a[6] == "good")
    elif a[0] == "sctp-mh-client":
        return mh_client(a[1], a[2], int(a[3]), int(a[4]), a[5], float(a[6]))
    elif a[0] == "init-flood":
        return init_flood(a[1], a[2], a[3], int(a[4]), int(a[5]), a[6])
    elif a[0] == "pcap-crc":
        return pcap_crc(a[1])
    elif a[0] == "dccp-client":
        return client("dccp", a[1], int(a[2]), int(a[5]), float(a[6]), a[3], int(a[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
