#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh isatap_rs.sh):
# umigame.ko's ISATAP link finds its router itself (RFC 5214 §8.3): unicast
# Router Solicitations from the module to each PRL entry, the RAs processed
# by the kernel's own ndisc, no daemon on the host.
#
#   host (ours)                  mid (IPv4 only, forwards)        rtr (sit ISATAP + radvd)       srv
#   isa0 umigame-isatap                                           is0 mode isatap local 192.0.2.1
#     address 203.0.113.10                                          radvd: UnicastOnly, prefix
#     PRL (below)                                                   2001:db8:a::/64, lifetime 8 s
#   h0 203.0.113.10/24 <-veth-> m0 203.0.113.1/24
#                               m1 192.0.2.254/24 <-veth-> r0 192.0.2.1/24
#                                                          r1 2001:db8:b::1/64 <-veth-> s0 2001:db8:b::2/64
#                               m2 198.51.100.254/24 <-veth-> rtr2: q0 198.51.100.1/24
#                                                          is0 mode isatap, radvd as rtr's
#                                                          q1 2001:db8:c::1/64 <-veth-> s1 2001:db8:c::2/64
#                                                                           srv lo 2001:db8:f::1
#   (host's PRL: 192.0.2.1, 198.51.100.1; srv's backup default route via rtr2)
#
# radvd answers solicitations only (UnicastOnly), so whatever the host
# learns came from an RS the module sent. Shows: the router becomes
# reachable (RSs sent, RAs received, its router lifetime); the kernel takes
# the default route and the prefix (SLAAC address with the ISATAP interface
# identifier) from the RA; a ping to srv over a learnt default route; a second
# PRL entry with a 2 s lifetime expires while the others keep their state;
# when the first router goes away, it is marked unreachable after a round of
# RSs without answer (and the kernel log says so), and the second router
# (198.51.100.1, behind mid on a subnet of its own, in front of srv too)
# takes over: the module keeps soliciting it, its default route is the one
# left, srv's address is reached through it; rmmod with the link in place,
# clean kernel log.
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
H_SLAAC=2001:db8:a:0:200:5efe:cb00:710a # as ip prints it (RFC 5952)
R2_V4=198.51.100.1                 # global: ISATAP identifier with the u bit
R2_LL=fe80::200:5efe:c633:6401
S_LO=2001:db8:f::1                 # srv's address behind both routers
plan=10

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v radvd >/dev/null ||
	! modprobe -q sit 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip isatap_rs "needs root, module support, sit and radvd (selftests/vm/run.sh)"
	done
	tap_finish
fi
isatap_begin isatap_rs

show() { in_ns host "$umigame" isatap show isa0 --json; }
rtr_holds() { # ADDR JQ: the PRL entry ADDR, as the tool shows it, satisfies JQ
	json_holds "[.prl[] | select(.addr == \"$1\") | $2] == [true]" show
}

# 1: load
if out=$(insmod "$ko" 2>&1); then
	tap_ok "insmod ${ko##*/}"
else
	tap_fail "insmod ${ko##*/}" "$out"
	tap_finish
fi

isatap_topology
# The second router, on an IPv4 subnet of its own behind mid, also in
# front of srv; srv's address on lo is reachable through either router.
ns_create rtr2
ns_sysctl rtr2 net.ipv6.conf.all.forwarding=1
veth_pair mid m2 rtr2 q0
veth_pair rtr2 q1 srv s1
in_ns mid ip addr add 198.51.100.254/24 dev m2
in_ns rtr2 ip addr add $R2_V4/24 dev q0
in_ns rtr2 ip route add default via 198.51.100.254
in_ns rtr2 ip addr add 2001:db8:c::1/64 dev q1 nodad
in_ns rtr2 ip tunnel add is0 mode isatap local $R2_V4 ttl 64
in_ns rtr2 ip link set is0 up
in_ns rtr2 ip addr add 2001:db8:a::200:5efe:c633:6401/64 dev is0
in_ns srv ip addr add 2001:db8:c::2/64 dev s1 nodad
in_ns srv ip addr add $S_LO/128 dev lo
in_ns srv ip -6 route add default via 2001:db8:c::1 dev s1 metric 2048
in_ns rtr ip -6 route add $S_LO/128 via $S_GUA
in_ns rtr2 ip -6 route add $S_LO/128 via 2001:db8:c::2

conf=$(umi_tmp radvd.conf)
cat >"$conf" <<EOF
interface is0 {
	AdvSendAdvert on;
	UnicastOnly on;
	AdvSourceLLAddress off;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	AdvDefaultLifetime 8;
	prefix 2001:db8:a::/64 {
		AdvOnLink on;
		AdvAutonomous on;
	};
};
EOF
chmod 644 "$conf"
bg_start rtr radvd radvd -n -C "$conf" -p "$(umi_tmp radvd.pid)" -m stderr
bg_start rtr2 radvd2 radvd -n -C "$conf" -p "$(umi_tmp radvd2.pid)" -m stderr

# 2: the link, its PRL: the module starts soliciting at once (and says so
# through the tracepoints)
: >$tracing/trace
echo 1 >$tracing/events/umigame/isatap_rs/enable
echo 1 >$tracing/events/umigame/isatap_ra/enable
traced() { grep -q "$1: .*router=$2 value=$3\$" $tracing/trace; }
if in_ns host ip link add isa0 address $H_V4 type umigame-isatap &&
	in_ns host ip link set isa0 up &&
	out=$(in_ns host "$umigame" isatap prl isa0 $R_V4 $R2_V4 2>&1) &&
	wait_for 20 "router $R_V4 reachable" \
		rtr_holds $R_V4 '.state == "reachable" and .rs_sent >= 1 and .ra_received >= 1
			and .router_lifetime == 8' &&
	wait_for 20 "router $R2_V4 reachable" rtr_holds $R2_V4 '.state == "reachable"' &&
	traced isatap_rs $R_V4 1 && traced isatap_ra $R_V4 8 && traced isatap_rs $R2_V4 1; then
	tap_ok "routers $R_V4 and $R2_V4 reachable: unicast RSs from the module, RAs back (router lifetime 8 s), tracepoints isatap_rs/isatap_ra"
else
	tap_fail "router $R_V4 reachable" "${out:-}$(show; cat $dbg; cat "$(bg_log radvd)"; grep isatap_ $tracing/trace)"
fi

# 3, 4: the kernel's ndisc took the RA: default route and prefix
if wait_for 10 "default route via $R_LL" \
	sh -c "ip -n $(ns_name host) -6 route show default | grep -q 'via $R_LL dev isa0 proto ra'"; then
	tap_ok "default route via $R_LL dev isa0 from the RA"
else
	tap_fail "default route from the RA" "$(in_ns host ip -6 route)"
fi
if wait_for 10 "SLAAC $H_SLAAC" \
	sh -c "ip -n $(ns_name host) -6 addr show dev isa0 | grep -q 'inet6 $H_SLAAC/64 scope global dynamic'"; then
	tap_ok "SLAAC address $H_SLAAC (ISATAP interface identifier) from the RA's prefix"
else
	tap_fail "SLAAC address from the RA" "$(in_ns host ip -6 addr show dev isa0)"
fi

# 5: srv's address behind both routers, over a learnt default route (either
# router: 2001:db8:b::2 would be reachable through the first one only)
if out=$(in_ns host ping -6 -c 1 -w 10 $S_LO 2>&1); then
	tap_ok "ping6 $S_LO over the default route from the RA"
else
	tap_fail "ping6 $S_LO" "$out
$(in_ns host ip -6 route; cat $dbg)"
fi

# 6: PRL entry lifetimes: a second entry for 2 s; the first keeps its state
ra_before=$(show | jq '.prl[0].ra_received')
if out=$(in_ns host "$umigame" isatap prl isa0 $R_V4 $R2_V4 192.0.2.99 lifetime 2 2>&1) &&
	rtr_holds 192.0.2.99 '.lifetime >= 1 and .lifetime <= 2' &&
	wait_for 10 "192.0.2.99 expired" rtr_holds 192.0.2.99 '.state == "expired"' &&
	rtr_holds $R_V4 ".state == \"reachable\" and .lifetime == 0 and .ra_received >= $ra_before"; then
	tap_ok "PRL entry with a 2 s lifetime expires; the other keeps its state across the change"
else
	tap_fail "PRL entry lifetime" "$out$(show; cat $dbg)"
fi

# 7: the first router goes away (radvd, then its whole namespace): noticed
# after a round of RSs (the RA's lifetime is 8 s: next RS at 6 s, then 3
# RSs 4 s apart)
bg_stop radvd
ip netns del "$(ns_name rtr)"
if wait_for 40 "router $R_V4 unreachable" rtr_holds $R_V4 '.state == "unreachable"' &&
	[[ $(kmsg_since) == *"isa0: ISATAP router $R_V4 does not answer"* ]]; then
	tap_ok "router $R_V4 gone: unreachable after unanswered RSs, logged"
else
	tap_fail "router $R_V4 unreachable" "$(show; cat $dbg)"
fi

# 8: the second router takes over: still solicited and answering, its
# default route is the one left (the first one's ran out with its
# lifetime), and srv is reached through it
ping_lo() { in_ns host ping -6 -c 1 -w 2 $S_LO; }
if rtr_holds $R2_V4 '.state == "reachable"' &&
	wait_for 20 "only the default route via $R2_LL" \
		sh -c "[ \"\$(ip -n $(ns_name host) -6 route show default | grep -c via)\" = 1 ] &&
			ip -n $(ns_name host) -6 route show default | grep -q 'via $R2_LL dev isa0'" &&
	wait_for 30 "ping6 $S_LO through $R2_V4" ping_lo; then
	tap_ok "router $R2_V4 takes over: its default route is left, ping6 $S_LO through it"
else
	tap_fail "router $R2_V4 takes over" "$(show; in_ns host ip -6 route; cat $dbg)"
fi

# 9: unload with the link in place
if wait_for 10 "rmmod umigame succeeds" rmmod umigame &&
	! ip -n "$(ns_name host)" link show isa0 >/dev/null 2>&1; then
	tap_ok "rmmod with isa0 in place: the link is gone"
else
	tap_fail "rmmod with the link in place" "$(in_ns host ip link show 2>&1)"
fi

# 10: the kernel log
bad=$(kmsg_trouble leak)
if [ -z "$bad" ] && [[ $(kmsg_since) == *"umigame: version "*" unloaded"* ]]; then
	tap_ok "kernel log: no WARNING/BUG/Oops/leak"
else
	tap_fail "kernel log: clean unload" "${bad:+trouble: $bad
}$(kmsg_since)"
fi

tap_finish
