#!/usr/bin/python3
"""Print the DNS options (RDNSS, RFC 8106) the kernel passes to userspace.

Linux keeps no DNS state of its own: it hands RA options meant for userspace
(RDNSS, DNSSL, ...) to whoever listens on the rtnetlink group
RTNLGRP_ND_USEROPT, as rdnssd and systemd-networkd do. This listener is such
a consumer: one line per RDNSS option, "rdnss <ifindex> <router> <lifetime>
<addr>...", so a test can tell whether the victim was told about a DNS
server. Run it inside the victim's namespace; standard library only.
"""
import ipaddress
import socket
import struct
import sys

RTNLGRP_ND_USEROPT = 20
RTM_NEWNDUSEROPT = 68
NDUSEROPT_SRCADDR = 1
ND_OPT_RDNSS = 25
NDUSEROPT_HDR = struct.Struct("=BBHiBBHI")   # struct nduseroptmsg, 16 bytes


def main():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 1 << (RTNLGRP_ND_USEROPT - 1)))
    print("listening", flush=True)
    while True:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            nlen, ntype = struct.unpack_from("=IH", data, off)
            if nlen < 16:
                break
            if ntype == RTM_NEWNDUSEROPT:
                handle(data[off + 16:off + nlen])
            off += (nlen + 3) & ~3


def handle(msg):
    _fam, _p1, optlen, ifindex, _t, _c, _p2, _p3 = NDUSEROPT_HDR.unpack_from(msg)
    opts = msg[16:16 + optlen]
    src = "?"
    a = 16 + ((optlen + 3) & ~3)
    while a + 4 <= len(msg):
        alen, atype = struct.unpack_from("=HH", msg, a)
        if alen < 4:
            break
        if atype == NDUSEROPT_SRCADDR and alen >= 20:
            src = str(ipaddress.IPv6Address(msg[a + 4:a + 20]))
        a += (alen + 3) & ~3
    o = 0
    while o + 8 <= len(opts):
        otype, olen = opts[o], opts[o + 1] * 8
        if olen == 0:
            break
        if otype == ND_OPT_RDNSS and olen >= 24:
            life = struct.unpack_from("!I", opts, o + 4)[0]
            addrs = [str(ipaddress.IPv6Address(opts[i:i + 16]))
                     for i in range(o + 8, o + olen - 15, 16)]
            print("rdnss", ifindex, src, life, *addrs, flush=True)
        o += olen


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
