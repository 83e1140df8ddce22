#!/usr/bin/env bash
# dhcp6_client_netns.sh — umigame-dhcp6d as a requesting router (RFC 8415
# client for IA_PD) against Kea, with its own Router Advertisements on the
# LAN (RFC 4861 §6.2, RFC 8106).
#
#   isp ns                    router ns                      host ns
#   eth0  <-------------->    wan0         lan0  <-------->  eth0
#   kea-dhcp6:                umigame-dhcp6d [client]:       kernel SLAAC
#   2001:db8:100::/40         IA_PD hint /56, piece /64      (accept_ra=1),
#   in /56s, T1 10 s,         of it on lan0 (::1), RAs with  rdisc6
#   T2 16 s, DNS option       PIO, RDNSS, DNSSL; forwarding
#   tcpdump on eth0           unreachable route for the /56
#
# Checks: the /56 is delegated and recorded by Kea under our DUID; the
# router's lan0 has its /64 and an unreachable route covers the /56; the
# LAN host configures an address from the /64 and a default route via the
# router, and rdisc6 shows the RDNSS from Kea's DHCPv6 DNS option; Renew is
# seen at T1 (capture in the ISP ns); atk6-fuzz_dhcpc6 fuzzing the client
# crashes nothing, is counted as malformed and the lease stays; SIGTERM
# sends a Release that Kea acts on, and final RAs deprecate the prefix;
# a restart keeps the DUID.
#
# Every wait is a condition with a deadline. Output is KTAP. Needs root,
# kea-dhcp6, ndisc6, tcpdump, thc-ipv6 and a build of umigame-dhcp6d
# (DHCP6D=path, default build/release, then build/asan).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=kea.sh
source "$HERE/kea.sh"
# shellcheck source-path=SCRIPTDIR source=client.sh
source "$HERE/client.sh"
PY=/usr/bin/python3

umi_require ip ss kea-dhcp6 rdisc6 tcpdump atk6-fuzz_dhcpc6 timeout "$PY"
tap_plan 21
[ -x "${DHCP6D:-}" ] || umi_die "no umigame-dhcp6d (make userspace, or DHCP6D=path)"

DNS=2001:db8:ffff::53
T1=10
STATE=$(umi_tmp state)
SOCK=$(umi_tmp dhcp6d.sock)
CONF=$(umi_tmp dhcp6d.toml)
PCAP=$(umi_tmp isp.pcap)

ns_create isp
ns_create router
ns_create host
for ns in isp router host; do
	ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ns_sysctl router net.ipv6.conf.all.forwarding=1
veth_pair isp eth0 router wan0
veth_pair router lan0 host eth0
ns_sysctl host net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1

# RFC 7078 §3 as raw bytes (Kea 2.2 has no definition for it): flags 0,
# one OPTION_ADDRSEL_TABLE (85) of 8 octets: label 7, precedence 40,
# prefix-len 40, the 5 octets of 2001:db8:100::/40.
ADDRSEL=000055000807282820010db801
KEA_EXTRA_OPTIONS="{ \"name\": \"dns-servers\", \"data\": \"$DNS\" },
	{ \"name\": \"domain-search\", \"data\": \"example.net\" },
	{ \"code\": 84, \"space\": \"dhcp6\", \"csv-format\": false, \"data\": \"$ADDRSEL\" }" \
	kea_start isp eth0 2001:db8:100::/40 56 $T1 16 30 60 ||
	umi_die "Kea did not start: $(tail -5 "$(bg_log kea-isp)")"

# This ISP sends no RAs: the router's WAN default route is static. Without
# one it would not offer itself as default router on the LAN (RFC 7084 G-4;
# selftests/ce covers the RA-learned case).
wait_for 10 "isp:eth0 link-local" link_local_ready isp eth0 || umi_die "isp eth0 has no link-local address"
ip -n "$(ns_name router)" -6 route add default via "$(link_local_of isp eth0)" dev wan0

bg_start isp tcpdump tcpdump -i eth0 --immediate-mode -n -U -w "$PCAP" udp port 547 or udp port 546
wait_for 10 "tcpdump capturing in isp" sh -c "[ -s '$PCAP' ]" || umi_die "tcpdump did not start"
# Every RA the LAN host receives (ICMPv6 type 134, no extension headers).
RA_PCAP=$(umi_tmp lan-ra.pcap)
bg_start host tcpdump-lan tcpdump -i eth0 --immediate-mode -n -U -w "$RA_PCAP" "icmp6 and ip6[40] == 134"
wait_for 10 "tcpdump capturing in host" sh -c "[ -s '$RA_PCAP' ]" || umi_die "tcpdump did not start on the LAN"

cat >"$CONF" <<TOML
[daemon]
control_socket = "$SOCK"
state_dir = "$STATE"

[client]
interface = "wan0"

[[client.prefix]]
iaid = 1
length_hint = 56

[[client.downstream]]
interface = "lan0"
subnet_id = 5

[client.ra]
max_interval = 10
search_domains = ["lan.example"]
TOML

start_router() {
	wait_for 10 "router:wan0 link-local" link_local_ready router wan0 || return 1
	bg_start router dhcp6d "$DHCP6D" -c "$CONF" -v
	wait_for 10 "control socket" sh -c "[ -S '$SOCK' ]"
}

show() { client_show "$SOCK"; }
client_field() { show | jq -r ".client.$1"; }
delegated() { client_field 'ias[0].leases[0].prefix'; }
has_prefix() { [[ "$(delegated)" == 2001:db8:1* ]]; }
# DHCPv6 messages of type $1 the router sent (ip6[48]: the msg-type after
# the 40-octet IPv6 and 8-octet UDP headers; tcpdump's udp[] is IPv4 only).
count_sent() { tcpdump -r "$PCAP" -n "udp dst port 547 and ip6[48] == $1" 2>/dev/null | wc -l; }

start_router || umi_die "umigame-dhcp6d did not start: $(tail -5 "$(bg_log dhcp6d)")"

# RFC 8415 §18.2.1, §18.2.2, §18.2.10: Solicit, Advertise, Request, Reply.
if wait_for 20 "a delegated /56" has_prefix; then
	PREFIX=$(delegated)
	tap_ok "the router is delegated a /56 ($PREFIX)"
else
	PREFIX=""
	tap_fail "the router is delegated a /56" "$(show; tail -20 "$(bg_log dhcp6d)")"
fi
DUID=$(client_field duid)
kea_has_our_lease() {
	kea_leases isp | awk -F, -v d="$DUID" -v p="${PREFIX%/*}" \
		'NR > 1 && $7 == 2 && $2 == d && $1 == p && $3 > 0 { found = 1 } END { exit !found }'
}
tap_check "Kea's lease file has the /56 under our DUID ($DUID)" wait_for 5 "Kea lease" kea_has_our_lease

# The /64 with subnet id 5 of the /56, ::1 ours on lan0; the rest of the
# /56 unreachable.
SUBNET=$(client_field 'downstream[0].subnet')
ROUTER_ADDR=$(client_field 'downstream[0].address')
lan_ready() {
	ip -n "$(ns_name router)" -6 addr show dev lan0 | grep -q "inet6 $ROUTER_ADDR/64" &&
		ip -n "$(ns_name router)" -6 route show | grep -q "^unreachable $PREFIX"
}
tap_check "lan0 has $ROUTER_ADDR/64 and $PREFIX is unreachable but for it" wait_for 5 "lan0 address" lan_ready
expected_subnet() { [ -n "$PREFIX" ] && "$PY" -c '
import ipaddress, sys
p = ipaddress.ip_network(sys.argv[1]); s = ipaddress.ip_network(sys.argv[2])
sys.exit(0 if s.subnet_of(p) and s.prefixlen == 64 and (int(s.network_address) - int(p.network_address)) >> 64 == 5 else 1)' "$PREFIX" "$SUBNET"; }
tap_check "the /64 is subnet id 5 of the /56 ($SUBNET)" expected_subnet
# RFC 7078: the policy row becomes a kernel address label.
has_label() { ip -n "$(ns_name router)" addrlabel list | grep -q "prefix 2001:db8:100::/40 label 7"; }
tap_check "the RFC 7078 policy from Kea is in the router's ip addrlabel table" wait_for 5 "addrlabel" has_label

# RFC 4861 §6.2, RFC 4862: the LAN host's SLAAC address and default route.
host_slaac() {
	ip -n "$(ns_name host)" -6 addr show dev eth0 scope global | grep -q "inet6 ${SUBNET%::/64}:" &&
		ip -n "$(ns_name host)" -6 route show default | grep -q "via fe80::.* dev eth0"
}
tap_check "the LAN host configures an address in $SUBNET and a default route via the router" \
	wait_for 20 "SLAAC on host" host_slaac

# RFC 8106: RDNSS from Kea's DNS option, DNSSL from ours and Kea's.
RDISC=$(umi_tmp rdisc6.txt)
rdisc_ok() {
	ns_exec host rdisc6 -1 -w 3000 eth0 >"$RDISC" 2>&1 &&
		grep -q "Recursive DNS server *: $DNS" "$RDISC" &&
		grep -q "DNS search list *: .*lan.example" "$RDISC" && grep -q "Prefix *: $SUBNET" "$RDISC"
}
if wait_for 15 "rdisc6 shows RDNSS $DNS" rdisc_ok; then
	tap_ok "rdisc6 on the LAN sees PIO $SUBNET, RDNSS $DNS and DNSSL lan.example"
else
	tap_fail "rdisc6 on the LAN sees PIO $SUBNET, RDNSS $DNS and DNSSL lan.example" "$(cat "$RDISC")"
fi

# RFC 4861 §6.2.6: ten Router Solicitations in quick succession are
# answered, but no two RAs on the LAN ever come closer than
# MIN_DELAY_BETWEEN_RAS (3 s); the unsolicited ones keep that too
# (MinRtrAdvInterval is 3 s here).
ra_count() { tcpdump -r "$RA_PCAP" -n 2>/dev/null | wc -l; }
RS0=$(client_field 'ra[0].counters.solicitations')
RAS0=$(ra_count)
for _ in 1 2 3 4 5 6 7 8 9 10; do ns_exec host rdisc6 -1 -w 100 eth0 >/dev/null 2>&1; done
answered() { [ "$(ra_count)" -gt "$RAS0" ] && [ "$(client_field 'ra[0].counters.solicitations')" -ge $((RS0 + 10)) ]; }
min_gap_ok() {
	tcpdump -tt -r "$RA_PCAP" -n 2>/dev/null | awk '
		NR > 1 && $1 - last < 2.99 { printf "RAs %.3f s apart at %s\n", $1 - last, $1; bad = 1 }
		{ last = $1 } END { exit bad }'
}
solicited_ok() { wait_for 5 "an RA after the solicitations" answered && min_gap_ok; }
tap_check "10 Router Solicitations are answered and RAs stay >= 3 s apart" solicited_ok
# RFC 4861 §6.1.1: an RS with a hop limit other than 255 was forwarded (or
# forged off-link): dropped and counted.
BAD0=$(client_field 'ra[0].counters.malformed')
ns_exec host "$PY" -c 'from scapy.all import Ether, IPv6, ICMPv6ND_RS, sendp
sendp(Ether(dst="33:33:00:00:00:02")/IPv6(dst="ff02::2", hlim=64)/ICMPv6ND_RS(), iface="eth0", verbose=0)' >/dev/null 2>&1
rs_dropped() { [ "$(client_field 'ra[0].counters.malformed')" -gt "$BAD0" ]; }
tap_check "an RS with hop limit 64 is dropped and counted" wait_for 5 "malformed RS counted" rs_dropped

# SIGHUP: the RA settings change without touching the lease (RFC 4191
# preference high).
sed -i 's/^max_interval = 10$/&\npreference = "high"/' "$CONF"
kill -HUP "${BG_PID[dhcp6d]}"
high_preference() {
	ns_exec host rdisc6 -1 -w 3000 eth0 >"$RDISC" 2>&1 && grep -q "Router preference *: *high" "$RDISC" &&
		[ "$(delegated)" = "$PREFIX" ]
}
hup_ok() { wait_for 15 "RA preference high" high_preference && min_gap_ok; }
tap_check "after SIGHUP the RAs carry router preference high (still >= 3 s apart), the lease untouched" hup_ok

# RFC 8415 §18.2.4: Renew at T1, counted from the Reply to our Request.
first_sent_at() { tcpdump -tt -r "$PCAP" -n "udp dst port 547 and ip6[48] == $1" 2>/dev/null | awk 'NR == 1 { print $1 }'; }
renewed() {
	local request renew
	request=$(first_sent_at 3) renew=$(first_sent_at 5)
	[ -n "$request" ] && [ -n "$renew" ] &&
		awk -v a="$request" -v b="$renew" -v t1=$T1 'BEGIN { d = b - a; exit !(d >= t1 - 0.5 && d <= t1 + 1.5) }'
}
renewed_and_kept() { renewed && [ "$(client_field phase)" = bound ] && [ "$(delegated)" = "$PREFIX" ]; }
tap_check "Renew is sent at T1 ($T1 s) and the lease is kept" \
	wait_for $((T1 + 8)) "a Renew in the ISP capture" renewed_and_kept

# atk6-fuzz_dhcpc6 sends fuzzed Replies at the router's DHCPv6 client port.
WAN_LL=$(link_local_of router wan0)
MALFORMED0=$(client_field counters.malformed)
ns_exec isp timeout 20 atk6-fuzz_dhcpc6 -7 -v "$WAN_LL" eth0 >"$(umi_tmp fuzz.log)" 2>&1
fuzz_survived() {
	bg_running dhcp6d && [ "$(client_field counters.malformed)" -gt "$MALFORMED0" ] &&
		[ "$(delegated)" = "$PREFIX" ]
}
tap_check "atk6-fuzz_dhcpc6: no crash, malformed counted ($(client_field counters.malformed)), the lease held" \
	fuzz_survived

# RFC 8415 §18.2.12: the upstream link comes back: Rebind.
REBINDS0=$(count_sent 6)
ip -n "$(ns_name router)" link set wan0 down
wait_for 5 "wan0 down" sh -c "ip -n $(ns_name router) link show wan0 | grep -q 'state DOWN'"
ip -n "$(ns_name router)" link set wan0 up
rebound() { [ "$(count_sent 6)" -gt "$1" ] && [ "$(client_field phase)" = bound ] && [ "$(delegated)" = "$PREFIX" ]; }
tap_check "after wan0 goes down and up the client Rebinds and keeps $PREFIX" \
	wait_for 15 "a Rebind after link up" rebound "$REBINDS0"

# Killed without a Release, restarted: the saved lease is Rebound (§18.2.12)
# and stays in place.
REBINDS0=$(count_sent 6)
kill -KILL "${BG_PID[dhcp6d]}"
wait "${BG_PID[dhcp6d]}" 2>/dev/null
unset "BG_PID[dhcp6d]"
rm -f "$SOCK"
start_router || umi_die "umigame-dhcp6d did not restart after SIGKILL"
rebound_in_place() {
	rebound "$REBINDS0" && ip -n "$(ns_name router)" -6 addr show dev lan0 | grep -q "inet6 $ROUTER_ADDR/64"
}
tap_check "after SIGKILL and a restart the saved lease is rebound: $PREFIX kept, lan0 keeps $ROUTER_ADDR" \
	wait_for 15 "Rebind of the saved lease" rebound_in_place

# RFC 8415 §18.2.7: SIGTERM releases; RFC 4861 §6.2.5: final RA.
RELEASES0=$(count_sent 8)
kill -TERM "${BG_PID[dhcp6d]}"
stopped() { ! bg_running dhcp6d; }
tap_check "umigame-dhcp6d stops within 10 s of SIGTERM" wait_for 10 "dhcp6d exits" stopped
released() { [ "$(count_sent 8)" -gt "$RELEASES0" ]; }
tap_check "a Release went to Kea" wait_for 5 "Release in capture" released
# Kea marks a released lease with valid lifetime 0 (or drops it).
kea_released() {
	! kea_leases isp | awk -F, -v d="$DUID" -v p="${PREFIX%/*}" \
		'NR > 1 && $7 == 2 && $2 == d && $1 == p { last = $3 } END { exit !(last > 0) }'
}
tap_check "Kea released the lease" wait_for 5 "Kea lease released" kea_released
withdrawn() {
	! ip -n "$(ns_name router)" -6 addr show dev lan0 | grep -q "inet6 $ROUTER_ADDR/" &&
		! ip -n "$(ns_name router)" -6 route show | grep -q "^unreachable $PREFIX"
}
withdrawn_all() { withdrawn && ! has_label; }
tap_check "the router took $ROUTER_ADDR, the unreachable route and the address label away" withdrawn_all
# The host's address is deprecated by the final RA (preferred lifetime 0).
host_deprecated() { ip -n "$(ns_name host)" -6 addr show dev eth0 scope global | grep -q "deprecated"; }
tap_check "the LAN host's address is deprecated by the final RA" wait_for 5 "host address deprecated" host_deprecated

# RFC 8415 §11: the DUID survives a restart. This time with Rapid Commit
# (§18.2.1, §21.14; Kea's subnet allows it): Solicit and Reply only.
sed -i 's/^interface = "wan0"$/&\nrapid_commit = true/' "$CONF"
REQUESTS0=$(count_sent 3)
start_router || umi_die "umigame-dhcp6d did not restart"
same_duid() { [ "$(client_field duid)" = "$DUID" ] && has_prefix; }
tap_check "after a restart the client keeps its DUID and is delegated a prefix again" \
	wait_for 20 "same DUID, new lease" same_duid
no_request() { [ "$(count_sent 3)" = "$REQUESTS0" ] && [ "$(client_field counters.request)" = 0 ]; }
tap_check "with Rapid Commit the lease came without a Request" no_request

tap_finish
