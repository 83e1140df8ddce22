#!/usr/bin/python3
"""Helpers for selftests/vm/pim_register.sh and isatap_cycle.sh: the ip6mr
side of PIM Register tests (the kernel's, driven through a raw ICMPv6
socket as a routing daemon drives it), traffic, and a Register checker.

  pim_lab.py dr DIR IN_IF OUT_IF SOURCE GROUP,...
      MRT6_INIT; MIF 0 = IN_IF, MIF 1 = OUT_IF (an umigame-pimreg device);
      an (SOURCE, GROUP) entry from MIF 0 to MIF 1 for each GROUP. Touches
      DIR/ready, then holds the socket until killed.
  pim_lab.py rp DIR OUT_IF SOURCE GROUP,...
      The RP's kernel side: MRT6_INIT, MRT6_PIM on, MIF 0 the register MIF
      (MIFF_REGISTER: pim6reg decapsulates Registers), MIF 1 = OUT_IF, an
      (SOURCE, GROUP) entry from MIF 0 to MIF 1 each. DIR/ready, then holds.
  pim_lab.py mifs DIR
      MRT6_INIT only; then, each time DIR/add appears holding an interface
      name, makes it MIF 1 and writes DIR/added (or DIR/failed with the
      error). For load/unload cycles with a MIF in place.
  pim_lab.py send IF SOURCE GROUP PORT COUNT SIZE
      COUNT UDP datagrams from SOURCE to GROUP (hop limit 8) of SIZE bytes:
      "NNNNNN:" then a byte pattern that depends on N.
  pim_lab.py recv DIR IF GROUP PORT
      Joins GROUP on IF and appends each datagram to DIR/got as a hex line;
      DIR/ready once joined.
  pim_lab.py expect COUNT SIZE
      The hex lines `send COUNT SIZE` produces, for comparing with DIR/got.
  pim_lab.py raw-register SRC RP SOURCE GROUP PORT BAD
      One PIM Register from SRC to RP by a raw socket (IPPROTO_PIM), around
      a UDP datagram SOURCE -> GROUP whose payload is "raw-register";
      BAD=1 gets its checksum wrong.
  pim_lab.py write IF HEX
      Hands the bytes HEX to IF as an IPv6 packet (AF_PACKET, SOCK_DGRAM):
      what a routing daemon does for a Null-Register.
  pim_lab.py check PCAP RP
      Every IPv6 packet to RP with next header 103 in PCAP, checked against
      RFC 7761 §4.9 / §4.9.3 with a checksum computed here; prints
      "registers N null N border N bad N first_inner_hlim H" and, for each
      bad one, why. Also prints "ptb MTU" for each ICMPv6 Packet Too Big.
"""
import os
import socket
import struct
import sys
import time

IPPROTO_PIM = 103
MRT6_INIT, MRT6_ADD_MIF, MRT6_ADD_MFC, MRT6_PIM = 200, 202, 204, 208
MIFF_REGISTER = 1
ETH_P_IPV6 = 0x86DD


def mroute_socket():
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, MRT6_INIT, struct.pack("i", 1))
    return s


def add_mif(s, mifi, ifname, flags=0):
    pifi = socket.if_nametoindex(ifname) if ifname else 0
    # struct mif6ctl: mifi, flags, threshold, pifi, rate limit
    s.setsockopt(socket.IPPROTO_IPV6, MRT6_ADD_MIF, struct.pack("@HBBHI", mifi, flags, 1, pifi, 0))


def sockaddr6(addr):
    return struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, socket.inet_pton(socket.AF_INET6, addr), 0)


def add_mfc(s, source, group, parent, outs):
    bits = [0] * 8  # struct if_set: 256 bits
    for m in outs:
        bits[m // 32] |= 1 << (m % 32)
    # struct mf6cctl: origin, group, parent MIF, output set
    s.setsockopt(socket.IPPROTO_IPV6, MRT6_ADD_MFC,
                 sockaddr6(source) + sockaddr6(group) + struct.pack("@H2x8I", parent, *bits))


def hold(d):
    open(os.path.join(d, "ready"), "w").close()
    while True:
        time.sleep(3600)


def payload(n, size):
    head = b"%06d:" % n
    body = bytes((n * 7 + i) & 0xFF for i in range(max(0, size - len(head))))
    return (head + body)[:size]


def send(ifname, source, group, port, count, size):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((source, 0))
    ifindex = socket.if_nametoindex(ifname)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 8)
    sent = 0
    for n in range(count):
        try:
            s.sendto(payload(n, size), (group, port, 0, ifindex))
            sent += 1
        except OSError as e:  # EMSGSIZE once a Packet Too Big came back
            print("send %d: %s" % (n, e.strerror), flush=True)
        time.sleep(0.002)
    print("sent %d" % sent, flush=True)


def recv(d, ifname, group, port):
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((group, port, 0, ifindex))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                 socket.inet_pton(socket.AF_INET6, group) + struct.pack("=I", ifindex))
    out = open(os.path.join(d, "got"), "a", buffering=1)
    open(os.path.join(d, "ready"), "w").close()
    while True:
        out.write(s.recv(65536).hex() + "\n")


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def pim_checksum(src, dst, reg_header):
    # RFC 7761 §4.9: the IPv6 pseudo-header, with the Register header's
    # length (8) as the upper-layer length (§4.9.3), and the 8 bytes.
    pseudo = src + dst + struct.pack("!I3xB", len(reg_header), IPPROTO_PIM)
    return (~csum16(pseudo + reg_header)) & 0xFFFF


def udp6(source, group, sport, dport, data):
    s, g = socket.inet_pton(socket.AF_INET6, source), socket.inet_pton(socket.AF_INET6, group)
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = (~csum16(s + g + struct.pack("!I3xB", len(udp), 17) + udp)) & 0xFFFF
    udp = udp[:6] + struct.pack("!H", c or 0xFFFF) + udp[8:]
    return struct.pack("!IHBB", 6 << 28, len(udp), 17, 8) + s + g + udp


def raw_register(src, rp, source, group, port, bad):
    inner = udp6(source, group, 5555, port, b"raw-register")
    header = struct.pack("!BBHI", 0x21, 0, 0, 0)
    c = pim_checksum(socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, rp), header)
    if bad:
        c ^= 0x0101
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_PIM)
    s.bind((src, 0))
    s.sendto(header[:2] + struct.pack("!H", c) + header[4:] + inner, (rp, 0))


def write(ifname, hexdata):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6))
    s.sendto(bytes.fromhex(hexdata), (ifname, ETH_P_IPV6))


def pcap_packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 1:  # Ethernet
            if frame[12:14] != b"\x86\xdd":
                continue
            frame = frame[14:]
        elif linktype == 113:  # Linux cooked
            frame = frame[16:]
        yield frame


def check(path, rp):
    rp_bytes = socket.inet_pton(socket.AF_INET6, rp)
    registers = null = border = bad = 0
    first_hlim = None
    for ip in pcap_packets(path):
        if len(ip) < 40 or ip[0] >> 4 != 6:
            continue
        if ip[6] == 58 and len(ip) >= 48 and ip[40] == 2:
            print("ptb %d" % struct.unpack("!I", ip[44:48])[0])
            continue
        if ip[6] != IPPROTO_PIM or ip[24:40] != rp_bytes:
            continue
        plen = struct.unpack("!H", ip[4:6])[0]
        pim = ip[40:40 + plen]
        why = None
        if len(pim) < 8 + 40:
            why = "shorter than a Register header and an IPv6 header"
        elif pim[0] != 0x21:
            why = "not PIM version 2 type 1 (0x%02x)" % pim[0]
        elif pim_checksum(ip[8:24], ip[24:40], pim[:2] + b"\0\0" + pim[4:8]) != struct.unpack("!H", pim[2:4])[0]:
            why = "checksum 0x%04x, RFC 7761 says 0x%04x" % (
                struct.unpack("!H", pim[2:4])[0], pim_checksum(ip[8:24], ip[24:40], pim[:2] + b"\0\0" + pim[4:8]))
        else:
            flags = struct.unpack("!I", pim[4:8])[0]
            inner = pim[8:]
            if flags & ~0xC0000000:
                why = "reserved flag bits set: 0x%08x" % flags
            elif inner[0] >> 4 != 6 or inner[24] != 0xFF:
                why = "the inner packet is not IPv6 multicast"
            elif flags & 0x40000000:
                null += 1
                if struct.unpack("!H", inner[4:6])[0] != 0:
                    why = "a Null-Register with a payload"
            else:
                registers += 1
                if first_hlim is None:
                    first_hlim = inner[7]
                if 40 + struct.unpack("!H", inner[4:6])[0] != len(inner):
                    why = "inner length %d, its header says %d" % (len(inner), 40 + struct.unpack("!H", inner[4:6])[0])
            if flags & 0x80000000:
                border += 1
        if why:
            bad += 1
            print("bad: " + why)
    print("registers %d null %d border %d bad %d first_inner_hlim %s" % (registers, null, border, bad, first_hlim))


def mifs(d):
    s = mroute_socket()
    add_path = os.path.join(d, "add")
    open(os.path.join(d, "ready"), "w").close()
    while True:
        if os.path.exists(add_path):
            with open(add_path) as f:
                ifname = f.read().strip()
            os.unlink(add_path)
            try:
                add_mif(s, 1, ifname)
                open(os.path.join(d, "added"), "w").close()
            except OSError as e:
                with open(os.path.join(d, "failed"), "w") as f:
                    f.write("%s: %s\n" % (ifname, e.strerror))
        time.sleep(0.02)


def main(a):
    if a[0] == "dr":
        s = mroute_socket()
        add_mif(s, 0, a[2])
        add_mif(s, 1, a[3])
        for g in a[5].split(","):
            add_mfc(s, a[4], g, 0, [1])
        hold(a[1])
    elif a[0] == "rp":
        s = mroute_socket()
        s.setsockopt(socket.IPPROTO_IPV6, MRT6_PIM, struct.pack("i", 1))
        add_mif(s, 0, None, MIFF_REGISTER)
        add_mif(s, 1, a[2])
        for g in a[4].split(","):
            add_mfc(s, a[3], g, 0, [1])
        hold(a[1])
    elif a[0] == "mifs":
        mifs(a[1])
    elif a[0] == "send":
        send(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]))
    elif a[0] == "recv":
        recv(a[1], a[2], a[3], int(a[4]))
    elif a[0] == "expect":
        for n in range(int(a[1])):
            print(payload(n, int(a[2])).hex())
    elif a[0] == "raw-register":
        raw_register(a[1], a[2], a[3], a[4], int(a[5]), a[6] == "1")
    elif a[0] == "write":
        write(a[1], a[2])
    elif a[0] == "check":
        check(a[1], a[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
