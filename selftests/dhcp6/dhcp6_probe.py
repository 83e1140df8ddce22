#!/usr/bin/python3
"""One DHCPv6 message to the server under test, and what came back.

    dhcp6_probe.py [--iface IF] [--dst ADDR] [--src ADDR] [--relay LINK]
                   [--client N] [--timeout S] KIND [--ia-pd IAID]...
                   [--ia-na IAID]... [--address A]... [--oro CODE]...

KIND is solicit, confirm or info (Information-request). The message goes to
DST (default ff02::1:2 on IF) from SRC (default any) port 546; with --relay
it is wrapped in a Relay-Forward whose link-address is LINK and sent from
port 547, as a relay would. Prints one line of JSON: the answer (unwrapped
from its Relay-Reply, whose levels are listed), or null when nothing came
within the timeout.

For the server tests: messages no real client sends on demand (a Solicit on
a link with nothing to offer, a unicast Information-request, a Confirm of
chosen addresses, a Relay-Forward from an address of our choice). The wire
format is written out here (RFC 8415 §8, §9, §21) rather than with scapy,
whose start costs seconds.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

NAMES = {1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm", 5: "Renew", 6: "Rebind",
         7: "Reply", 8: "Release", 9: "Decline", 10: "Reconfigure", 11: "Information-request",
         12: "Relay-forward", 13: "Relay-reply"}
STATUS = {0: "Success", 1: "UnspecFail", 2: "NoAddrsAvail", 3: "NoBinding", 4: "NotOnLink",
          5: "UseMulticast", 6: "NoPrefixAvail"}
OPTION_CLIENTID, OPTION_IA_NA, OPTION_IAADDR, OPTION_ORO = 1, 3, 5, 6
OPTION_ELAPSED_TIME, OPTION_RELAY_MSG, OPTION_STATUS_CODE = 8, 9, 13
OPTION_IA_PD, OPTION_IAPREFIX = 25, 26


def opt(code, data=b""):
    return struct.pack("!HH", code, len(data)) + data


def options_of(data):
    out, pos = [], 0
    while pos + 4 <= len(data):
        code, length = struct.unpack_from("!HH", data, pos)
        out.append((code, data[pos + 4:pos + 4 + length]))
        pos += 4 + length
    return out


def status_of(options):
    for code, data in options:
        if code == OPTION_STATUS_CODE and len(data) >= 2:
            return STATUS.get(struct.unpack_from("!H", data)[0], "status%d" % struct.unpack_from("!H", data)[0])
    return None


def describe(wire):
    out = {"relay": []}
    while wire and wire[0] in (12, 13) and len(wire) >= 34:
        out["relay"].append({"type": NAMES[wire[0]], "hop_count": wire[1],
                             "link": socket.inet_ntop(socket.AF_INET6, wire[2:18]),
                             "peer": socket.inet_ntop(socket.AF_INET6, wire[18:34])})
        inner = [d for c, d in options_of(wire[34:]) if c == OPTION_RELAY_MSG]
        wire = inner[0] if inner else b""
    if len(wire) < 4:
        return None
    options = options_of(wire[4:])
    out.update({"type": NAMES.get(wire[0], "type%d" % wire[0]),
                "xid": int.from_bytes(wire[1:4], "big"),
                "status": status_of(options),
                "options": sorted({c for c, _ in options}),
                "ia_pd": [], "ia_na": []})
    for code, data in options:
        if code == OPTION_IA_PD and len(data) >= 12:
            iaid, t1, t2 = struct.unpack_from("!III", data)
            inner = options_of(data[12:])
            prefixes = []
            for c, d in inner:
                if c == OPTION_IAPREFIX and len(d) >= 25:
                    preferred, valid, length = struct.unpack_from("!IIB", d)
                    prefixes.append({"prefix": "%s/%d" % (socket.inet_ntop(socket.AF_INET6, d[9:25]), length),
                                     "valid": valid})
            out["ia_pd"].append({"iaid": iaid, "t1": t1, "t2": t2, "status": status_of(inner),
                                 "prefixes": prefixes})
        elif code == OPTION_IA_NA and len(data) >= 12:
            iaid, t1, t2 = struct.unpack_from("!III", data)
            inner = options_of(data[12:])
            addresses = [socket.inet_ntop(socket.AF_INET6, d[:16]) for c, d in inner
                         if c == OPTION_IAADDR and len(d) >= 24]
            out["ia_na"].append({"iaid": iaid, "t1": t1, "t2": t2, "status": status_of(inner),
                                 "addresses": addresses})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["solicit", "confirm", "info"])
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--dst", default="ff02::1:2")
    ap.add_argument("--src", default="::")
    ap.add_argument("--relay", metavar="LINK")
    ap.add_argument("--client", type=int, default=1, help="DUID-LL 02:00:00:00:99:N")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--ia-pd", type=int, action="append", default=[])
    ap.add_argument("--ia-na", type=int, action="append", default=[])
    ap.add_argument("--address", action="append", default=[], help="in one IA_NA (Confirm)")
    ap.add_argument("--oro", type=int, action="append", default=[])
    a = ap.parse_args()

    xid = int.from_bytes(os.urandom(3), "big")
    duid = struct.pack("!HH", 3, 1) + bytes([2, 0, 0, 0, 0x99, a.client & 0xff])
    options = [opt(OPTION_CLIENTID, duid), opt(OPTION_ELAPSED_TIME, b"\0\0")]
    for iaid in a.ia_pd:
        options.append(opt(OPTION_IA_PD, struct.pack("!III", iaid, 0, 0)))
    for iaid in a.ia_na:
        options.append(opt(OPTION_IA_NA, struct.pack("!III", iaid, 0, 0)))
    if a.address:
        addresses = b"".join(opt(OPTION_IAADDR, socket.inet_pton(socket.AF_INET6, x) + b"\0" * 8)
                             for x in a.address)
        options.append(opt(OPTION_IA_NA, struct.pack("!III", 1, 0, 0) + addresses))
    if a.oro:
        options.append(opt(OPTION_ORO, b"".join(struct.pack("!H", c) for c in a.oro)))
    kind = {"solicit": 1, "confirm": 4, "info": 11}[a.kind]
    wire = bytes([kind]) + xid.to_bytes(3, "big") + b"".join(options)
    port = 546
    if a.relay:
        # RFC 8415 §9.1: hop-count 0, link-address, peer-address (the client's).
        wire = (bytes([12, 0]) + socket.inet_pton(socket.AF_INET6, a.relay) +
                socket.inet_pton(socket.AF_INET6, "fe80::c1") + opt(OPTION_RELAY_MSG, wire))
        port = 547

    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    scope = socket.if_nametoindex(a.iface)
    s.bind((a.src, port, 0, scope if a.src.startswith("fe80") else 0))
    dst_scope = scope if a.dst.startswith(("fe80", "ff02")) else 0
    if a.dst.startswith("ff"):
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope)
    s.sendto(wire, (a.dst, 547, 0, dst_scope))
    deadline = time.monotonic() + a.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            print("null")
            return 0
        answer = describe(s.recv(65536))
        if answer and answer.get("xid") == xid:
            print(json.dumps(answer))
            return 0


if __name__ == "__main__":
    sys.exit(main())
