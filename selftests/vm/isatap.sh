#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh isatap.sh):
# umigame.ko's ISATAP link type (RFC 5214) against the 6.1 kernel's own sit
# ISATAP, across a network that carries IPv4 only.
#
#   host (ours)                  mid (IPv4 only, forwards)        rtr (sit ISATAP)               srv
#   isa0 umigame-isatap                                           is0 mode isatap local 192.0.2.1
#     address 203.0.113.10                                          fe80::5efe:c000:201
#     fe80::200:5efe:cb00:710a                                      2001:db8:a::5efe:c000:201/64
#     2001:db8:a::200:5efe:cb00:710a/64                            forwarding on
#     PRL 192.0.2.1
#   h0 203.0.113.10/24 <-veth-> m0 203.0.113.1/24
#                               m1 192.0.2.254/24 <-veth-> r0 192.0.2.1/24
#                                                          r1 2001:db8:b::1/64 <-veth-> s0 2001:db8:b::2/64
#
# 203.0.113.10 is a global IPv4 address, so the host's interface identifier
# has the u bit (::200:5efe:, RFC 5214 §6.1); 192.0.2.1 (TEST-NET-1) is not
# global in the kernel's eyes, so sit's is ::0:5efe:. Shows: the link is made
# with stock iproute2 (and refused without its IPv4 address); link-local
# pings both ways; the PRL set and read back with `umigame isatap`; a
# ping to srv's global address behind the router, whose replies come from a
# non-ISATAP IPv6 source and are accepted because 192.0.2.1 is in the PRL;
# packets from mid with a spoofed embedded IPv4 address, or a non-ISATAP
# source from outside the PRL, dropped and counted (debugfs and the link's rx
# errors) while a genuine ISATAP host's passes; a truncated protocol-41
# packet counted; an RA from an ISATAP host outside the PRL passes the
# source check as a host's packet and the kernel's ndisc takes nothing from
# it (no default route, no prefix); a next hop that is not an
# ISATAP address dropped and counted on transmit; each drop seen through
# the tracepoint umigame:isatap_drop with its reason; rmmod with the link in
# place, clean kernel log.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/kmsg.sh
source "$repo/selftests/lib/kmsg.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/isatap.sh
source "$repo/selftests/lib/isatap.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
dbg=/sys/kernel/debug/umigame/isatap
plan=15

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! modprobe -q sit 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip isatap "needs root, module support and sit (selftests/vm/run.sh)"
	done
	tap_finish
fi
isatap_begin isatap

# counter NAME: the host link's counter NAME in debugfs umigame/isatap
counter() {
	local -a f
	local line i
	while IFS= read -r line; do
		[[ $line == "isa0 netns $host_inum "* ]] || continue
		read -ra f <<<"$line"
		for ((i = 0; i < ${#f[@]} - 1; i++)); do
			[ "${f[i]}" = "$1" ] && { echo "${f[i + 1]}"; return; }
		done
	done <"$dbg"
	echo missing
}
counter_is() { [ "$(counter "$1")" = "$2" ]; }
counter_at_least() { local v; v=$(counter "$1"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$2" ]; }

# 1: load
if out=$(insmod "$ko" 2>&1); then
	tap_ok "insmod ${ko##*/}"
else
	tap_fail "insmod ${ko##*/}" "$out"
	tap_finish
fi

isatap_topology
host_inum=$(stat -L -c %i "/run/netns/$(ns_name host)")

# 2: no IPv4 address, no link (iproute2 passes no attributes of its own here)
if ! out=$(in_ns host ip link add bad0 type umigame-isatap 2>&1) &&
	[[ $out == *"needs its IPv4 address"* ]]; then
	tap_ok "ip link add without an address: refused, with the reason"
else
	tap_fail "ip link add without an address: refused" "$out"
fi

# 3: the link, from stock iproute2
if out=$(in_ns host ip link add isa0 address $H_V4 type umigame-isatap 2>&1) &&
	in_ns host ip link set isa0 up &&
	json_holds '.[0].linkinfo.info_kind == "umigame-isatap" and .[0].link_type == "sit"
		and .[0].address == "'$H_V4'"' in_ns host ip -d -j link show isa0; then
	tap_ok "ip link add isa0 address $H_V4 type umigame-isatap"
else
	tap_fail "ip link add isa0 address $H_V4 type umigame-isatap" \
		"$out$(in_ns host ip -d link show isa0 2>&1)"
fi
in_ns host ip addr add $H_GUA/64 dev isa0
in_ns host ip -6 route add 2001:db8:b::/64 via $R_LL dev isa0

# 4: link-local addresses (RFC 5214 §6.2), the u bit from the IPv4 address
has_addr() { ip -n "$(ns_name "$1")" -6 addr show dev "$2" | grep -q "inet6 $3/64"; }
if wait_for 10 "host $H_LL" has_addr host isa0 $H_LL &&
	wait_for 10 "router $R_LL" has_addr rtr is0 $R_LL; then
	tap_ok "link-local $H_LL (global IPv4: u bit) on isa0, $R_LL on sit's is0"
else
	tap_fail "link-local addresses" \
		"$(in_ns host ip -6 addr show dev isa0; in_ns rtr ip -6 addr show dev is0)"
fi

# 5, 6: link-local both ways (the host check of §7.3 on each side)
if out=$(in_ns host ping -6 -c 1 -w 10 -I isa0 $R_LL 2>&1); then
	tap_ok "ping6 host -> router link-local $R_LL"
else
	tap_fail "ping6 host -> router link-local" "$out
$(cat $dbg)"
fi
if out=$(in_ns rtr ping -6 -c 1 -w 10 -I is0 $H_LL 2>&1); then
	tap_ok "ping6 router (sit) -> host link-local $H_LL"
else
	tap_fail "ping6 router -> host link-local" "$out
$(cat $dbg)"
fi

# 7: the PRL, through the tool (iproute2 cannot send it)
if out=$(in_ns host "$umigame" isatap prl isa0 $R_V4 2>&1) &&
	json_holds '.local == "'$H_V4'" and ([.prl[].addr] == ["'$R_V4'"])' \
		in_ns host "$umigame" isatap show isa0 --json &&
	grep -q "^isa0 netns $host_inum local $H_V4 prl $R_V4 " $dbg; then
	tap_ok "PRL $R_V4 set and read back (tool, debugfs)"
else
	tap_fail "PRL set and read back" "$out$(in_ns host "$umigame" isatap show isa0 2>&1; cat $dbg)"
fi

# 8: a global address behind the router; its replies carry a non-ISATAP
# IPv6 source, accepted because their IPv4 source is in the PRL
if out=$(in_ns host ping -6 -c 1 -w 10 $S_GUA 2>&1); then
	tap_ok "ping6 host -> $S_GUA behind the router (replies from a PRL router)"
else
	tap_fail "ping6 host -> $S_GUA" "$out
$(cat $dbg)"
fi

# 9-11: from mid (203.0.113.1, not in the PRL): a spoofed embedded address,
# a non-ISATAP source, a truncated protocol-41 packet, an RA from mid's own
# (genuine) ISATAP address, then a genuine echo request from it
M_LL=fe80::200:5efe:cb00:7101
ok0=$(counter rx_ok)
tx0=$(counter tx_ok)
errs() { ip -n "$(ns_name host)" -s -j link show isa0 | jq '.[0].stats64.rx.errors'; }
err0=$(errs)
: >$tracing/trace
echo 1 >$tracing/events/umigame/isatap_drop/enable
in_ns mid /usr/bin/python3 - <<EOF
from scapy.all import (IP, IPv6, ICMPv6EchoRequest, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo,
                       Raw, send, conf)
conf.verb = 0
outer = IP(src="203.0.113.1", dst="$H_V4")
for src6 in ("$R_LL", "$S_GUA"):
    send(outer / IPv6(src=src6, dst="$H_LL") / ICMPv6EchoRequest())
send(IP(src="203.0.113.1", dst="$H_V4", proto=41) / Raw(b"\x60" + b"\0" * 9))
send(outer / IPv6(src="$M_LL", dst="$H_LL", hlim=255) /
     ICMPv6ND_RA(routerlifetime=1800) /
     ICMPv6NDOptPrefixInfo(prefix="2001:db8:ee::", prefixlen=64, L=1, A=1,
                           validlifetime=86400, preferredlifetime=14400))
send(outer / IPv6(src="$M_LL", dst="$H_LL") / ICMPv6EchoRequest())
EOF
if wait_for 10 "rx_spoofed 2" counter_is rx_spoofed 2 &&
	wait_for 10 "rx_ok + 2" counter_at_least rx_ok $((ok0 + 2)) &&
	[ "$(errs)" -eq $((err0 + 2)) ]; then
	tap_ok "spoofed embedded IPv4 and non-ISATAP source outside the PRL: dropped, counted; a true ISATAP host passes"
else
	tap_fail "spoofed sources dropped and counted" "rx errors $err0 -> $(errs)
$(cat $dbg)"
fi
if counter_is rx_bad 1; then
	tap_ok "truncated protocol-41 packet (10 bytes of IPv6): dropped, counted"
else
	tap_fail "truncated protocol-41 packet counted" "$(cat $dbg)"
fi
# The echo reply to mid left after the RA was processed (one backlog, in order).
no_rogue_ra() {
	! in_ns host ip -6 route show default | grep -q . &&
		! in_ns host ip -6 addr show dev isa0 | grep -q 2001:db8:ee:
}
if wait_for 10 "the echo reply to $M_LL" counter_at_least tx_ok $((tx0 + 1)) && no_rogue_ra; then
	tap_ok "RA from an ISATAP host outside the PRL: passes the source check as a host's, the kernel takes nothing from it"
else
	tap_fail "RA from outside the PRL ignored" "$(in_ns host ip -6 route; in_ns host ip -6 addr show dev isa0; cat $dbg)"
fi

# 12: a next hop that is not an ISATAP address cannot be reached
in_ns host bash -c 'echo x >/dev/udp/2001:db8:a::1/9' 2>/dev/null
if wait_for 10 "tx_not_isatap 1" counter_is tx_not_isatap 1; then
	tap_ok "next hop 2001:db8:a::1 (no ISATAP identifier): dropped and counted"
else
	tap_fail "next hop without ISATAP identifier counted" "$(cat $dbg)"
fi

# 13: every drop above went through the tracepoint, with its reason
drops() { grep -c "isatap_drop: .*reason=$1\$" $tracing/trace; }
echo 0 >$tracing/events/umigame/isatap_drop/enable
if [ "$(drops rx_spoofed)" = 2 ] && [ "$(drops rx_bad)" = 1 ] && [ "$(drops tx_not_isatap)" = 1 ] &&
	grep -q "isatap_drop: .*saddr=203.0.113.1 daddr=$H_V4 reason=rx_spoofed" $tracing/trace; then
	tap_ok "tracepoint umigame:isatap_drop: 2 rx_spoofed, 1 rx_bad, 1 tx_not_isatap"
else
	tap_fail "tracepoint umigame:isatap_drop" "$(grep isatap_ $tracing/trace)"
fi

# 14: unload with the link in place
if wait_for 10 "rmmod umigame succeeds" rmmod umigame &&
	! ip -n "$(ns_name host)" link show isa0 >/dev/null 2>&1 &&
	[ ! -e /sys/kernel/debug/umigame ]; then
	tap_ok "rmmod with isa0 in place: the link and debugfs umigame/ gone"
else
	tap_fail "rmmod with the link in place" "$(in_ns host ip link show 2>&1)"
fi

# 15: the kernel log
log=$(kmsg_since)
bad=$(kmsg_trouble leak)
if [ -z "$bad" ] && [[ $log == *"umigame: version "*" unloaded"* ]]; then
	tap_ok "kernel log: no WARNING/BUG/Oops/leak"
else
	tap_fail "kernel log: clean unload" "${bad:+trouble: $bad
}$log"
fi

tap_finish
