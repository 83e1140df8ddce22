#!/usr/bin/env bash
# dhcp6_client_ra_netns.sh — the requesting router behind an ISP whose
# router sets M = 1 (RFC 7084 W-2, WAA-6; RFC 8415 §15, §18.2): an RA must
# never disturb a DHCPv6 exchange. Two ISPs, one after the other:
#
#   isp-<mode> ns                         rt-<mode> ns
#   eth0  <---------------------------->  wan0
#   radvd (M=1, O=1, RAs every 3-4 s),    umigame-dhcp6d [client]: one IA_PD
#   kea-dhcp6 (/56s, addresses, T1 10 s), (/56 hint); forwarding, the kernel
#   tcpdump: RS, RA and DHCPv6            sends no RS of its own
#
# rs:       radvd answers a Router Solicitation at once (radvd 2.19 answers
#           by unicast without delay). The router's RS leaves at start
#           (W-2), the first Solicit's random delay (§18.2.1) ends when the
#           answer is in, so the Solicit asks for an address as M says
#           (WAA-6); the periodic RAs later change nothing: the next message
#           after the Reply is the Renew at T1.
# periodic: radvd only sends periodic RAs (nftables drops the RSs before it
#           sees them). The router starts while wan0's link-local address is
#           in DAD: RS and Solicit wait for it (the first Solicit on the
#           wire has Elapsed Time 0). radvd starts while that Solicit goes
#           unanswered (Kea not yet running): its RA lands in the middle of
#           the exchange, which goes on with one transaction-id, its RT
#           sequence and its Elapsed Time clock (§15); the IA_NA goes into
#           the Renew at T1 (§18.2.4), and Kea then assigns the address.
#           (radvd sends an RA whenever its link changes, so the DAD case
#           is here and not in rs: that RA would come during DAD and make
#           the RS unnecessary.)
#
# Every claim is read packet by packet from the capture (dhcp6_capture.py).
# Every wait is a condition with a deadline. Output is KTAP. Needs root,
# kea-dhcp6, radvd, nft, tcpdump, jq, Debian's python3-scapy and a build of
# umigame-dhcp6d (DHCP6D=path, default build/release, then build/asan).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=kea.sh
source "$HERE/kea.sh"
# shellcheck source-path=SCRIPTDIR source=client.sh
source "$HERE/client.sh"
PY=/usr/bin/python3
CAP="$PY $HERE/dhcp6_capture.py"

umi_require ip ss kea-dhcp6 radvd nft tcpdump jq "$PY"
tap_plan 12
[ -x "${DHCP6D:-}" ] || umi_die "no umigame-dhcp6d (make userspace, or DHCP6D=path)"

T1=10
POOL=2001:db8:ffff::1000-2001:db8:ffff::1fff

show() { client_show "$(umi_tmp "sock-$1")"; }
client_holds() { json_holds "$2" show "$1"; }
sent_count() { $CAP "$(umi_tmp "cap-$1.pcap")" dump 2>/dev/null | grep -c " $2 .*from fe80"; }
renewed() { [ "$(sent_count "$1" Renew)" -ge 1 ]; }
replied() { [ "$(sent_count "$1" Reply)" -ge 1 ]; }
wan_address() { ip -n "$(ns_name "rt-$1")" -6 addr show dev wan0 scope global | grep -q "inet6 2001:db8:ffff::1[0-9a-f]\{3\}/128"; }

# A capture check as a KTAP point; the whole capture goes to the log when
# it fails. `skippable`: a check whose premise may not hold by chance
# (exit 2) is skipped rather than failed.
cap_point() {
	local mode=$1 name=$2 skippable=$3 out rc
	shift 3
	out=$($CAP "$(umi_tmp "cap-$mode.pcap")" "$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "$name"
		tap_diag "$out"
	elif [ $rc -eq 2 ] && [ "$skippable" = skippable ]; then
		tap_skip "$name" "$out"
	else
		tap_fail "$name" "$out
$($CAP "$(umi_tmp "cap-$mode.pcap")" dump 2>&1)
$(tail -15 "$(bg_log "dhcp6d-$mode")")"
	fi
}

# The ISP and the router for one mode; the ISP's daemons are started by
# the mode itself.
setup() {
	local mode=$1
	ns_create "isp-$mode"
	ns_create "rt-$mode"
	ns_sysctl "isp-$mode" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	[ "$mode" = periodic ] ||
		ns_sysctl "rt-$mode" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	# A router; the RSs on the wire are the daemon's (W-2), not the kernel's.
	ns_sysctl "rt-$mode" net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
	veth_pair "isp-$mode" eth0 "rt-$mode" wan0
	cat >"$(umi_tmp "radvd-$mode.conf")" <<CONF
interface eth0 {
	AdvSendAdvert on;
	AdvManagedFlag on;
	AdvOtherConfigFlag on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	prefix 2001:db8:ffff::/64 { };
};
CONF
	mkdir -p "$(umi_tmp "state-$mode")"
	cat >"$(umi_tmp "dhcp6d-$mode.toml")" <<TOML
[daemon]
control_socket = "$(umi_tmp "sock-$mode")"
state_dir = "$(umi_tmp "state-$mode")"

[client]
interface = "wan0"

[[client.prefix]]
iaid = 1
length_hint = 56
TOML
	local pcap
	pcap=$(umi_tmp "cap-$mode.pcap")
	wait_for 10 "isp-$mode:eth0 link-local" link_local_ready "isp-$mode" eth0 || umi_die "isp-$mode eth0 has no link-local address"
	bg_start "isp-$mode" "tcpdump-$mode" tcpdump -i eth0 --immediate-mode -n -U -w "$pcap" \
		"udp port 546 or udp port 547 or (icmp6 and (ip6[40] == 133 or ip6[40] == 134))"
	wait_for 10 "tcpdump capturing in isp-$mode" sh -c "[ -s '$pcap' ]" || umi_die "tcpdump did not start"
}

start_radvd() {
	bg_start "isp-$1" "radvd-$1" radvd -n -d 1 -m stderr -C "$(umi_tmp "radvd-$1.conf")" -p "$(umi_tmp "radvd-$1.pid")"
}

start_kea() {
	KEA_ADDRESS_POOL=$POOL kea_start "isp-$1" eth0 2001:db8:100::/40 56 $T1 16 30 60 ||
		umi_die "Kea did not start in isp-$1: $(tail -5 "$(bg_log "kea-isp-$1")")"
}

start_router() {
	bg_start "rt-$1" "dhcp6d-$1" "$DHCP6D" -c "$(umi_tmp "dhcp6d-$1.toml")" -v
	wait_for 10 "rt-$1's control socket" sh -c "[ -S '$(umi_tmp "sock-$1")' ]" ||
		umi_die "umigame-dhcp6d did not start in rt-$1: $(tail -5 "$(bg_log "dhcp6d-$1")")"
}

bound_with_address() {
	client_holds "$1" '.client.phase == "bound" and ([.client.ias[] | select(.type == "IA_NA")] | length) == 1' &&
		wan_address "$1"
}

# ---- rs: radvd answers the Router Solicitation at once ----
setup rs
start_kea rs
start_radvd rs
wait_for 10 "radvd's first RA in isp-rs" sh -c "$CAP '$(umi_tmp cap-rs.pcap)' dump | grep -q ' RA '" ||
	umi_die "radvd sent no RA: $(tail -5 "$(bg_log radvd-rs)")"
wait_for 10 "rt-rs:wan0 link-local" link_local_ready rt-rs wan0 || umi_die "rt-rs wan0 has no link-local address"
start_router rs

# RFC 8415 §18.2.1-§18.2.10, RFC 7084 WAA-6: bound, with an address.
if wait_for 20 "rt-rs bound with an IA_NA address on wan0" bound_with_address rs; then
	tap_ok "rs: the router is delegated a prefix and wan0 has an address from Kea (WAA-6)"
else
	tap_fail "rs: the router is delegated a prefix and wan0 has an address from Kea (WAA-6)" \
		"$(show rs; $CAP "$(umi_tmp cap-rs.pcap)" dump; tail -20 "$(bg_log dhcp6d-rs)")"
fi
# The capture checks read it once tcpdump has written the Reply.
wait_for 10 "rt-rs's Reply in the capture" replied rs
# RFC 7084 W-2: the RS from the link-local address, before any DHCPv6.
cap_point rs "rs: the router's RS leaves from its link-local address before its first DHCPv6 message (RFC 7084 W-2)" \
	strict rs-first
# RFC 8415 §18.2.1, RFC 7084 WAA-6: the Solicit's random delay ended by the
# RA; the Solicit asks for IA_NA and IA_PD.
cap_point rs "rs: the first Solicit follows the RA that answered the RS and asks for IA_NA and IA_PD (RFC 8415 §18.2.1, RFC 7084 WAA-6)" \
	skippable first-solicit-after-ra
# RFC 8415 §18.2.2.
cap_point rs "rs: the Request asks for what the Solicit asked for (RFC 8415 §18.2.2)" strict request-like-solicit
# RFC 8415 §18.2.4: the periodic RAs in between start nothing.
wait_for $((T1 + 8)) "a Renew from rt-rs" renewed rs
cap_point rs "rs: the next message after the Reply is the Renew at T1 ($T1 s), periodic RAs notwithstanding (RFC 8415 §18.2.4)" \
	strict renew-at-t1 $T1
routers_heard() {
	client_holds rs '.client.upstream_routers.solicitations >= 1 and .client.upstream_routers.advertisements >= 2 and .client.upstream_routers.last.managed == true'
}
tap_check "rs: the daemon counts its RS and the RAs it heard, M=1 (RFC 7084 W-2)" routers_heard
bg_stop dhcp6d-rs

# ---- periodic: radvd sends only periodic RAs, and starts mid-exchange ----
setup periodic
# The ISP's router does not answer solicitations (RFC 4861 §6.2.6 allows it
# to wait for its next periodic RA): radvd never sees them.
ns_exec isp-periodic nft -f - <<'NFT' || umi_die "nft refused the RS filter"
table ip6 umi_no_rs {
	chain input {
		type filter hook input priority 0;
		icmpv6 type nd-router-solicit drop
	}
}
NFT
# The router starts as its WAN link comes up: the link-local address is in
# DAD (RFC 4862 §5.4) when the daemon starts.
ip -n "$(ns_name rt-periodic)" link set wan0 down
ip -n "$(ns_name rt-periodic)" link set wan0 up
TENTATIVE=$(ip -n "$(ns_name rt-periodic)" -6 addr show dev wan0 scope link tentative)
start_router periodic
[ -n "$TENTATIVE" ] || tap_diag "wan0's link-local address had finished DAD before the daemon started"
# The Solicit goes unanswered (no DHCPv6 server yet); the RA arrives in
# the middle of it.
solicited() { [ "$(sent_count periodic Solicit)" -ge "$1" ]; }
wait_for 10 "rt-periodic's first Solicit" solicited 1 || umi_die "no Solicit from rt-periodic"
start_radvd periodic
ra_heard() { client_holds periodic '.client.upstream_routers.advertisements >= 1 and .client.upstream_routers.last.managed == true'; }
wait_for 10 "rt-periodic hears radvd's RA" ra_heard ||
	umi_die "rt-periodic heard no RA: $(show periodic; tail -5 "$(bg_log radvd-periodic)")"
# One Solicit more after the RA, then the server comes.
N=$(sent_count periodic Solicit)
wait_for 20 "a Solicit after the RA" solicited $((N + 1)) || umi_die "no Solicit after the RA"
start_kea periodic
bound() { client_holds periodic '.client.phase == "bound" and (.client.ias | length) >= 1'; }
if wait_for 40 "rt-periodic bound" bound; then
	tap_ok "periodic: the router is delegated a prefix once Kea answers"
else
	tap_fail "periodic: the router is delegated a prefix once Kea answers" \
		"$(show periodic; $CAP "$(umi_tmp cap-periodic.pcap)" dump; tail -20 "$(bg_log dhcp6d-periodic)")"
fi
# The capture checks read it once tcpdump has written the Reply.
wait_for 10 "rt-periodic's Reply in the capture" replied periodic
# RFC 7084 W-2: solicited at start, though nobody answered.
cap_point periodic "periodic: the router's RS leaves before its first DHCPv6 message (RFC 7084 W-2)" strict rs-first
# RFC 8415 §15, §21.9: one exchange across the RA.
cap_point periodic "periodic: every Solicit, across the RA, has one xid, Elapsed Time from the first and the RT sequence (RFC 8415 §15)" \
	strict one-solicit-exchange
cap_point periodic "periodic: the Request asks for the Solicit's IAs only (RFC 8415 §18.2.2)" strict request-like-solicit
wait_for $((T1 + 8)) "a Renew from rt-periodic" renewed periodic
# RFC 8415 §18.2.4, RFC 7084 WAA-6: the IA_NA joins at T1, not before.
cap_point periodic "periodic: the next message after the Reply is the Renew at T1 ($T1 s), with the IA_NA (RFC 8415 §18.2.4, RFC 7084 WAA-6)" \
	strict renew-at-t1 $T1
tap_check "periodic: Kea assigns the address the Renew asked for (WAA-6)" \
	wait_for 10 "an IA_NA address on rt-periodic's wan0" wan_address periodic

tap_finish
