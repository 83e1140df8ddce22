#!/usr/bin/python3
"""Helpers for selftests/vm/mld_proxy.sh, one long-lived process per network
namespace (a Python start costs about a second under TCG).

  mld_lab.py listen DIR IFNAME PORT NAME/MODE/GROUP[/SOURCE,...] ...
      One socket per receiver NAME, joined as MODE says: asm
      (IPV6_JOIN_GROUP), ssm (MCAST_JOIN_SOURCE_GROUP per source), block
      (MCAST_JOIN_GROUP, then MCAST_BLOCK_SOURCE per source). Each datagram
      goes to DIR/NAME.log as "SEQ SOURCE GROUP". An AF_PACKET socket on
      IFNAME logs every UDP datagram to PORT seen on the wire to
      DIR/wire.log ("SEQ SOURCE GROUP TIME"), and every MLDv2 Report as
      "REPORT TIME TYPE GROUP SOURCES" lines. DIR/NAME.leave appearing makes
      NAME close its socket (the kernel then reports the leave);
      DIR/NAME.leftat gets the time. MLD Queries seen are logged as
      "QUERY TIME SOURCE LENGTH GROUP". DIR/v1 appearing, holding
      "report GROUP" or "done GROUP", sends that MLDv1 message (RFC 2710
      §3: hop limit 1, Router Alert, from IFNAME's link-local address) as an
      MLDv1 host would, and until the Done answers every query for the
      group (general or its own) with a Report; DIR/v1.sent gets the time.
  mld_lab.py listen-incoming DIR IFNAME PORT NAME/MODE/GROUP[/SOURCE,...] ...
      The same, with only the frames that arrive on IFNAME on the wire log,
      none this namespace sends (PACKET_IGNORE_OUTGOING): for a namespace
      that floods the link itself.
  mld_lab.py send DIR IFNAME PORT INTERVAL_MS SOURCE,... GROUP,...
      Every INTERVAL_MS, one datagram from each SOURCE to each GROUP
      (hop limit 8), payload "SEQ"; DIR/seq holds the last round sent.
      DIR/query appearing sends an MLDv2 General Query (hop limit 1,
      Router Alert, link-local source, Max Resp Code 1000) on IFNAME.
  mld_lab.py bad IFNAME
      Send MLD messages that lie about their lengths and counts (hop limit
      1, Router Alert, to ff02::16), one valid MLDv2 Report with hop limit 2
      and one without a Router Alert; print how many of each kind.
  mld_lab.py joinmany DIR IFNAME COUNT
      Join COUNT groups ff0e::10:0 upwards (sockets of 200 joins each) and
      stay; DIR/joined appears once every join is done.
  mld_lab.py joinbench IFNAME PORT GROUP COUNT QUIET_MS
      COUNT times: join GROUP (ASM) on a fresh socket and time from its
      MLDv2 Report on the wire (the tap on IFNAME) to the first datagram
      at the socket; leave; then wait until GROUP has been silent on the
      wire for QUIET_MS (0: no wait). Prints one time in ms per join
      ("timeout" after 5 s).
  mld_lab.py reports IFNAME RATE SECONDS
      Send RATE valid MLDv2 Reports a second (IS_EX of one of 100 groups)
      for SECONDS; print how many were sent.
"""
import os
import select
import socket
import struct
import sys
import time

MCAST_JOIN_GROUP = 42
MCAST_BLOCK_SOURCE = 43
MCAST_JOIN_SOURCE_GROUP = 46
IPV6_HOPOPTS = 54
ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
SO_RCVBUFFORCE = 33
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23


def sockaddr(addr):
    raw = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, socket.inet_pton(socket.AF_INET6, addr), 0)
    return raw + b"\0" * (128 - len(raw))


def group_req(ifindex, group):
    return struct.pack("=I4x", ifindex) + sockaddr(group)


def group_source_req(ifindex, group, source):
    return struct.pack("=I4x", ifindex) + sockaddr(group) + sockaddr(source)


def listen(d, ifname, port, specs, incoming_only=False):
    ifindex = socket.if_nametoindex(ifname)
    receivers = {}
    for spec in specs:
        name, mode, group, *rest = spec.split("/")
        sources = rest[0].split(",") if rest and rest[0] else []
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((group, port, 0, ifindex))
        if mode == "asm":
            mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("=I", ifindex)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        elif mode == "ssm":
            for src in sources:
                s.setsockopt(socket.IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, group_source_req(ifindex, group, src))
        elif mode == "block":
            s.setsockopt(socket.IPPROTO_IPV6, MCAST_JOIN_GROUP, group_req(ifindex, group))
            for src in sources:
                s.setsockopt(socket.IPPROTO_IPV6, MCAST_BLOCK_SOURCE, group_source_req(ifindex, group, src))
        receivers[name] = (s, open(os.path.join(d, name + ".log"), "a", buffering=1), group)
    # ETH_P_ALL: frames both ways, and ahead of a bridge that IFNAME may
    # become a port of (a tap for one protocol sees neither).
    wire = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    wire.bind((ifname, ETH_P_ALL))
    # The source's 400 datagrams a second pass here too: room to fall
    # behind under TCG without losing frames, each wakeup drains the
    # socket, and what the kernel dropped anyway goes to DIR/wire.drops
    # (PACKET_STATISTICS), so a missing frame is not mistaken for one
    # never sent.
    wire.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    if incoming_only:
        # In the kernel: atk6-flood_mld26 run from this namespace sends
        # hundreds of thousands of frames, and this one process also
        # serves the receivers' sockets.
        wire.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    wire.setblocking(False)
    drops = 0
    wire_log = open(os.path.join(d, "wire.log"), "a", buffering=1)
    v1_groups = set()
    open(os.path.join(d, "ready"), "w").close()
    while True:
        socks = [r[0] for r in receivers.values()] + [wire]
        ready, _, _ = select.select(socks, [], [], 0.05)
        for name in list(receivers):
            if os.path.exists(os.path.join(d, name + ".leave")):
                receivers[name][0].close()
                with open(os.path.join(d, name + ".leftat"), "w") as f:
                    f.write("%.6f\n" % time.time())
                del receivers[name]
        v1 = os.path.join(d, "v1")
        if os.path.exists(v1):
            with open(v1) as f:
                kind, group = f.read().split()
            os.unlink(v1)
            mldv1(ifname, kind, group)
            if kind == "report":
                v1_groups.add(group)
            else:
                v1_groups.discard(group)
            with open(os.path.join(d, "v1.sent"), "a") as f:
                f.write("%s %s %.6f\n" % (kind, group, time.time()))
        for s in ready:
            if s is wire:
                while True:
                    try:
                        frame, addr = wire.recvfrom(65536)
                    except BlockingIOError:
                        break
                    try:
                        queried = log_frame(frame, port, wire_log)
                    except (ValueError, struct.error):
                        queried = None
                    # RFC 2710 §4: an MLDv1 host answers queries (not our own
                    # frames: addr[2] is the packet type, 4 = outgoing).
                    if queried is not None and addr[2] != socket.PACKET_OUTGOING:
                        for g in v1_groups:
                            if queried in ("::", g):
                                mldv1(ifname, "report", g)
                # tpacket_stats: packets, drops (both since the last read)
                _, dropped = struct.unpack("=II", wire.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
                if dropped:
                    drops += dropped
                    with open(os.path.join(d, "wire.drops"), "w") as f:
                        f.write("%d\n" % drops)
                continue
            for name, (rs, log, group) in receivers.items():
                if rs is s:
                    data, addr = s.recvfrom(2048)
                    log.write("%s %s %s\n" % (data.decode(errors="replace"), addr[0], group))


def log_frame(frame, port, log):
    """UDP to PORT, MLD Queries and MLDv2 Reports, from an Ethernet frame;
    returns the group of a Query (:: for a general one), else None."""
    if frame[12:14] != b"\x86\xdd":
        return
    ip = frame[14:]
    if len(ip) < 40:
        return
    nxt = ip[6]
    src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
    dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
    off = 40
    if nxt == 0 and len(ip) >= off + 8:  # hop-by-hop
        nxt = ip[off]
        off += (ip[off + 1] + 1) * 8
    now = time.time()
    if nxt == 17 and len(ip) >= off + 8:
        dport = struct.unpack("!H", ip[off + 2:off + 4])[0]
        if dport == port:
            log.write("%s %s %s %.6f\n" % (ip[off + 8:].decode(errors="replace"), src, dst, now))
    elif nxt == 58 and len(ip) >= off + 24 and ip[off] == 130:
        length = struct.unpack("!H", ip[4:6])[0] - (off - 40)
        group = socket.inet_ntop(socket.AF_INET6, ip[off + 8:off + 24])
        log.write("QUERY %.6f %s %d %s\n" % (now, src, length, group))
        return group
    elif nxt == 58 and len(ip) > off and ip[off] == 143 and len(ip) >= off + 8:
        count = struct.unpack("!H", ip[off + 6:off + 8])[0]
        at = off + 8
        for _ in range(count):
            if len(ip) < at + 20:
                return
            rtype, aux, n = ip[at], ip[at + 1], struct.unpack("!H", ip[at + 2:at + 4])[0]
            if len(ip) < at + 20 + 16 * n:
                return  # a record that lies about its sources (the bad-input test sends them)
            group = socket.inet_ntop(socket.AF_INET6, ip[at + 4:at + 20])
            srcs = [socket.inet_ntop(socket.AF_INET6, ip[at + 20 + 16 * i:at + 36 + 16 * i]) for i in range(n)]
            log.write("REPORT %.6f %d %s %s\n" % (now, rtype, group, ",".join(sorted(srcs)) or "-"))
            at += 20 + 16 * n + 4 * aux


def mld_send(ifname, message, to):
    """An MLD message as RFC 3810 §5 wants it: hop limit 1, Router Alert."""
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, bytes([0, 0, 5, 2, 0, 0, 1, 0]))
    s.sendto(message, (to, 0, 0, ifindex))
    s.close()


def general_query(ifname):
    # RFC 3810 §5.1: Max Resp Code 1000 ms, group ::, QRV 2, QQIC 125.
    mld_send(ifname, struct.pack("!BBHHH16sBBH", 130, 0, 0, 1000, 0, bytes(16), 2, 125, 0), "ff02::1")


def mldv1(ifname, kind, group):
    # RFC 2710 §3: Report (131) to the group, Done (132) to ff02::2.
    body = socket.inet_pton(socket.AF_INET6, group)
    if kind == "report":
        mld_send(ifname, struct.pack("!BBHHH", 131, 0, 0, 0, 0) + body, group)
    else:
        mld_send(ifname, struct.pack("!BBHHH", 132, 0, 0, 0, 0) + body, "ff02::2")


def send(d, ifname, port, interval_ms, sources, groups):
    ifindex = socket.if_nametoindex(ifname)
    socks = []
    for src in sources:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 8)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        socks.append(s)
    seq = 0
    next_at = time.monotonic()
    while True:
        seq += 1
        for s in socks:
            for g in groups:
                s.sendto(str(seq).encode(), (g, port, 0, ifindex))
        with open(os.path.join(d, "seq.tmp"), "w") as f:
            f.write("%d\n" % seq)
        os.replace(os.path.join(d, "seq.tmp"), os.path.join(d, "seq"))
        q = os.path.join(d, "query")
        if os.path.exists(q):
            os.unlink(q)
            general_query(ifname)
        next_at += interval_ms / 1000.0
        time.sleep(max(0, next_at - time.monotonic()))


def bad(ifname):
    g = socket.inet_pton(socket.AF_INET6, "ff0e::bad")
    s1 = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    lying = [
        struct.pack("!BBHHH", 143, 0, 0, 0, 1),                            # one record claimed, none there
        struct.pack("!BBHHH", 143, 0, 0, 0, 2) + struct.pack("!BBH", 4, 0, 0) + g,  # two claimed, one there
        struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 1, 0, 3) + g + s1,  # 3 sources, 1 there
        struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 1, 200, 0) + g,  # aux data past the end
        struct.pack("!BBHHH", 143, 0, 0, 0, 0xffff) + struct.pack("!BBH", 2, 0, 0) + g,  # 65535 records claimed
        struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 1, 0, 0) + g[:8],  # record cut short
        struct.pack("!BBHHH", 131, 0, 0, 0, 0) + g[:10],                   # MLDv1 Report of 18 bytes
        struct.pack("!BBHHH", 130, 0, 0, 1000, 0) + g + b"\0\0",           # 26-byte Query (§8.1)
        struct.pack("!BBHHH", 130, 0, 0, 1000, 0) + g + struct.pack("!BBH", 2, 125, 9) + s1,  # 9 sources, 1 there
    ]
    for m in lying:
        mld_send(ifname, m, "ff02::16")
    good = struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 2, 0, 0) + g
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 2)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, bytes([0, 0, 5, 2, 0, 0, 1, 0]))
    s.sendto(good, ("ff02::16", 0, 0, ifindex))  # hop limit 2: forwarded, not MLD
    s.close()
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    s.sendto(good, ("ff02::16", 0, 0, ifindex))  # no Router Alert
    s.close()
    print("malformed %d bad_hop_limit 1 no_router_alert 1" % len(lying))


def joinmany(d, ifname, count):
    ifindex = socket.if_nametoindex(ifname)
    socks = []
    s = None
    for i in range(count):
        if i % 200 == 0:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            socks.append(s)
        group = "ff0e::10:%x:%x" % (i >> 16, i & 0xffff)
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("=I", ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    open(os.path.join(d, "joined"), "w").close()
    while True:
        time.sleep(3600)


def joinbench(ifname, port, group, count, quiet_ms):
    ifindex = socket.if_nametoindex(ifname)
    tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    tap.bind((ifname, ETH_P_ALL))
    gbytes = socket.inet_pton(socket.AF_INET6, group)

    def frame_kind(frame):
        if frame[12:14] != b"\x86\xdd" or len(frame) < 54:
            return None
        ip = frame[14:]
        nxt, off = ip[6], 40
        if nxt == 0 and len(ip) >= 48:
            nxt, off = ip[40], 40 + (ip[41] + 1) * 8
        if ip[24:40] == gbytes and nxt == 17:
            return "data"
        if nxt == 58 and len(ip) > off and ip[off] == 143 and gbytes in ip[off:]:
            return "report"
        return None

    for _ in range(count):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((group, port, 0, ifindex))
        while True:  # drain what the tap holds from before
            r, _, _ = select.select([tap], [], [], 0)
            if not r:
                break
            tap.recv(65536)
        mreq = gbytes + struct.pack("=I", ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        reported = first = None
        deadline = time.monotonic() + 5
        while first is None and time.monotonic() < deadline:
            r, _, _ = select.select([tap, s], [], [], 0.1)
            now = time.monotonic()
            for x in r:
                if x is tap:
                    frame, addr = tap.recvfrom(65536)
                    if reported is None and addr[2] == socket.PACKET_OUTGOING and frame_kind(frame) == "report":
                        reported = now
                elif reported is not None:
                    s.recv(2048)
                    first = now
                else:
                    s.recv(2048)
        print("%.1f" % ((first - reported) * 1000) if first and reported else "timeout", flush=True)
        s.close()
        if quiet_ms:
            last = time.monotonic()
            while time.monotonic() - last < quiet_ms / 1000.0:
                r, _, _ = select.select([tap], [], [], 0.05)
                if r and frame_kind(tap.recv(65536)) == "data":
                    last = time.monotonic()


def reports(ifname, rate, seconds):
    ifindex = socket.if_nametoindex(ifname)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, bytes([0, 0, 5, 2, 0, 0, 1, 0]))
    msgs = [struct.pack("!BBHHH", 143, 0, 0, 0, 1) + struct.pack("!BBH", 2, 0, 0) +
            socket.inet_pton(socket.AF_INET6, "ff0e::20:%x" % i) for i in range(100)]
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            s.sendto(msgs[sent % 100], ("ff02::16", 0, 0, ifindex))
            sent += 1
        time.sleep(0.001)
    print(sent)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd in ("listen", "listen-incoming"):
        listen(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:], cmd == "listen-incoming")
    elif cmd == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6].split(","),
             sys.argv[7].split(","))
    elif cmd == "bad":
        bad(sys.argv[2])
    elif cmd == "joinbench":
        joinbench(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "reports":
        reports(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "joinmany":
        joinmany(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: see the docstring")
