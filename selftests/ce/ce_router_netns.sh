#!/usr/bin/env bash
# ce_router_netns.sh — umigame-dhcp6d as an RFC 7084 IPv6 CE router behind
# a real ISP (Kea delegating, radvd announcing the default router), a LAN
# host using the kernel's SLAAC, and the fast-fallback measurement against
# a router with a static radvd configuration. The topology is drawn in
# lab.sh:
#
#   inet --- isp (Kea, radvd) ---+--- ce (ours)  --- host
#                                +--- ce2 (radvd) --- host2
#
# Every wait is a condition with a deadline. Output is KTAP. Needs root,
# kea-dhcp6, radvd, ndisc6, tcpdump and a build of umigame-dhcp6d.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
source "$HERE/lab.sh"

umi_require ip kea-dhcp6 radvd rdisc6 tcpdump jq ping timeout /usr/bin/python3
tap_plan 23
[ -x "$DHCP6D" ] || umi_die "no umigame-dhcp6d at $DHCP6D (make userspace)"

# The CE also answers DHCPv6 on its LAN (stateless: Information-request).
lab_up $'[server]\ninterfaces = ["lan0"]'
ce() { ip -n "$(ns_name ce)" "$@"; }

# RFC 8415 / RFC 7084 WPD-1, WPD-2: a /56 delegated; L-2: a /64 of it on
# the LAN, with the router's address.
tap_check "Kea delegates $LAB_PREFIX; lan0 has $LAB_SUBNET" \
	sh -c "[ -n '$LAB_PREFIX' ] && ip -n $(ns_name ce) -6 addr show dev lan0 | grep -q 'inet6 ${LAB_SUBNET%::/64}::1/64'"

# RFC 7084 WPD-8 (RFC 6603): Kea excludes subnet 0 of every /56; the CE
# asked for that and keeps it out of its LANs (lan0 is subnet 1).
excluded_known() {
	json_holds ".client.ias[0].leases[0].excluded == \"${LAB_PREFIX%::/56}::/64\" and (.client.problems | length) == 0" lab_show
}
tap_check "the CE took Kea's Prefix Exclude (${LAB_PREFIX%::/56}::/64) and numbers no LAN from it (WPD-8)" excluded_known

# RFC 7084 ULA-1/ULA-2 (RFC 4193 §3.2.2): a ULA /48, generated and kept in
# the state directory, a /64 of it on the LAN.
ula_kept() {
	[[ "$LAB_ULA" == fd*::/48 ]] && grep -qx "$LAB_ULA" "$(lab_dir)/state/ula" &&
		ce -6 addr show dev lan0 | grep -q "inet6 ${LAB_ULA%::/48}:1::1/64"
}
tap_check "a ULA prefix $LAB_ULA is generated, saved and numbered on lan0" ula_kept

# RFC 7084 W-3 (RFC 4861 §6.3.4): the WAN default router learned from the
# ISP's RAs (accept_ra 2 on a forwarding interface).
tap_check "the CE learned its WAN default route from the ISP's RA" \
	sh -c "ip -n $(ns_name ce) -6 route show default | grep -q 'proto ra.*dev wan0\|dev wan0.*proto ra'"

# RFC 7084 W-2 (RFC 4861 §6.3.7): the CE solicited the ISP's routers and
# heard them; WAA-6: their RAs set M, so it asked Kea for an address too,
# without a [client.address] in its configuration.
routers_heard() {
	json_holds '.client.upstream_routers.solicitations >= 1 and .client.upstream_routers.last.managed == true' lab_show
}
tap_check "the CE solicited the ISP's router and read M=1 from its RA (W-2)" wait_for 10 "RA heard" routers_heard
wan_address() {
	ip -n "$(ns_name ce)" -6 addr show dev wan0 scope global | grep -q "inet6 2001:2:0:1::1[0-9a-f]\{3\}/128"
}
tap_check "so it asked for an address too and wan0 has a /128 from Kea's pool (WAA-6)" \
	wait_for 15 "IA_NA address on wan0" wan_address
# W-1, WAA-1 (RFC 4862): and, as a host on the WAN, a SLAAC address from
# the ISP's /64.
wan_slaac() { ip -n "$(ns_name ce)" -6 addr show dev wan0 scope global | grep -q "inet6 2001:2:0:1:[0-9a-f:]*/64"; }
tap_check "wan0 has a SLAAC address in the ISP's 2001:2:0:1::/64 (W-1, WAA-1)" wait_for 15 "SLAAC on wan0" wan_slaac

# RFC 7084 L-2, L-4, G-4 (with a WAN default route): the LAN host's global
# and ULA addresses by SLAAC and its default route via the CE.
tap_check "the LAN host has an address in $LAB_SUBNET, one in the ULA and a default route" lab_host_ready host

# RFC 7084 L-3 (RFC 4191 §2.3) and RFC 8106: rdisc6 sees the Route
# Information for the /56 and the ULA /48, and Kea's DNS server as RDNSS;
# L-9: M = 0 and, since our DHCPv6 server answers on lan0, O = 1; L-6: the
# prefixes on-link and autonomous.
RDISC=$(umi_tmp rdisc6.txt)
rdisc_ok() {
	ns_exec host rdisc6 -1 -w 3000 eth0 >"$RDISC" 2>&1 &&
		grep -q "Route *: $LAB_PREFIX" "$RDISC" && grep -q "Route *: $LAB_ULA" "$RDISC" &&
		grep -q "Recursive DNS server *: $LAB_DNS" "$RDISC" &&
		grep -q "Stateful address conf\. *: *No" "$RDISC" && grep -q "Stateful other conf\. *: *Yes" "$RDISC" &&
		grep -A1 "Prefix *: $LAB_SUBNET" "$RDISC" | grep -q "On-link *: *Yes" &&
		grep -A2 "Prefix *: $LAB_SUBNET" "$RDISC" | grep -q "Autonomous address conf\. *: *Yes"
}
if wait_for 15 "rdisc6 shows the routes and RDNSS" rdisc_ok; then
	tap_ok "RAs carry Route Information for $LAB_PREFIX and $LAB_ULA, RDNSS $LAB_DNS, M=0 O=1, L and A set (L-3, L-6, L-9, RFC 8106)"
else
	tap_fail "RAs carry Route Information for $LAB_PREFIX and $LAB_ULA and RDNSS $LAB_DNS" "$(cat "$RDISC")"
fi

# RFC 8910 §2.3: Kea's option 103 is in the LAN's RAs as option 37.
RA_PCAP=$(umi_tmp lan-ra.pcap)
bg_start host tcpdump-ra tcpdump -i eth0 --immediate-mode -n -U -w "$RA_PCAP" "icmp6 and ip6[40] == 134"
wait_for 10 "tcpdump on the LAN" sh -c "[ -s '$RA_PCAP' ]" || umi_die "tcpdump did not start"
ns_exec host rdisc6 -1 -w 3000 eth0 >/dev/null 2>&1
ra_portal() {
	"$LAB_PY" - "$RA_PCAP" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
pos, found = 24, set()
while pos + 16 <= len(data):
    incl = struct.unpack("<I", data[pos + 8:pos + 12])[0]
    frame = data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
    icmp = frame[14 + 40:]
    opt = 16
    while opt + 2 <= len(icmp) and icmp[opt + 1]:
        kind, units = icmp[opt], icmp[opt + 1]
        if kind == 37:
            found.add(icmp[opt + 2:opt + 8 * units].rstrip(b"\0").decode())
        opt += 8 * units
print("\n".join(sorted(found)))
PY
}
portal_seen() { [ "$(ra_portal)" = "$LAB_PORTAL" ]; }
tap_check "the captive-portal URI from Kea (option 103) is in the LAN's RAs as option 37" \
	wait_for 10 "option 37 in an RA" portal_seen
bg_stop tcpdump-ra

# RFC 8910 §2.2: and our own DHCPv6 server on the LAN passes it on to a
# client whose ORO asks for option 103 (an Information-request, RFC 8415
# §18.2.6, sent from a plain UDP socket).
dhcp_portal() {
	ns_exec host "$LAB_PY" - <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.bind(("::", 546))
s.settimeout(3)
duid = struct.pack(">HH6s", 3, 1, b"\x02\x00\x00\x00\x00\x07")
msg = bytes([11, 0x12, 0x34, 0x56])                       # Information-request
msg += struct.pack(">HH", 1, len(duid)) + duid            # Client Identifier
msg += struct.pack(">HHH", 6, 2, 103)                     # ORO: captive portal
msg += struct.pack(">HHH", 8, 2, 0)                       # Elapsed Time
s.sendto(msg, ("ff02::1:2", 547, 0, socket.if_nametoindex("eth0")))
reply = s.recv(2048)
pos = 4
while pos + 4 <= len(reply):
    code, length = struct.unpack(">HH", reply[pos:pos + 4])
    if code == 103:
        print(reply[pos + 4:pos + 4 + length].decode())
    pos += 4 + length
PY
}
portal_by_dhcp() { [ "$(dhcp_portal)" = "$LAB_PORTAL" ]; }
tap_check "our DHCPv6 server on the LAN answers option 103 with the upstream's URI" \
	wait_for 10 "option 103 from our server" portal_by_dhcp

# RFC 7084 WPD-5: packets to an unassigned /64 of the delegated prefix get
# an ICMPv6 Destination Unreachable from the CE and nothing goes upstream.
UNASSIGNED=${LAB_PREFIX%::/56}
UNASSIGNED=${UNASSIGNED%:*}:$(printf '%x' $((0x${UNASSIGNED##*:} + 0x42)))::7
WAN_PCAP=$(umi_tmp wan-out.pcap)
bg_start ce tcpdump-wan tcpdump -i wan0 --immediate-mode -Q out -n -U -w "$WAN_PCAP" "ip6 dst $UNASSIGNED"
wait_for 10 "tcpdump on wan0" sh -c "[ -s '$WAN_PCAP' ]" || umi_die "tcpdump did not start on wan0"
PING_OUT=$(ns_exec host ping -6 -c 2 -W 2 "$UNASSIGNED" 2>&1)
ns_exec inet ping -6 -c 2 -W 2 "$UNASSIGNED" >/dev/null 2>&1
bg_stop tcpdump-wan
upstream_packets=$(tcpdump -r "$WAN_PCAP" -n 2>/dev/null | wc -l)
if grep -q "Destination unreachable" <<<"$PING_OUT" && [ "$upstream_packets" = 0 ]; then
	tap_ok "a ping to unassigned $UNASSIGNED gets Destination Unreachable, nothing leaves wan0 (WPD-5)"
else
	tap_fail "a ping to unassigned $UNASSIGNED gets Destination Unreachable, nothing leaves wan0" \
		"ping: $PING_OUT; packets out of wan0: $upstream_packets"
fi

# RFC 7084 G-5: the ISP's router goes away (its final RA), the CE loses its
# default route and at once tells the LAN: the host's default route is
# gone within a second.
ms_until_no_default() {
	local start now
	start=$(_umi_now_ms)
	while lab_has_default "$1"; do
		now=$(_umi_now_ms)
		[ $((now - start)) -gt 10000 ] && break
		sleep 0.02
	done
	echo $(($(_umi_now_ms) - start))
}
lab_break
LOST_MS=$(ms_until_no_default host)
if [ "$LOST_MS" -le 1000 ]; then
	tap_ok "the LAN host loses its default route ${LOST_MS} ms after the ISP's router leaves (G-5)"
else
	tap_fail "the LAN host loses its default route within 1 s of the ISP's router leaving" \
		"$LOST_MS ms; $(lab_show | jq -c '.client.ra')"
fi
no_default_router() { json_holds '.client.upstream_default == false and .client.ra[0].router_lifetime == 0' lab_show; }
tap_check "while the WAN has no default router, our RAs say router lifetime 0 (G-4)" no_default_router

# The fallback (the talk's worst problem): a client in getaddrinfo order,
# no Happy Eyeballs. Both LANs at once, the same broken ISP.
OURS_RESULT=$(umi_tmp fallback-ours)
BASE_RESULT=$(umi_tmp fallback-base)
lab_connect host >"$OURS_RESULT" 2>&1 &
ours_pid=$!
lab_connect host2 >"$BASE_RESULT" 2>&1 &
base_pid=$!
wait $ours_pid $base_pid
read -r ours_s ours_family <"$OURS_RESULT"
read -r base_s base_family <"$BASE_RESULT"
echo "# fallback to IPv4 with the ISP's IPv6 broken (tcp_syn_retries $LAB_SYN_RETRIES):"
printf '#   %-34s %8s s  over %s\n' "behind umigame-dhcp6d" "$ours_s" "$ours_family" \
	"behind radvd, static config" "$base_s" "$base_family"
fast_fallback() {
	[ "$ours_family" = IPv4 ] && awk -v t="$ours_s" 'BEGIN { exit !(t < 1.0) }'
}
tap_check "behind our CE the client falls back to IPv4 in under 1 s ($ours_s s)" fast_fallback
slow_baseline() {
	[ "$base_family" = IPv4 ] && awk -v t="$base_s" 'BEGIN { exit !(t >= 10) }'
}
tap_check "behind the static radvd router the same client needs >= 10 s ($base_s s)" slow_baseline

# The ISP's router comes back: so does our default router.
lab_restore
tap_check "the LAN host gets its default route back when the ISP's router returns" \
	wait_for 20 "default route back" lab_has_default host
over_ipv6() { lab_connect host | grep -q IPv6; }
tap_check "and connects over IPv6 again" wait_for 10 "IPv6 again" over_ipv6

# RFC 7084 ULA-2: the same ULA after a restart; RFC 9096 WPD-9: with
# release_on_stop = false (taken by a reload) the stop sends no Release and
# the restart rebinds the saved lease, so the LAN keeps its prefix (Kea's
# allocator would hand out the next /56 otherwise).
sed -i '/^\[client\]$/a release_on_stop = false' "$(lab_dir)/dhcp6d.toml"
lab_cli dhcp6 reload >/dev/null || umi_die "reload with release_on_stop = false refused"
bg_stop dhcp6d-ce
rm -f "$(lab_dir)/control.sock"
lab_start_ours || umi_die "umigame-dhcp6d did not restart"
same_ula() { [ "$(lab_ula)" = "$LAB_ULA" ] && [ -n "$(lab_delegated)" ] && _lab_host_has host "${LAB_ULA%::/48}:"; }
tap_check "after a restart the ULA is still $LAB_ULA, and a prefix is delegated again" \
	wait_for 20 "same ULA, a lease" same_ula
kept_prefix() { [ "$(lab_delegated)" = "$LAB_PREFIX" ]; }
tap_check "without a Release on stop the restart kept $LAB_PREFIX (RFC 9096 WPD-9)" kept_prefix

# RFC 7084 ULA-3: a configured ULA prefix replaces the generated one.
bg_stop dhcp6d-ce
rm -f "$(lab_dir)/control.sock"
printf '\n[client.ula]\nprefix = "fd00:abcd:1234::/48"\n' >>"$(lab_dir)/dhcp6d.toml"
lab_start_ours || umi_die "umigame-dhcp6d did not restart with a configured ULA"
configured_ula() {
	[ "$(lab_ula)" = "fd00:abcd:1234::/48" ] && _lab_host_has host "fd00:abcd:1234:1:"
}
tap_check "a configured ULA prefix is announced and the host numbers itself from it (ULA-3)" \
	wait_for 20 "configured ULA on the host" configured_ula

# RFC 8415 §18.2.7 / RFC 4861 §6.2.5: SIGTERM releases the lease, and the
# final RA leaves no default router on the LAN.
bg_stop dhcp6d-ce
tap_check "after SIGTERM the LAN host has no default route via the CE" \
	wait_for 5 "no default route" sh -c "! ip -n $(ns_name host) -6 route show default | grep -q via"
tap_check "no umigame-dhcp6d process is left" sh -c "! ip netns pids $(ns_name ce) | xargs -r ps -o comm= -p | grep -q umigame"

tap_finish
