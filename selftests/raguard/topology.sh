# shellcheck shell=bash
# topology.sh — the RA-guard lab, shared by selftests/raguard/raguard_netns.sh
# (the acceptance test) and tools/demo.sh (the show). Source it after
# selftests/lib/netns.sh.
#
#   router ns                 attacker ns
#   eth0 (macvlan, bridge)    eth0 (macvlan, bridge)
#   02:00:00:00:00:01         02:00:00:00:00:66
#   fe80::1                   fe80::ff:fe00:66
#   radvd: 2001:db8:1::/64,   thc-ipv6 atk6-*
#     default route, RDNSS        |
#          \                     /
#           +------ wire0 ------+      seg ns: the segment ("switch"); the
#                    | veth           macvlans sit on wire0 in bridge mode,
#                    |                so both are separate stations with
#                    |                their own MAC on one link; IPv6 off
#   victim ns        |
#   eth0  02:00:00:00:00:10   <- the RA guard (XDP, ingress) sits here
#   fe80::ff:fe00:10, SLAAC 2001:db8:1::ff:fe00:10
#   accept_ra=2, accept_ra_rt_info_max_plen=64, suppress_frag_ndisc=0,
#   accept_dad=0: a host that takes every RA option it is given, as the
#   Windows/BSD hosts an RA guard protects do
#
# The host kernel has no bridge: macvlan in bridge mode on one end of a veth
# gives a real segment — the victim's single port receives the router's and
# the attacker's frames, each with its own source MAC, and its own frames
# (RS, NS, DHCPv6) reach both.

RAG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RAG_ROOT=$(cd "$RAG_DIR/../.." && pwd)
UMIGAME=${UMIGAME:-$RAG_ROOT/build/release/tools/umigame/umigame}
# Debian's scapy and our helpers need the system interpreter (see
# ARCHITECTURE-NOTES: the python3 first on PATH may be another one).
PY=${PY:-/usr/bin/python3}

# The names below are used by the scripts that source this file.
# shellcheck disable=SC2034
{
VICTIM_IF=eth0
VICTIM_MAC=02:00:00:00:00:10
VICTIM_LL=fe80::ff:fe00:10
ROUTER_MAC=02:00:00:00:00:01
ROUTER_LL=fe80::1
ATTACKER_MAC=02:00:00:00:00:66
ATTACKER_LL=fe80::ff:fe00:66
WIRE_MAC=02:00:00:00:00:fe

LEGIT_PREFIX=2001:db8:1::/64
LEGIT_ADDR=2001:db8:1::ff:fe00:10     # the victim's SLAAC address (EUI-64)
LEGIT_DNS=2001:db8:1::53
# Everything the attacker announces lies in these aggregates, so "nothing
# from the attacker" is one lookup each.
ATK_PREFIXES=2001:db8:bad::/48        # PIOs: 2001:db8:bad:N::/64
ATK_ROUTES=2001:db8:dead::/48         # RIOs: 2001:db8:dead:N::/64
ATK_DNS_NET=2001:db8:bad:ffff         # RDNSS: 2001:db8:bad:ffff::N
ATK_DHCP_PREFIX=2001:db8:bad:d::/64   # the rogue DHCPv6 server's pool
}

# rag_topology_up: namespaces, links, sysctls. Does not start radvd.
rag_topology_up() {
	local n
	for n in seg router attacker victim; do
		ns_create "$n"
		# accept_dad=0 everywhere: no tentative addresses, no waiting
		ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
	# The segment itself sends nothing (no MLD reports, no DAD).
	ns_sysctl seg net.ipv6.conf.default.disable_ipv6=1
	ns_sysctl router net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.addr_gen_mode=1
	# The attacker's own stack stays out of the way (no SLAAC from the
	# legit router, no RS of its own).
	ns_sysctl attacker net.ipv6.conf.default.accept_ra=0
	# The victim: accept RAs even if forwarding were on (2); take
	# route information options up to /64 (RFC 4191), process fragmented
	# ND (off by default since RFC 6980 — the guard must do it instead).
	ns_sysctl victim net.ipv6.conf.all.forwarding=0 \
		net.ipv6.conf.default.accept_ra=2 \
		net.ipv6.conf.default.accept_ra_rt_info_max_plen=64 \
		net.ipv6.conf.default.suppress_frag_ndisc=0 \
		net.ipv6.conf.all.suppress_frag_ndisc=0
	veth_pair seg wire0 victim "$VICTIM_IF" "$WIRE_MAC" "$VICTIM_MAC"
	_rag_station router "$ROUTER_MAC"
	_rag_station attacker "$ATTACKER_MAC"
	ip -n "$(ns_name router)" addr add "$ROUTER_LL/64" dev eth0
	# sysctls that exist only once the device does
	ns_sysctl victim "net.ipv6.conf.$VICTIM_IF.accept_ra=2" \
		"net.ipv6.conf.$VICTIM_IF.accept_ra_rt_info_max_plen=64" \
		"net.ipv6.conf.$VICTIM_IF.suppress_frag_ndisc=0"
	wait_for 10 "victim $VICTIM_IF has carrier and $VICTIM_LL" \
		rag_victim_has_addr "$VICTIM_LL" || return 1
	wait_for 10 "router has $ROUTER_LL" _rag_has_ll router "$ROUTER_LL" || return 1
	wait_for 10 "attacker has $ATTACKER_LL" _rag_has_ll attacker "$ATTACKER_LL"
}

# _rag_station NS MAC: a macvlan on the segment, moved into NS as eth0.
_rag_station() {
	local ns=$1 mac=$2 tmp="st-$1"
	ip -n "$(ns_name seg)" link add "${tmp:0:15}" link wire0 address "$mac" \
		type macvlan mode bridge || umi_die "macvlan for $ns"
	ip -n "$(ns_name seg)" link set "${tmp:0:15}" netns "$(ns_name "$ns")"
	ip -n "$(ns_name "$ns")" link set "${tmp:0:15}" name eth0
	ip -n "$(ns_name "$ns")" link set eth0 up
}

_rag_has_ll() {
	ip -n "$(ns_name "$1")" -6 addr show dev eth0 scope link | grep -q "inet6 $2/"
}

# rag_router_start: radvd announcing the legit prefix, a default route
# (medium preference) and an RDNSS, every 3–4 s.
rag_router_start() {
	local conf
	conf=$(umi_tmp radvd.conf)
	cat >"$conf" <<-EOF
	interface eth0 {
		AdvSendAdvert on;
		MinRtrAdvInterval 3;
		MaxRtrAdvInterval 4;
		AdvDefaultLifetime 600;
		AdvDefaultPreference medium;
		prefix $LEGIT_PREFIX {
			AdvOnLink on;
			AdvAutonomous on;
		};
		RDNSS $LEGIT_DNS {
		};
	};
	EOF
	bg_start router radvd radvd -n -m stderr -C "$conf" \
		-p "$(umi_tmp radvd.pid)"
}

# rag_rdnss_watch_start: listen, inside the victim, to the ND user options
# the kernel hands to userspace (RTNLGRP_ND_USEROPT) — what rdnssd or
# systemd-networkd would be told about DNS servers. The kernel itself keeps
# no DNS state, so this is where "the victim accepted a DNS option" shows.
rag_rdnss_watch_start() {
	bg_start victim rdnss "$PY" -u "$RAG_DIR/rdnss_watch.py"
	wait_for 5 "RDNSS watcher listening" grep -q '^listening' "$(bg_log rdnss)"
}

# rag_rdnss_lines: what the listener printed since the last
# rag_victim_forget (RAG_RDNSS_FROM lines are skipped)
RAG_RDNSS_FROM=0
rag_rdnss_lines() {
	tail -n +$((RAG_RDNSS_FROM + 1)) "$(bg_log rdnss)" | grep '^rdnss '
}

rag_victim_saw_dns() { rag_rdnss_lines | grep -q " $1\( \|$\)"; }

# ---- the victim's state ----------------------------------------------------

rag_victim_has_addr() {
	ip -n "$(ns_name victim)" -6 addr show dev "$VICTIM_IF" |
		grep -q "inet6 $1/"
}

# rag_victim_addr_in PREFIX: some address of the victim lies in PREFIX
rag_victim_addr_in() {
	[ -n "$(ip -n "$(ns_name victim)" -6 addr show dev "$VICTIM_IF" to "$1")" ]
}

# rag_victim_route PREFIX: a route for exactly PREFIX
rag_victim_route() {
	[ -n "$(ip -n "$(ns_name victim)" -6 route show exact "$1")" ]
}

# rag_victim_routes_in AGGREGATE: any route inside AGGREGATE
rag_victim_routes_in() {
	[ -n "$(ip -n "$(ns_name victim)" -6 route show root "$1")" ]
}

rag_victim_default_via() {
	ip -n "$(ns_name victim)" -6 route show default |
		grep -q "via $1 dev $VICTIM_IF"
}

rag_victim_legit_ok() {
	rag_victim_default_via "$ROUTER_LL" && rag_victim_has_addr "$LEGIT_ADDR"
}

# rag_victim_clean: nothing the attacker announced is on the victim: no
# address or route from the attacker's prefixes, no route via the
# attacker's link-local address, no DNS server from anyone but the router,
# and the victim's neighbor entry for the router still has the router's MAC.
rag_victim_clean() {
	local v
	v=$(ns_name victim)
	! rag_victim_addr_in "$ATK_PREFIXES" &&
		! rag_victim_routes_in "$ATK_PREFIXES" &&
		! rag_victim_routes_in "$ATK_ROUTES" &&
		[ -z "$(ip -n "$v" -6 route show via "$ATTACKER_LL")" ] &&
		! rag_rdnss_lines | grep -qv " $ROUTER_LL " &&
		! rag_rdnss_lines | grep -q " ${ATK_PREFIXES%%::*}:" &&
		rag_router_neigh_ok
}

# rag_router_neigh_ok: the victim maps the router's address to the router's
# MAC (or has no entry for it)
rag_router_neigh_ok() {
	local n
	n=$(ip -n "$(ns_name victim)" -6 neigh show "$ROUTER_LL" dev "$VICTIM_IF")
	[ -z "$n" ] || grep -q "lladdr $ROUTER_MAC" <<<"$n"
}

rag_router_neigh_poisoned() {
	ip -n "$(ns_name victim)" -6 neigh show "$ROUTER_LL" dev "$VICTIM_IF" |
		grep -q "lladdr $ATTACKER_MAC"
}

# rag_victim_why_dirty: a diagnostic listing what the attacker left
rag_victim_state() {
	echo "victim routes:"
	rag_victim_routes
	echo "victim addresses:"
	rag_victim_addrs
	echo "victim neighbors:"
	ip -n "$(ns_name victim)" -6 neigh show dev "$VICTIM_IF" | sed 's/^/    /'
	echo "DNS options seen by the victim's userspace:"
	rag_rdnss_lines | sort | uniq -c | sed 's/^/  /'
}

# rag_snmp6 COUNTER: the victim's own /proc/net/snmp6 counter
rag_snmp6() {
	# shellcheck disable=SC2016 # awk's own $1, $2
	ns_exec victim awk -v k="$1" '$1 == k { print $2 }' /proc/net/snmp6
}

rag_snmp6_at_least() {
	local v
	v=$(rag_snmp6 "$1") && [ -n "$v" ] && [ "$v" -ge "$2" ]
}

rag_victim_routes() {
	ip -n "$(ns_name victim)" -6 route show | sed 's/^/    /'
}

rag_victim_addrs() {
	ip -n "$(ns_name victim)" -6 addr show dev "$VICTIM_IF" scope global |
		sed -n 's/^ *inet6 \([^ ]*\).*/    \1/p'
}

# rag_victim_forget: remove what earlier (unguarded) attacks left, so the
# next one is judged on its own (DNS options seen so far are forgotten too).
rag_victim_forget() {
	local v
	v=$(ns_name victim)
	RAG_RDNSS_FROM=$(wc -l <"$(bg_log rdnss)")
	ip -n "$v" -6 addr flush dev "$VICTIM_IF" to "$ATK_PREFIXES" 2>/dev/null
	ip -n "$v" -6 route flush root "$ATK_PREFIXES" 2>/dev/null
	ip -n "$v" -6 route flush root "$ATK_ROUTES" 2>/dev/null
	ip -n "$v" -6 route flush via "$ATTACKER_LL" 2>/dev/null
	ip -n "$v" -6 neigh del "$ROUTER_LL" dev "$VICTIM_IF" 2>/dev/null
	return 0
}

# ---- the attacker ----------------------------------------------------------

# rag_attack SECS TOOL ARGS...: run a thc-ipv6 tool in the attacker's
# namespace, never longer than SECS; output to $UMI_TMPDIR/attack.log.
# Returns 0 when the tool ran (exit status of a timed-out flood is fine).
rag_attack() {
	local secs=$1 tool=$2
	shift 2
	echo "\$ $tool $*" >>"$(umi_tmp attack.log)"
	ns_exec attacker timeout -s INT -k 2 "$secs" "$tool" "$@" \
		>>"$(umi_tmp attack.log)" 2>&1
	local rc=$?
	# 124: stopped by timeout (floods, servers), 130: SIGINT
	[ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 130 ]
}

# ---- captures ------------------------------------------------------------

# rag_capture_start NAME NS IF [TCPDUMP-ARGS...]: tcpdump on IF in NS for
# the rest of the run; count its frames with rag_capture_count. On an XDP
# port it sees what XDP let through. --immediate-mode matters: without it
# libpcap's TPACKET_V3 ring hands frames over up to a second late, and a
# count taken right after an attack misses them.
rag_capture_start() {
	local name=$1 ns=$2 ifc=$3
	shift 3
	bg_start "$ns" "cap-$name" tcpdump -i "$ifc" -nn -U --immediate-mode -s 160 "$@" \
		-w "$(umi_tmp "$name.pcap")"
	wait_for 10 "tcpdump on $ns:$ifc listening" \
		grep -q 'listening on' "$(bg_log "cap-$name")"
}

# rag_capture_count NAME FILTER: frames in the capture that match FILTER
rag_capture_count() {
	tcpdump -r "$(umi_tmp "$1.pcap")" -nn "$2" 2>/dev/null | wc -l
}

# ---- the guard (umigame CLI; runs with the host's bpffs, see netns.sh) ----

rag_have_cli() { [ -x "$UMIGAME" ]; }

rag_guard() { ns_nsenter victim "$UMIGAME" raguard "$@"; }

# rag_policy FILE [block-all]: the policy that trusts exactly the legit
# router — its link-local address pinned to its MAC ([[raguard.router]]; a
# bare `routers = [...]` entry would trust fe80::1 from any MAC), the legit
# prefix only, preference up to medium, no M/O flags, and the router as the
# one trusted DHCPv6 server.
rag_policy() {
	local f=$1 block=false
	[ "${2:-}" = block-all ] && block=true
	cat >"$f" <<-EOF
	[raguard]
	prefixes = ["$LEGIT_PREFIX"]
	max-preference = "medium"
	allow-managed = false
	allow-other-config = false
	block-all = $block
	dhcpv6-servers = ["$ROUTER_LL"]

	[[raguard.router]]
	address = "$ROUTER_LL"
	mac = "$ROUTER_MAC"
	EOF
}

# rag_counter REASON: packets the guard on the victim's port counted
# under REASON (0 when absent)
rag_counter() {
	rag_guard show "$VICTIM_IF" --json 2>/dev/null |
		jq -r --arg dev "$VICTIM_IF" --arg r "$1" \
			'[.ports[] | select(.dev == $dev) | .counters[$r].packets // 0]
			 | add // 0'
}

# rag_counter_at_least REASON N
rag_counter_at_least() {
	local v
	v=$(rag_counter "$1") && [ -n "$v" ] && [ "$v" -ge "$2" ]
}

# rag_guard_attached: the victim's port runs an XDP program
rag_guard_attached() {
	ip -n "$(ns_name victim)" link show dev "$VICTIM_IF" | grep -q ' xdp'
}

# rag_craft ARGS...: selftests/raguard/craft_ra.py in the attacker's namespace
rag_craft() {
	echo "\$ craft_ra.py $*" >>"$(umi_tmp attack.log)"
	ns_exec attacker "$PY" "$RAG_DIR/craft_ra.py" eth0 "$@" \
		>>"$(umi_tmp attack.log)" 2>&1
}

# ---- DHCPv6 (RFC 8415 client on the victim, thc's fake_dhcps6 as servers) --

# rag_dhcp_server_start NS NAME PREFIX DNS: atk6-fake_dhcps6 in NS
rag_dhcp_server_start() {
	bg_start "$1" "$2" atk6-fake_dhcps6 eth0 "$3" "$4"
}

# rag_dhclient_start NAME: ISC dhclient -6 on the victim with our own
# script: it adds the leased address and records the lease (address, DNS)
# in $UMI_TMPDIR/NAME.lease — nothing else on the host is touched.
rag_dhclient_start() {
	local name=$1 script
	script=$(umi_tmp "$name.script")
	cat >"$script" <<-EOF
	#!/bin/sh
	case "\$reason" in
	BOUND6|REBIND6|RENEW6|REBOOT6)
		ip -6 addr add "\$new_ip6_address/128" dev "\$interface" nodad
		echo "\$reason \$new_ip6_address dns=\$new_dhcp6_name_servers" \
			>>"$(umi_tmp "$name.lease")"
		;;
	esac
	exit 0
	EOF
	chmod +x "$script"
	: >"$(umi_tmp "$name.lease")"
	bg_start victim "$name" dhclient -6 -d -v -1 -sf "$script" \
		-lf "$(umi_tmp "$name.leases")" -pf "$(umi_tmp "$name.pid")" \
		"$VICTIM_IF"
}

# rag_dhcp_bound NAME PREFIX: the client bound an address in PREFIX and the
# victim's kernel holds it
rag_dhcp_bound() {
	local a
	a=$(awk '{ print $2; exit }' "$(umi_tmp "$1.lease")")
	[ -n "$a" ] && ip -n "$(ns_name victim)" -6 addr show dev "$VICTIM_IF" \
		to "$2" | grep -q "inet6 $a/128"
}

# rag_dhcp_dns NAME: the DNS servers the client was given
rag_dhcp_dns() { sed -n 's/.* dns=//p' "$(umi_tmp "$1.lease")" | head -1; }
