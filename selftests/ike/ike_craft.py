#!/usr/bin/python3
# ike_craft.py — hand-made IKEv2 datagrams for selftests/ike/*_netns.sh,
# built with scapy's IKEv2 layers (scapy.contrib.ikev2) and then broken on
# purpose where a test needs a lie on the wire.
#
#   ike_craft.py probe DST KIND     send one datagram of KIND from our own
#                                   UDP socket (port 500), then a probe (an
#                                   IKE_SA_INIT of major version 3, which
#                                   the responder must answer with
#                                   INVALID_MAJOR_VERSION, RFC 7296 §2.5).
#                                   The responder handles datagrams of one
#                                   socket in order, so whatever it answered
#                                   to KIND arrives before the probe's
#                                   answer. Prints JSON: {"replies": [...]
#                                   answers to KIND, "probe": {...} or null}
#   ike_craft.py flood DST COUNT PREFIX INTERVAL
#                                   COUNT well-formed IKE_SA_INITs, each from
#                                   a random address of PREFIX (IPv4, raw
#                                   socket, spoofed), INTERVAL s apart
#
# Run it with /usr/bin/python3 (Debian's scapy).
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time

from scapy.config import conf

conf.verb = 0
from scapy.contrib.ikev2 import (IKEv2, IKEv2_payload_KE, IKEv2_payload_Nonce,  # noqa: E402
                                 IKEv2_payload_Proposal, IKEv2_payload_SA, IKEv2_payload_Transform)
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.packet import raw  # noqa: E402

PROBE_SPI = 0x50524F4245000001  # "PROBE" …
IKE_SA_INIT, IKE_AUTH = 34, 35
NOTIFY = 41


def sa_init(spi=None, version=0x20, nonce_len=32, extra=b"", extra_type=0):
    """A well-formed IKE_SA_INIT for aes128gcm16-prfsha256-x25519 (what the
    test's responder accepts). extra/extra_type: one more payload appended
    to the chain (its generic header included in extra)."""
    spi = spi if spi is not None else random.getrandbits(64) | 1
    trans = (IKEv2_payload_Transform(next_payload="Transform", length=12, transform_type=1, transform_id=20, key_length=128) /
             IKEv2_payload_Transform(next_payload="Transform", transform_type=2, transform_id=5) /
             IKEv2_payload_Transform(next_payload="last", transform_type=4, transform_id=31))
    prop = IKEv2_payload_Proposal(proposal=1, proto=1, trans_nb=3, trans=trans)
    body = (IKEv2_payload_SA(next_payload="KE", prop=prop) /
            IKEv2_payload_KE(next_payload="Nonce", group=31, load=os.urandom(32)) /
            IKEv2_payload_Nonce(next_payload=extra_type or "None", load=os.urandom(nonce_len)))
    pkt = IKEv2(init_SPI=struct.pack(">Q", spi), resp_SPI=b"\0" * 8, next_payload="SA", exch_type=IKE_SA_INIT,
                flags="Initiator", id=0) / body
    data = bytearray(raw(pkt))
    data[17] = version
    data += extra
    struct.pack_into(">I", data, 24, len(data))
    return bytes(data)


def first_payload_length(data, value):
    data = bytearray(data)
    struct.pack_into(">H", data, 28 + 2, value)
    return bytes(data)


def header_length(data, value):
    data = bytearray(data)
    struct.pack_into(">I", data, 24, value)
    return bytes(data)


def kind_datagram(kind):
    base = sa_init()
    if kind == "truncated":  # §3.1: shorter than the fixed header
        return base[:20]
    if kind == "hdr_len_long":  # the header claims more than arrived
        return header_length(base, len(base) + 100)
    if kind == "hdr_len_short":  # the header claims less than arrived
        return header_length(base, len(base) - 8)
    if kind == "hdr_len_huge":
        return header_length(base, 0xFFFFFFFF)
    if kind == "pl_len_past_end":  # the SA payload runs past the end
        return first_payload_length(base, len(base) - 28 + 40)
    if kind == "pl_len_small":  # less than the generic payload header
        return first_payload_length(base, 2)
    if kind == "pl_len_huge":
        return first_payload_length(base, 0xFFFF)
    if kind == "nonce_huge":  # §3.9: a nonce is at most 256 octets
        return sa_init(nonce_len=300)
    if kind == "critical":  # §2.5: type 200, critical bit, 4 octets of data
        return sa_init(extra=bytes([0, 0x80, 0, 8]) + b"\xde\xad\xbe\xef", extra_type=200)
    if kind == "major3":
        return sa_init(version=0x30)
    if kind == "bad_spi":  # IKE_AUTH on SPIs the responder never made
        hdr = struct.pack(">QQBBBBII", random.getrandbits(64) | 1, random.getrandbits(64) | 1, 46, 0x20,
                          IKE_AUTH, 0x08, 1, 0)
        sk = bytes([0, 0, 0, 4 + 48]) + os.urandom(48)
        return header_length(hdr + sk, 28 + len(sk))
    if kind == "valid":
        return base
    raise SystemExit(f"unknown kind {kind}")


def describe(data):
    """Header and notify types of a reply (enough for the test's checks)."""
    if len(data) < 28:
        return {"short": len(data)}
    spi_i, spi_r, nxt, ver, exch, flags, mid, length = struct.unpack(">QQBBBBII", data[:28])
    out = {"spi_i": f"{spi_i:016x}", "spi_r": f"{spi_r:016x}", "major": ver >> 4, "minor": ver & 15,
           "exchange": exch, "flags": flags, "message_id": mid, "length": length, "notifies": []}
    off = 28
    while nxt and off + 4 <= len(data):
        plen = struct.unpack(">H", data[off + 2:off + 4])[0]
        if plen < 4 or off + plen > len(data):
            out["broken"] = True
            break
        if nxt == NOTIFY and plen >= 8:
            spi_size = data[off + 5]
            ntype = struct.unpack(">H", data[off + 6:off + 8])[0]
            out["notifies"].append({"type": ntype, "data": data[off + 8 + spi_size:off + plen].hex()})
        nxt = data[off]
        off += plen
    return out


def probe(dst, kind):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", 500))
    s.sendto(kind_datagram(kind), (dst, 500))
    s.sendto(sa_init(spi=PROBE_SPI, version=0x30), (dst, 500))
    replies, probe_reply = [], None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            break
        d = describe(data)
        if d.get("spi_i") == f"{PROBE_SPI:016x}":
            probe_reply = d
            break
        replies.append(d)
    print(json.dumps({"kind": kind, "replies": replies, "probe": probe_reply}))


def flood(dst, count, prefix, interval):
    net = ipaddress.ip_network(prefix)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for _ in range(count):
        src = str(net[random.randrange(1, net.num_addresses - 1)])
        pkt = IP(src=src, dst=dst) / UDP(sport=500, dport=500) / sa_init()
        s.sendto(raw(pkt), (dst, 0))
        if interval:
            time.sleep(interval)
    print(f"sent {count}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 6 and sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        raise SystemExit(__doc__)
