#!/usr/bin/env bash
# raguard_netns.sh — acceptance test of the XDP RA guard (RFC 6105, with the
# evasion defences of RFC 7113, RFC 6980 and RFC 7112) and DHCPv6-Shield
# (RFC 7610) against real attack tools (thc-ipv6) on a real segment.
#
#   router ns                   attacker ns
#   eth0 02:00:00:00:00:01      eth0 02:00:00:00:00:66
#   fe80::1                     fe80::ff:fe00:66
#   radvd: 2001:db8:1::/64,     atk6-fake_router26, fake_router6,
#   default route, RDNSS        flood_router26, fake_dhcps6, craft_ra.py
#   (macvlan, bridge mode)      (macvlan, bridge mode)
#            \                   /
#             +---- wire0 ------+     seg ns: the segment (no bridge on the
#                     | veth          host kernel: macvlan in bridge mode on
#                     |               one end of a veth); IPv6 off
#   victim ns         |
#   eth0 02:00:00:00:00:10  <-- umigame RA guard, XDP native, ingress
#   fe80::ff:fe00:10, SLAAC 2001:db8:1::ff:fe00:10
#   accept_ra=2, accept_ra_rt_info_max_plen=64, suppress_frag_ndisc=0,
#   accept_dad=0; dhclient -6 and an RDNSS listener (rdnss_watch.py)
#
# First half, guard attached: the victim keeps the legit router's default
# route, SLAAC address and DNS server, gets nothing from the attacker, and
# the guard counts every attack under the reason the RFCs give. Second half,
# guard detached: the same attacks take effect on the victim (or, for the
# fragment evasions Linux refuses by itself, are shown to reach its port).
#
# Every wait is a condition with a deadline (wait_for); every attack tool is
# bounded (-n, timeout). Output is KTAP. Needs root. The guard half needs the
# umigame CLI (build/release/tools/umigame/umigame, or UMIGAME=path) and is
# skipped without it. The CLI runs under `nsenter --net` (ns_nsenter), not
# `ip netns exec`, so that it sees the host's bpffs.
#
# Environment: UMIGAME, UMI_KEEP_TMP=1 (keep logs and captures),
# UMI_VERBOSE=1.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=topology.sh
source "$HERE/topology.sh"

umi_require ip nsenter tcpdump jq radvd timeout ndisc6 atk6-fake_router26 \
	atk6-fake_router6 atk6-flood_router26 atk6-fake_dhcps6 "$PY"

PLAN=46
tap_plan $PLAN

GUARD=0          # 1 while the guard is attached and working
GUARD_SKIP="umigame CLI not found at $UMIGAME (make userspace)"
HAVE_DHCLIENT=1
command -v dhclient >/dev/null 2>&1 || HAVE_DHCLIENT=0
POLICY=$(umi_tmp policy.toml)

# What must not get past the guard, as the victim's port capture (-Q in:
# received frames only; on an XDP port, only what XDP let through) sees it:
# an RA right after the IPv6 header or after a Hop-by-Hop header, or a first
# (or atomic) fragment. Non-first fragments carry no header to judge and
# pass (RFC 7113 §3); the attacker's own MLD reports and NS are no attack.
RA_OR_FIRST_FRAG="((ip6[6] == 58 and ip6[40] == 134)
	or (ip6[6] == 0 and ip6[48] == 134)
	or (ip6[6] == 44 and (ip6[42:2] & 0xfff8) == 0))"
LEAK_OWN="ether src $ATTACKER_MAC and $RA_OR_FIRST_FRAG"
# Flood frames come from random MACs.
LEAK_FLOOD="not ether src $ROUTER_MAC and not ether src $ATTACKER_MAC
	and $RA_OR_FIRST_FRAG"
# RAs in the router's name that the router never sends: M or O flag, or
# high preference (radvd here sends none of them).
LEAK_SPOOF="ether src $ROUTER_MAC and ip6[6] == 58 and ip6[40] == 134
	and ((ip6[45] & 0xc0) != 0 or (ip6[45] & 0x18) == 0x08)"
# DHCPv6 messages from the attacker to the client port (RFC 8415 §7.2).
LEAK_DHCP="ether src $ATTACKER_MAC and ip6[6] == 17 and ip6[42:2] == 546"
# Fragments from the attacker (for the unguarded evasion runs).
ATK_FRAGS="ether src $ATTACKER_MAC and ip6[6] == 44"

counters_diag() {
	[ "$GUARD" = 1 ] || return 0
	echo "guard counters:"
	rag_guard show "$VICTIM_IF" --json 2>&1 |
		jq -r '.ports[]?.counters | to_entries[]
			| select(.value.packets > 0)
			| "  \(.key) \(.value.packets)"' 2>&1
}

fail_with_state() {
	tap_fail "$1" "$(
		[ -n "${2:-}" ] && echo "$2"
		counters_diag
		rag_victim_state
		echo "attack log (tail):"
		tail -5 "$(umi_tmp attack.log)" 2>/dev/null | sed 's/^/  /'
	)"
}

# guarded NAME REASON MIN LEAK-FILTER CMD...: with the guard attached, run
# the attack CMD; pass when the guard counted at least MIN more packets
# under REASON, no matching frame reached the victim's stack (LEAK-FILTER
# on the port capture; "" for none) and the victim holds nothing of the
# attacker's. "Did not take effect" is judged only after the guard has
# counted the attack, so it is never a race against a slow attacker.
guarded() {
	local name=$1 reason=$2 min=$3 leak=$4 before leaked=0 l0=0
	shift 4
	if [ "$GUARD" != 1 ]; then
		tap_skip "$name" "$GUARD_SKIP"
		return
	fi
	before=$(rag_counter "$reason")
	[ -n "$leak" ] && l0=$(rag_capture_count port "$leak")
	if ! "$@"; then
		fail_with_state "$name" "attack command failed: $*"
		return
	fi
	if ! wait_for 10 "guard counts $min more '$reason' (had $before)" \
		rag_counter_at_least "$reason" $((before + min)) 2>/dev/null; then
		fail_with_state "$name" "guard did not count $min x $reason (before: $before, now: $(rag_counter "$reason"))"
		return
	fi
	[ -n "$leak" ] && leaked=$(($(rag_capture_count port "$leak") - l0))
	if [ "$leaked" -ne 0 ]; then
		fail_with_state "$name" "$leaked attack frame(s) reached the victim's stack"
		return
	fi
	if ! rag_victim_clean; then
		fail_with_state "$name" "the victim took something from the attacker"
		return
	fi
	tap_ok "$name"
}

# unguarded NAME DESC CHECK CMD...: with no guard, run the attack CMD and
# pass when CHECK (a condition on the victim's own state) becomes true.
unguarded() {
	local name=$1 desc=$2 check=$3
	shift 3
	# The check runs while the attack does: some effects last only until
	# the legit router's next RA (every 3-4 s) puts things back, and
	# checking after the attack had ended could miss them on a busy host.
	"$@" &
	local attack=$! seen=0
	# shellcheck disable=SC2086 # CHECK is a command line: split it
	wait_for 10 "$desc" $check 2>/dev/null && seen=1
	if ! wait "$attack"; then
		fail_with_state "$name" "attack command failed: $*"
	elif [ "$seen" = 1 ]; then
		tap_ok "$name"
	else
		fail_with_state "$name" "timed out waiting for: $desc"
	fi
}

fr26() { rag_attack 10 atk6-fake_router26 "$@" -n 2 -i 1 eth0; }
# A full impersonation of the legit router: its link-local source, its
# Ethernet source and its MAC in the SLLA option.
spoof26() {
	fr26 -s "$ROUTER_LL" -S "$ROUTER_MAC" -f "$ROUTER_MAC" "$@"
}

# ---- topology and the legit router ----------------------------------------

t_start=$SECONDS
if ! rag_topology_up; then
	tap_fail "topology: namespaces, veth, macvlan segment"
	tap_diag "cannot build the topology; giving up"
	exit 1
fi
rag_rdnss_watch_start
rag_capture_start port victim "$VICTIM_IF" -Q in

# The segment works like one: router and attacker each reach the victim's
# port with their own MAC (RFC 4861 §7.2 neighbor solicitation both ways).
seg_ok() {
	ns_exec router ndisc6 -1 -r 3 -w 500 "$VICTIM_LL" eth0 |
		grep -qi "$VICTIM_MAC" &&
	ns_exec attacker ndisc6 -1 -r 3 -w 500 "$VICTIM_LL" eth0 |
		grep -qi "$VICTIM_MAC" &&
	ip -n "$(ns_name victim)" -6 neigh show dev "$VICTIM_IF" |
		grep -q "$ATTACKER_LL lladdr $ATTACKER_MAC" &&
	ip -n "$(ns_name victim)" -6 neigh show dev "$VICTIM_IF" |
		grep -q "$ROUTER_LL lladdr $ROUTER_MAC"
}
if wait_for 10 "router and attacker resolve the victim and vice versa" seg_ok; then
	tap_ok "topology: victim's one port hears router and attacker, each with its own MAC"
else
	fail_with_state "topology: victim's one port hears router and attacker, each with its own MAC"
fi
ip -n "$(ns_name victim)" -6 neigh flush dev "$VICTIM_IF"

# ---- the guard, attached before the router speaks -------------------------

rag_policy "$POLICY"
if rag_have_cli; then
	on_cleanup "rag_guard detach $VICTIM_IF"
	if out=$(rag_guard attach "$VICTIM_IF" --policy "$POLICY" 2>&1) &&
		[ "$(rag_guard show "$VICTIM_IF" --json |
			jq -r '.ports[0].mode')" = native ] &&
		rag_guard_attached; then
		GUARD=1
		tap_ok "guard: attached to the victim's port in native XDP mode"
	else
		GUARD_SKIP="guard did not attach"
		tap_fail "guard: attached to the victim's port in native XDP mode" "$out"
	fi
else
	tap_skip "guard: attached to the victim's port in native XDP mode" "$GUARD_SKIP"
fi

rag_router_start

# RFC 6105 §3: RAs from the authorised router pass the guard, and the
# victim configures from them: default route (RFC 4861 §6.3.4) and SLAAC
# address (RFC 4862 §5.5.3).
if wait_for 20 "victim has default via $ROUTER_LL and $LEGIT_ADDR" \
	rag_victim_legit_ok; then
	tap_ok "legit router: victim has its default route and SLAAC address"
else
	fail_with_state "legit router: victim has its default route and SLAAC address"
fi
# RFC 8106 §5.3.1: the RDNSS option reaches the victim's userspace.
if wait_for 10 "victim's userspace told about DNS $LEGIT_DNS" \
	rag_victim_saw_dns "$LEGIT_DNS"; then
	tap_ok "legit router: victim learns its DNS server (RDNSS)"
else
	fail_with_state "legit router: victim learns its DNS server (RDNSS)"
fi
if [ "$GUARD" = 1 ]; then
	if wait_for 10 "guard counted ra_trusted" rag_counter_at_least ra_trusted 1; then
		tap_ok "guard: the legit router's RAs counted as ra_trusted"
	else
		fail_with_state "guard: the legit router's RAs counted as ra_trusted"
	fi
else
	tap_skip "guard: the legit router's RAs counted as ra_trusted" "$GUARD_SKIP"
fi

# ---- attacks with the guard ------------------------------------------------
# N below is the 2001:db8:bad:N::/64, 2001:db8:dead:N::/64 and
# 2001:db8:bad:ffff::N each attack announces, one N per attack.

# RFC 6105 §4.1 (stateless RA-Guard: source address and MAC filtering)
guarded "guarded: fake_router26 (prefix, route, DNS) -> ra_untrusted_source" \
	ra_untrusted_source 2 "$LEAK_OWN" \
	fr26 -A 2001:db8:bad:1::/64 -R 2001:db8:dead:1::/64 -D 2001:db8:bad:ffff::1
# RFC 7113 §3: the guard walks the whole header chain, so a Hop-by-Hop
# header in front of the RA hides nothing.
guarded "guarded: fake_router26 -E H (hop-by-hop) -> ra_untrusted_source" \
	ra_untrusted_source 2 "$LEAK_OWN" \
	fr26 -E H -A 2001:db8:bad:2::/64 -R 2001:db8:dead:2::/64 -D 2001:db8:bad:ffff::2
# thc-ipv6 3.8 sends -E 1 and -E 111 as plain RAs (no Fragment header on the
# wire, measured); the atomic fragment they describe is the craft_ra.py
# point below.
guarded "guarded: fake_router26 -E 1 -> ra_untrusted_source" \
	ra_untrusted_source 2 "$LEAK_OWN" \
	fr26 -E 1 -A 2001:db8:bad:3::/64 -R 2001:db8:dead:3::/64
guarded "guarded: fake_router26 -E 111 -> ra_untrusted_source" \
	ra_untrusted_source 2 "$LEAK_OWN" \
	fr26 -E 111 -A 2001:db8:bad:4::/64 -R 2001:db8:dead:4::/64
# RFC 7112 §5, RFC 7113 §3: a first fragment whose header chain stops
# before the upper-layer header (here: a 1.2 kB Destination Options header)
# is dropped; the non-first fragment passes and can never be reassembled.
guarded "guarded: fake_router26 -E D (oversized dest. options) -> incomplete_chain" \
	incomplete_chain 2 "$LEAK_OWN" \
	fr26 -E D -A 2001:db8:bad:5::/64 -R 2001:db8:dead:5::/64
# RFC 7112 §5: -E F puts Dst/Routing/Dst/Routing headers in a 32-byte first
# fragment; the ICMPv6 header starts in the second one.
guarded "guarded: fake_router26 -E F (full evasion) -> incomplete_chain" \
	incomplete_chain 2 "$LEAK_OWN" \
	fr26 -E F -A 2001:db8:bad:6::/64 -R 2001:db8:dead:6::/64
# The overlap modes make the first fragment look harmless: Fragment,
# a 1216-byte Destination Options header, a second one, then an ICMPv6
# Echo Request — a complete chain (RFC 7112 is satisfied). The non-first
# fragment overlaps the Echo Request and turns it into an RA on hosts that
# keep the first (-E O) or the last (-E o) copy of overlapping data, i.e.
# hosts without RFC 5722. Hop limit 255 on a fragmented ICMPv6 packet is
# what only ND needs (RFC 4861 §6.1.2) and ND must never be fragmented
# (RFC 6980 §5): the guard must drop this first fragment as nd_fragment.
guarded "guarded: fake_router26 -E O (overlap, keep-first) -> nd_fragment" \
	nd_fragment 2 "$LEAK_OWN" \
	fr26 -E O -A 2001:db8:bad:7::/64 -R 2001:db8:dead:7::/64
guarded "guarded: fake_router26 -E o (overlap, keep-last) -> nd_fragment" \
	nd_fragment 2 "$LEAK_OWN" \
	fr26 -E o -A 2001:db8:bad:8::/64 -R 2001:db8:dead:8::/64
# RFC 6980 §5: ND must not be fragmented — an atomic fragment (RFC 6946,
# offset 0, M=0) carrying an RA is dropped.
guarded "guarded: atomic-fragment RA (craft_ra.py) -> nd_fragment" \
	nd_fragment 2 "$LEAK_OWN" \
	rag_craft --atomic-fragment --prefix 2001:db8:bad:a::/64 --count 2
# RFC 6105 §4.1; fake_router6 sends one RA at once, then one every 5 s.
guarded "guarded: fake_router6 -> ra_untrusted_source" \
	ra_untrusted_source 1 "$LEAK_OWN" \
	rag_attack 2 atk6-fake_router6 eth0 2001:db8:bad:b::/64 2001:db8:bad:ffff::b
# RFC 8200 §4.1 (each extension header at most once, Fragment included):
# fake_router6 -F nests two Fragment headers; malformed, dropped.
guarded "guarded: fake_router6 -F (nested fragment headers) -> malformed" \
	malformed 1 "$LEAK_OWN" \
	rag_attack 2 atk6-fake_router6 -F eth0 2001:db8:bad:c::/64
# RFC 6104 §3.2 / RFC 6105 §4.1: a flood from random MACs and link-locals.
guarded "guarded: flood_router26 (1 s) -> ra_untrusted_source" \
	ra_untrusted_source 100 "$LEAK_FLOOD" \
	rag_attack 1 atk6-flood_router26 eth0
# RFC 6980 §5, flooded: atomic fragments from random sources.
guarded "guarded: flood_router26 -f (atomic fragments, 1 s) -> nd_fragment" \
	nd_fragment 100 "$LEAK_FLOOD" \
	rag_attack 1 atk6-flood_router26 -f eth0
# RFC 6105 §4.1: the router's link-local address from another MAC. The
# policy pins fe80::1 to the router's MAC.
guarded "guarded: router's link-local from the attacker's MAC -> ra_untrusted_source" \
	ra_untrusted_source 2 "$LEAK_OWN" \
	fr26 -s "$ROUTER_LL" -A "$LEGIT_PREFIX" -p medium
# RFC 4861 §6.3.4/§7.2.3: an RA's SLLA option rewrites the victim's
# neighbor entry for the router — the router's address and Ethernet source
# with the attacker's MAC inside would redirect all off-link traffic.
guarded "guarded: spoofed router RA, attacker's MAC in SLLA -> ra_lladdr_mismatch" \
	ra_lladdr_mismatch 2 "" \
	fr26 -s "$ROUTER_LL" -f "$ROUTER_MAC" -A "$LEGIT_PREFIX" -p medium
# RFC 6105 §4.1 (prefix list), even from the router's own identity.
guarded "guarded: spoofed router RA, foreign prefix -> ra_prefix" \
	ra_prefix 2 "" \
	spoof26 -A 2001:db8:bad:e::/64 -p medium
# RFC 6105 §4.1 (maximum router preference), RFC 4191 §2.2
guarded "guarded: spoofed router RA, preference high -> ra_preference" \
	ra_preference 2 "$LEAK_SPOOF" \
	spoof26 -A "$LEGIT_PREFIX" -p high
# RFC 6105 §4.1 (managed / other-config flags)
guarded "guarded: spoofed router RA, M flag -> ra_managed_flag" \
	ra_managed_flag 2 "$LEAK_SPOOF" \
	spoof26 -A "$LEGIT_PREFIX" -p medium -F managed
guarded "guarded: spoofed router RA, O flag -> ra_other_flag" \
	ra_other_flag 2 "$LEAK_SPOOF" \
	spoof26 -A "$LEGIT_PREFIX" -p medium -F other

# ---- DHCPv6-Shield (RFC 7610) ----------------------------------------------

dhcp_stop() {
	bg_stop "$1"
	bg_stop "$2"
	ip -n "$(ns_name victim)" -6 addr show dev "$VICTIM_IF" |
		awk '/inet6 .*\/128/ { print $2 }' |
		while read -r a; do
			ip -n "$(ns_name victim)" -6 addr del "$a" dev "$VICTIM_IF"
		done
}

# RFC 7610 §4: the operator names the trusted server (here the router runs
# one, thc's fake_dhcps6 handing out 2001:db8:1::/64 addresses).
name="DHCPv6-Shield: trusted server's lease reaches the victim -> dhcp6_server_trusted"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
elif [ "$HAVE_DHCLIENT" != 1 ]; then
	tap_skip "$name" "dhclient missing (isc-dhcp-client)"
else
	before=$(rag_counter dhcp6_server_trusted)
	rag_dhcp_server_start router dhcps-legit "$LEGIT_PREFIX" "$LEGIT_DNS"
	rag_dhclient_start dhc-legit
	if wait_for 20 "victim's DHCPv6 client bound an address in $LEGIT_PREFIX" \
		rag_dhcp_bound dhc-legit "$LEGIT_PREFIX" &&
		rag_counter_at_least dhcp6_server_trusted $((before + 1)); then
		tap_ok "$name"
	else
		fail_with_state "$name" "$(tail -5 "$(bg_log dhc-legit)")"
	fi
	dhcp_stop dhc-legit dhcps-legit
fi

# RFC 7610 §5: server messages (Advertise, Reply, ...) from anyone else are
# dropped, so the victim's client never hears the rogue server.
name="DHCPv6-Shield: rogue server -> dhcp6_server_untrusted, victim gets no lease"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
elif [ "$HAVE_DHCLIENT" != 1 ]; then
	tap_skip "$name" "dhclient missing (isc-dhcp-client)"
else
	before=$(rag_counter dhcp6_server_untrusted)
	l0=$(rag_capture_count port "$LEAK_DHCP")
	rag_dhcp_server_start attacker dhcps-rogue "$ATK_DHCP_PREFIX" "$ATK_DNS_NET::d"
	rag_dhclient_start dhc-guarded
	if ! wait_for 20 "guard drops the rogue server's messages" \
		rag_counter_at_least dhcp6_server_untrusted $((before + 1)); then
		fail_with_state "$name" "no dhcp6_server_untrusted counted"
	elif [ "$(rag_capture_count port "$LEAK_DHCP")" -ne "$l0" ] ||
		[ -s "$(umi_tmp dhc-guarded.lease)" ] ||
		rag_victim_addr_in "$ATK_DHCP_PREFIX"; then
		fail_with_state "$name" "the rogue server's messages reached the victim"
	else
		tap_ok "$name"
	fi
	dhcp_stop dhc-guarded dhcps-rogue
fi

# ---- policy changes in place -----------------------------------------------

# RFC 6105 §4.1 / RFC 7113 §2: a port with no routers behind it drops every
# RA. `attach` on an attached port swaps the policy atomically.
name="guard: block-all policy applied in place drops even the router -> ra_block_all"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
else
	before=$(rag_counter ra_block_all)
	rag_policy "$(umi_tmp block.toml)" block-all
	if ! out=$(rag_guard attach "$VICTIM_IF" --policy "$(umi_tmp block.toml)" 2>&1); then
		tap_fail "$name" "$out"
	elif wait_for 10 "the router's next RA counted as ra_block_all" \
		rag_counter_at_least ra_block_all $((before + 1)); then
		tap_ok "$name"
	else
		fail_with_state "$name"
	fi
	rag_guard attach "$VICTIM_IF" --policy "$POLICY" >/dev/null 2>&1
fi

name="guard: policy restored in place, the router's RAs pass again"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
else
	before=$(rag_counter ra_trusted)
	if wait_for 10 "ra_trusted grows again" \
		rag_counter_at_least ra_trusted $((before + 1)); then
		tap_ok "$name"
	else
		fail_with_state "$name"
	fi
fi

# RFC 6105 §1: after all of it, the victim still has what the router gave.
if rag_victim_legit_ok && rag_victim_clean && rag_victim_saw_dns "$LEGIT_DNS"; then
	if [ "$GUARD" = 1 ]; then
		tap_ok "guarded victim: legit default route, address and DNS, nothing from the attacker"
	else
		tap_skip "guarded victim: legit default route, address and DNS, nothing from the attacker" "$GUARD_SKIP"
	fi
else
	fail_with_state "guarded victim: legit default route, address and DNS, nothing from the attacker"
fi

name="guard: 'raguard events' reports drops with reason and source"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
else
	ev=$(timeout 10 nsenter --net="/run/netns/$(ns_name victim)" \
		"$UMIGAME" raguard events "$VICTIM_IF" --count 1 --timeout 5 2>&1)
	if grep -Eq 'drop +(ra_|nd_|incomplete|malformed|dhcp6)' <<<"$ev"; then
		tap_ok "$name"
	else
		tap_fail "$name" "$ev"
	fi
fi

# The per-port event limit (docs/raguard.md): a flood dropped under RFC 6105
# §4.1 shows as a few events and "… and N more" lines; together with lost
# events they account for every drop the guard counted meanwhile.
port_sum() { # jq expression over the port's counters, summed over drop reasons
	rag_guard show "$VICTIM_IF" --json 2>/dev/null |
		jq -r --arg dev "$VICTIM_IF" --arg f "$1" \
			'[.ports[] | select(.dev == $dev) | .counters[]
			  | select(.verdict == "drop") | .[$f]] | add // 0'
}
events_lost() { rag_guard show --json 2>/dev/null | jq -r '.events_lost // 0'; }
reader_ready() { # the CLI took its baseline and opened the ring buffer
	local fd
	for fd in "/proc/$1/fd/"*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[eventpoll]" ] && return 0
	done
	return 1
}
reader_done() { ! bg_running flood-events; }
name="guard: a flood in 'raguard events': a few events, then '… and N more'; every drop accounted for"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
else
	# Take what earlier attacks left in the ring buffer out of the way.
	timeout 10 nsenter --net="/run/netns/$(ns_name victim)" \
		"$UMIGAME" raguard events --timeout 1 >/dev/null 2>&1
	d0=$(port_sum packets) s0=$(port_sum events_suppressed) l0=$(events_lost)
	bg_start "" flood-events nsenter --net="/run/netns/$(ns_name victim)" \
		"$UMIGAME" raguard events "$VICTIM_IF" --timeout 6
	evlog=$(bg_log flood-events)
	if ! wait_for 10 "the events reader has its ring buffer open" \
		reader_ready "${BG_PID[flood-events]}"; then
		tap_fail "$name" "$(cat "$evlog")"
	elif ! rag_attack 1 atk6-flood_router26 eth0; then
		fail_with_state "$name" "attack command failed"
	elif ! wait_for 15 "the events reader stops after 6 s" reader_done; then
		tap_fail "$name" "$(tail -5 "$evlog")"
	else
		drops=$(($(port_sum packets) - d0))
		sup=$(($(port_sum events_suppressed) - s0))
		lost=$(($(events_lost) - l0))
		shown=$(grep -c ' drop ' "$evlog")
		more=$(sed -nE "s/^… and ([0-9]+) more on $VICTIM_IF \(event limit\): .*/\1/p" "$evlog" |
			awk '{ n += $1 } END { print n + 0 }')
		more_lost=$(sed -nE 's/^… and ([0-9]+) more, events lost.*/\1/p' "$evlog" |
			awk '{ n += $1 } END { print n + 0 }')
		diag="drops $drops, suppressed $sup, lost $lost; printed: $shown events, … and $more more, $more_lost lost"
		# Default limit: 50 at once, then 10 a second (the reader ran 6 s).
		if [ "$drops" -ge 100 ] && [ "$more" -gt 0 ] && [ "$more" -eq "$sup" ] &&
			[ "$more_lost" -eq "$lost" ] && [ $((shown + more + more_lost)) -eq "$drops" ] &&
			[ "$shown" -le $((50 + 10 * 7)) ]; then
			tap_ok "$name"
			tap_diag "  $diag"
		else
			tap_fail "$name" "$diag
$(grep -v ' drop ' "$evlog" | tail -5)"
		fi
	fi
fi

name="guard: detached, no XDP program left on the victim's port"
if [ "$GUARD" != 1 ]; then
	tap_skip "$name" "$GUARD_SKIP"
else
	tap_diag "$(counters_diag)"
	if out=$(rag_guard detach "$VICTIM_IF" 2>&1) && ! rag_guard_attached; then
		tap_ok "$name"
	else
		tap_fail "$name" "$out"
	fi
	GUARD=0
fi

# ---- the same attacks without the guard ------------------------------------
# What the guard stood between: each of these changes the victim's state.

t_unguarded=$SECONDS
rag_victim_forget

takes_all() {
	rag_victim_addr_in 2001:db8:bad:11::/64 &&
		rag_victim_route 2001:db8:dead:11::/64 &&
		rag_victim_default_via "$ATTACKER_LL" &&
		rag_victim_saw_dns "2001:db8:bad:ffff::11"
}
# RFC 6104 §2.1 (the threat): prefix (RFC 4862), route (RFC 4191), default
# router (RFC 4861) and DNS server (RFC 8106) all taken from the attacker.
unguarded "unguarded: fake_router26 gives the victim a prefix, route, default router and DNS" \
	"attacker's prefix, route, default router and DNS on the victim" takes_all \
	fr26 -A 2001:db8:bad:11::/64 -R 2001:db8:dead:11::/64 -D 2001:db8:bad:ffff::11

for m in H 1 111; do
	case $m in H) n=12 ;; 1) n=13 ;; 111) n=14 ;; esac
	unguarded "unguarded: fake_router26 -E $m gives the victim 2001:db8:bad:$n::/64" \
		"victim has an address in 2001:db8:bad:$n::/64" \
		"rag_victim_addr_in 2001:db8:bad:$n::/64" \
		fr26 -E "$m" -A "2001:db8:bad:$n::/64" -R "2001:db8:dead:$n::/64"
done

# -E D, F, O, o: Linux itself refuses these (RFC 7112 §5 oversized header
# chain; RFC 5722 overlapping fragments), so the point is that the frames
# do reach the victim's port and IP layer — which is what the guard's
# counters stood for above. Whether the kernel took the prefix is a
# diagnostic, not an assertion about our code.
for m in D F O o; do
	case $m in D) n=15 f=2 ;; F) n=16 f=3 ;; O) n=17 f=2 ;; o) n=18 f=2 ;; esac
	name="unguarded: fake_router26 -E $m fragments reach the victim's port and IP layer"
	c0=$(rag_capture_count port "$ATK_FRAGS")
	r0=$(rag_snmp6 Ip6ReasmReqds)
	if ! fr26 -E "$m" -A "2001:db8:bad:$n::/64"; then
		fail_with_state "$name" "attack command failed"
		continue
	fi
	got() {
		[ $(($(rag_capture_count port "$ATK_FRAGS") - c0)) -ge $((2 * f)) ] &&
			rag_snmp6_at_least Ip6ReasmReqds $((r0 + 2 * f))
	}
	if wait_for 10 "$((2 * f)) fragments captured on the port and seen by reassembly" got; then
		tap_ok "$name"
		if rag_victim_addr_in "2001:db8:bad:$n::/64"; then
			tap_diag "  -E $m: the kernel took 2001:db8:bad:$n::/64"
		else
			tap_diag "  -E $m: the kernel refused it by itself (RFC 7112/5722)"
		fi
	else
		fail_with_state "$name" "captured $(($(rag_capture_count port "$ATK_FRAGS") - c0)), reassembly requests $(($(rag_snmp6 Ip6ReasmReqds) - r0))"
	fi
done

# What RFC 6980 §5 closes: with suppress_frag_ndisc=0 (the default before
# RFC 6980, and what other stacks do) an atomic-fragment RA is taken.
unguarded "unguarded: atomic-fragment RA gives the victim 2001:db8:bad:1a::/64" \
	"victim has an address in 2001:db8:bad:1a::/64" \
	"rag_victim_addr_in 2001:db8:bad:1a::/64" \
	rag_craft --atomic-fragment --prefix 2001:db8:bad:1a::/64 --count 2

unguarded "unguarded: fake_router6 gives the victim 2001:db8:bad:1b::/64" \
	"victim has an address in 2001:db8:bad:1b::/64" \
	"rag_victim_addr_in 2001:db8:bad:1b::/64" \
	rag_attack 2 atk6-fake_router6 eth0 2001:db8:bad:1b::/64

# RFC 4861 §7.2.3: the SLLA option rewrites the neighbor entry of fe80::1.
unguarded "unguarded: spoofed router RA poisons the victim's neighbor entry for the router" \
	"victim maps $ROUTER_LL to $ATTACKER_MAC" rag_router_neigh_poisoned \
	fr26 -s "$ROUTER_LL" -f "$ROUTER_MAC" -A "$LEGIT_PREFIX" -p medium

unguarded "unguarded: spoofed router RA gives the victim 2001:db8:bad:1e::/64" \
	"victim has an address in 2001:db8:bad:1e::/64" \
	"rag_victim_addr_in 2001:db8:bad:1e::/64" \
	spoof26 -A 2001:db8:bad:1e::/64 -p medium

# RFC 7610 §1 (the threat): a rogue DHCPv6 server configures the victim.
name="unguarded: rogue DHCPv6 server gives the victim an address and DNS server"
if [ "$HAVE_DHCLIENT" != 1 ]; then
	tap_skip "$name" "dhclient missing (isc-dhcp-client)"
else
	rag_dhcp_server_start attacker dhcps-rogue2 "$ATK_DHCP_PREFIX" "$ATK_DNS_NET::d"
	rag_dhclient_start dhc-open
	if wait_for 20 "victim bound an address in $ATK_DHCP_PREFIX" \
		rag_dhcp_bound dhc-open "$ATK_DHCP_PREFIX" &&
		grep -q "$ATK_DNS_NET::d" <<<"$(rag_dhcp_dns dhc-open)"; then
		tap_ok "$name"
	else
		fail_with_state "$name" "$(tail -5 "$(bg_log dhc-open)")"
	fi
	dhcp_stop dhc-open dhcps-rogue2
fi

# RFC 6104 §3.2: a 1 s flood leaves the victim with routes from many
# "routers". Last: it leaves tens of thousands of routes behind.
many_routes() {
	[ "$(ip -n "$(ns_name victim)" -6 route show proto ra | grep -vc "via $ROUTER_LL ")" -ge 100 ]
}
unguarded "unguarded: flood_router26 (1 s) fills the victim's routing table" \
	"at least 100 routes from rogue routers" many_routes \
	rag_attack 1 atk6-flood_router26 eth0

tap_diag "timing: setup+guarded $((t_unguarded - t_start)) s, unguarded $((SECONDS - t_unguarded)) s"
if [ "$TAP_COUNT" -ne "$PLAN" ]; then
	tap_fail "plan: $PLAN points announced" "ran $TAP_COUNT"
fi
tap_finish
