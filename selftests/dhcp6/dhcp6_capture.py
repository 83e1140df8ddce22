#!/usr/bin/python3
"""Reads a capture taken on the ISP's side of the requesting router's WAN
link (Router Solicitations and Advertisements, DHCPv6) and checks, packet
by packet, what RFC 8415 and RFC 7084 say about the client's messages.

    dhcp6_capture.py PCAP dump
    dhcp6_capture.py PCAP CHECK [ARG]

Each CHECK prints one line saying what it found and exits 0 when it holds,
1 when it does not (2: the capture lacks what the check needs). Times are
the capture's, in seconds from its first packet.
"""
import sys

from scapy.all import ICMPv6ND_RA, ICMPv6ND_RS, IPv6, UDP, rdpcap
from scapy.layers.dhcp6 import DHCP6OptElapsedTime, DHCP6OptIA_NA, DHCP6OptIA_PD

NAMES = {1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm", 5: "Renew", 6: "Rebind",
         7: "Reply", 8: "Release", 9: "Decline", 10: "Reconfigure", 11: "Information-request"}


def events(path):
    out = []
    packets = rdpcap(path)
    t0 = float(packets[0].time) if packets else 0.0
    for p in packets:
        if IPv6 not in p:
            continue
        e = {"t": float(p.time) - t0, "src": p[IPv6].src}
        if ICMPv6ND_RS in p:
            e["kind"] = "RS"
        elif ICMPv6ND_RA in p:
            e["kind"] = "RA"
            e["M"] = bool(p[ICMPv6ND_RA].M)
        elif UDP in p and p[UDP].dport in (546, 547):
            raw = bytes(p[UDP].payload)
            if len(raw) < 4:
                continue
            e["kind"] = NAMES.get(raw[0], "type%d" % raw[0])
            e["xid"] = int.from_bytes(raw[1:4], "big")
            e["client"] = p[UDP].dport == 547
            e["elapsed"] = p[DHCP6OptElapsedTime].elapsedtime if DHCP6OptElapsedTime in p else None
            e["ia_na"] = sorted(o.iaid for o in iter_layers(p, DHCP6OptIA_NA))
            e["ia_pd"] = sorted(o.iaid for o in iter_layers(p, DHCP6OptIA_PD))
        else:
            continue
        out.append(e)
    return out


def iter_layers(p, layer):
    i = 1
    while True:
        found = p.getlayer(layer, i)
        if found is None:
            return
        yield found
        i += 1


def describe(e):
    s = "%8.3f %-11s from %s" % (e["t"], e["kind"], e["src"])
    if "M" in e:
        s += " M=%d" % e["M"]
    if "xid" in e:
        s += " xid %06x" % e["xid"]
        if e["elapsed"] is not None:
            s += " elapsed %d cs" % e["elapsed"]
        if e["ia_na"]:
            s += " IA_NA %s" % e["ia_na"]
        if e["ia_pd"]:
            s += " IA_PD %s" % e["ia_pd"]
    return s


def first(evs, pred):
    return next((e for e in evs if pred(e)), None)


def from_client(e, kind=None):
    return e.get("client") and (kind is None or e["kind"] == kind)


def verdict(ok, text):
    print(text)
    sys.exit(0 if ok else 1)


def need(thing, text):
    if thing is None:
        print("not in the capture: " + text)
        sys.exit(2)
    return thing


# RFC 7084 W-2: a Router Solicitation from the link-local address before
# the client's first DHCPv6 message.
def rs_first(evs, _):
    rs = need(first(evs, lambda e: e["kind"] == "RS"), "a Router Solicitation")
    msg = need(first(evs, from_client), "a DHCPv6 message from the client")
    verdict(rs["t"] < msg["t"] and rs["src"].startswith("fe80:"),
            "RS at %.3f s from %s, first DHCPv6 message (%s) at %.3f s" % (rs["t"], rs["src"], msg["kind"], msg["t"]))


# RFC 8415 §18.2.1 / RFC 7084 WAA-6: the first Solicit left once the RA
# answering the RS was in, and asks for an address (IA_NA) and a prefix,
# Elapsed Time 0 (§21.9: its first transmission).
def first_solicit_after_ra(evs, _):
    sol = need(first(evs, lambda e: from_client(e, "Solicit")), "a Solicit")
    rs = need(first(evs, lambda e: e["kind"] == "RS"), "a Router Solicitation")
    ra = first(evs, lambda e: e["kind"] == "RA" and e["M"] and e["t"] >= rs["t"])
    if ra is None or ra["t"] > sol["t"]:
        print("the first Solicit (%.3f s) left before any RA with M=1%s: its random delay ran out "
              "before the answer came" % (sol["t"], "" if ra is None else " (%.3f s)" % ra["t"]))
        sys.exit(2)
    verdict(sol["ia_na"] == [0] and sol["ia_pd"] != [] and sol["elapsed"] == 0,
            "RA (M=1) at %.3f s, first Solicit %.3f s later: IA_NA %s, IA_PD %s, elapsed %s"
            % (ra["t"], sol["t"] - ra["t"], sol["ia_na"], sol["ia_pd"], sol["elapsed"]))


# RFC 8415 §15: every Solicit before the Advertise is one exchange: one
# transaction-id; Elapsed Time counts from the first (§21.9); RT1 in
# (IRT, 1.1 IRT], then RT(k) = 2 RT(k-1) +/- RAND; all carry the same IAs
# as the first (no IA_NA: M was not known yet); and an RA with M = 1
# arrived in the middle of it.
def one_solicit_exchange(evs, _):
    adv = first(evs, lambda e: e["kind"] == "Advertise")
    end = adv["t"] if adv else float("inf")
    sols = [e for e in evs if from_client(e, "Solicit") and e["t"] < end]
    if len(sols) < 3:
        print("only %d Solicits before the Advertise" % len(sols))
        sys.exit(2)
    ra = need(first(evs, lambda e: e["kind"] == "RA" and e["M"]), "an RA with M=1")
    problems = []
    if not sols[0]["t"] < ra["t"] < sols[-1]["t"]:
        problems.append("the RA (%.3f s) is not between the first and the last Solicit" % ra["t"])
    slack = 0.15  # timer and scheduling latency on a loaded machine
    for i, s in enumerate(sols):
        if s["xid"] != sols[0]["xid"]:
            problems.append("Solicit %d has xid %06x, the first %06x" % (i, s["xid"], sols[0]["xid"]))
        expect = (s["t"] - sols[0]["t"]) * 100
        if s["elapsed"] is None or abs(s["elapsed"] - expect) > 10:
            problems.append("Solicit %d: elapsed %s cs, %.0f cs after the first" % (i, s["elapsed"], expect))
        if s["ia_na"] != sols[0]["ia_na"] or s["ia_pd"] != sols[0]["ia_pd"]:
            problems.append("Solicit %d asks for IA_NA %s IA_PD %s, the first for %s %s"
                            % (i, s["ia_na"], s["ia_pd"], sols[0]["ia_na"], sols[0]["ia_pd"]))
        if i == 1:
            rt = s["t"] - sols[0]["t"]
            if not 1.0 < rt <= 1.1 + slack:
                problems.append("RT1 %.3f s, not in (1, 1.1]" % rt)
        elif i > 1:
            rt, prev = s["t"] - sols[i - 1]["t"], sols[i - 1]["t"] - sols[i - 2]["t"]
            if not 1.9 * prev - slack <= rt <= 2.1 * prev + slack:
                problems.append("RT%d %.3f s after RT%d %.3f s" % (i, rt, i - 1, prev))
    verdict(not problems and sols[0]["ia_na"] == [],
            "; ".join(problems) if problems else
            "%d Solicits, xid %06x, RTs %s s, elapsed %s cs, IA_NA in none; the RA at %.3f s"
            % (len(sols), sols[0]["xid"],
               " ".join("%.2f" % (b["t"] - a["t"]) for a, b in zip(sols, sols[1:])),
               " ".join(str(s["elapsed"]) for s in sols), ra["t"]))


# RFC 8415 §18.2.2: the Request asks for the IAs the Solicit asked for.
def request_like_solicit(evs, _):
    req = need(first(evs, lambda e: from_client(e, "Request")), "a Request")
    sol = need(first(evs, lambda e: from_client(e, "Solicit")), "a Solicit")
    verdict(req["ia_na"] == sol["ia_na"] and req["ia_pd"] == sol["ia_pd"],
            "Solicit IA_NA %s IA_PD %s, Request IA_NA %s IA_PD %s"
            % (sol["ia_na"], sol["ia_pd"], req["ia_na"], req["ia_pd"]))


# RFC 8415 §18.2.4: after the Reply to the Request, the client's next
# message is the Renew at T1, with the IA_NA (RFC 7084 WAA-6) and the
# IA_PD, however many RAs came in between.
def renew_at_t1(evs, t1):
    t1 = float(t1)
    req = need(first(evs, lambda e: from_client(e, "Request")), "a Request")
    reply = need(first(evs, lambda e: e["kind"] == "Reply" and e["xid"] == req["xid"]), "the Reply to the Request")
    after = [e for e in evs if e["t"] > reply["t"]]
    nxt = need(first(after, from_client), "a message from the client after the Reply")
    ras = sum(1 for e in after if e["kind"] == "RA" and e["t"] < nxt["t"])
    d = nxt["t"] - reply["t"]
    verdict(nxt["kind"] == "Renew" and t1 - 0.5 <= d <= t1 + 1.5 and nxt["ia_na"] == [0] and nxt["ia_pd"] != [],
            "%s %.3f s after the Reply (T1 %g s), IA_NA %s, IA_PD %s; %d RAs in between"
            % (nxt["kind"], d, t1, nxt.get("ia_na"), nxt.get("ia_pd"), ras))


CHECKS = {
    "rs-first": rs_first,
    "first-solicit-after-ra": first_solicit_after_ra,
    "one-solicit-exchange": one_solicit_exchange,
    "request-like-solicit": request_like_solicit,
    "renew-at-t1": renew_at_t1,
}


def main():
    if len(sys.argv) < 3 or (sys.argv[2] != "dump" and sys.argv[2] not in CHECKS):
        sys.exit("usage: dhcp6_capture.py PCAP dump|%s [ARG]" % "|".join(CHECKS))
    evs = events(sys.argv[1])
    if sys.argv[2] == "dump":
        for e in evs:
            print(describe(e))
        return
    CHECKS[sys.argv[2]](evs, sys.argv[3] if len(sys.argv) > 3 else None)


if __name__ == "__main__":
    main()
