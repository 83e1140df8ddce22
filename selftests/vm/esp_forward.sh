#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_forward.sh):
# `umigame esp forward`. The router rx decrypts a tunnel in XDP and, for
# inner packets routed out of a listed LAN port, forwards them from XDP
# (bpf_fib_lookup, a redirect) without the stack; whatever the stack must
# judge (hop limit, MTU, neighbour discovery, unlisted ports) still goes up
# to it. The lab of selftests/esp/topology.sh, with a host behind rx:
#
#   tx (xfrm sends)              rx (umigame esp on rx0)              lan
#   lo  2001:db8:1::1 10.1.0.1                                        lan1 2001:db8:3::2/64
#   tx0 2001:db8:ffff::1  <-veth->  rx0 2001:db8:ffff::2                   10.3.0.2/24
#       192.0.2.1                       192.0.2.2                          (an XDP_PASS program:
#                                   lan0 2001:db8:3::1/64  <-veth->         veth takes XDP frames
#                                        10.3.0.1/24                        only with one)
#
# SAs tx -> rx: 0x100 IPv6 tunnel 2001:db8:1::1 -> 2001:db8:3::/64, 0x200
# IPv4 tunnel 10.1.0.1 -> 10.3.0.0/24. Replies travel back in the clear.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../esp/topology.sh
source "$repo/selftests/esp/topology.sh"
pass_prog=$repo/build/bpf/empty_pass.bpf.o

esp_lab_start 11 esp_forward
ns_create lan
ns_sysctl lan net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ns_sysctl rx net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
veth_pair rx lan0 lan lan1
lan() { ns_nsenter lan "$@"; }
rx ip addr add 2001:db8:3::1/64 dev lan0
rx ip addr add 10.3.0.1/24 dev lan0
lan ip addr add 2001:db8:3::2/64 dev lan1
lan ip addr add 10.3.0.2/24 dev lan1
lan ip route add default via 2001:db8:3::1
lan ip route add default via 10.3.0.1
tx ip route add 2001:db8:3::/64 via 2001:db8:ffff::2
tx ip route add 10.3.0.0/24 via 192.0.2.2
lan ip link set dev lan1 xdpdrv obj "$pass_prog" sec xdp ||
	umi_die "cannot attach $pass_prog to lan1"

esp_xfrm_out 0x100 2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:1::1/128 2001:db8:3::/64 \
	flag esn replay-window 4096 aead "$GCM" $KEY128 128
esp_xfrm_out 0x200 192.0.2.1 192.0.2.2 10.1.0.1/32 10.3.0.0/24 \
	flag esn replay-window 4096 aead "$GCM" $KEY128 128
ok=1
esp_sa_add 0x100 src 2001:db8:ffff::1 dst 2001:db8:ffff::2 mode tunnel aead "$GCM" $KEY128 128 \
	replay-window 4096 flag esn || ok=0
esp_sa_add 0x200 src 192.0.2.1 dst 192.0.2.2 mode tunnel aead "$GCM" $KEY128 128 \
	replay-window 4096 flag esn || ok=0
if [ $ok = 1 ] && out=$(umigame_rx esp attach rx0 --drop-unknown-spi 2>&1) &&
	fwd=$(umigame_rx esp forward lan0 2>&1) &&
	umigame_rx esp stats | grep -q "forwards inner packets in XDP to lan0" &&
	[ "$(umigame_rx esp stats --json | jq -r '.xdp_forward_ports[0].dev')" = lan0 ]; then
	tap_ok "sa add x2, esp attach rx0, esp forward lan0 ($fwd); esp stats names the port"
else
	tap_fail "sa add, esp attach, esp forward lan0" "$out ${fwd:-}"
fi

# A counter of rx's own stack (nstat, absolute).
rx_stat() { rx nstat -az "$1" | awk -v n="$1" '$1 == n { print $2 }'; }
# The hop limit / TTL of the first packet to DST that lan1 sees while CMD runs.
hop_seen_by_lan() { # DST CMD...
	local dst=$1 cap=cap$RANDOM$RANDOM # called in $(...): no counter survives
	shift
	bg_start lan $cap tcpdump -n -v -i lan1 -Q in --immediate-mode -U -c 1 "dst host $dst and (icmp or icmp6)"
	wait_for 10 "tcpdump listening" grep -q "listening on" "$(bg_log $cap)"
	"$@" >/dev/null 2>&1
	wait_for 10 "a packet on lan1" grep -qE "hlim|ttl" "$(bg_log $cap)"
	grep -oE "(hlim|ttl) [0-9]+" "$(bg_log $cap)" | head -1 | awk '{ print $2 }'
	bg_stop $cap
}

# Neither path is taken by the requests' stack: rx's stack forwards the
# replies (in the clear) and nothing else, and the program counts the
# requests as forwarded. (The neighbour is resolved first: see below for an
# unresolved one.)
rx ping -6 -c 1 -W 2 2001:db8:3::2 >/dev/null
replies() { lan nstat -az Icmp6OutEchoReplies | awk '$1 == "Icmp6OutEchoReplies" { print $2 }'; }
fwd0=$(esp_stat forwarded) dec0=$(esp_stat decrypted) stack0=$(rx_stat Ip6OutForwDatagrams) rep0=$(replies)
if tx ping -6 -c 5 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:3::2 >/dev/null; then
	fwd1=$(esp_stat forwarded) dec1=$(esp_stat decrypted) stack1=$(rx_stat Ip6OutForwDatagrams) rep1=$(replies)
	if [ $((fwd1 - fwd0)) = 5 ] && [ "$dec1" = "$dec0" ] && [ $((stack1 - stack0)) = $((rep1 - rep0)) ]; then
		tap_ok "IPv6 inner: 5 pings through the tunnel, each forwarded in XDP (forwarded +5, decrypted +0; rx's stack forwarded only the $((rep1 - rep0)) replies)"
	else
		tap_fail "IPv6 inner: forwarded in XDP" "forwarded $fwd0 -> $fwd1, decrypted $dec0 -> $dec1, rx's Ip6OutForwDatagrams $stack0 -> $stack1, lan's replies $rep0 -> $rep1"
	fi
else
	tap_fail "IPv6 inner: 5 pings through the tunnel" "no replies"
fi

# RFC 8200 §3: a forwarder decrements the hop limit; RFC 791/1624: the
# TTL, with the header checksum updated (lan's kernel drops a bad one, so
# the replies prove it right).
hl=$(hop_seen_by_lan 2001:db8:3::2 tx ping -6 -c 1 -t 7 -W 2 -I 2001:db8:1::1 2001:db8:3::2)
if [ "$hl" = 6 ]; then
	tap_ok "IPv6 inner: hop limit 7 arrives as 6 (RFC 8200 §3)"
else
	tap_fail "IPv6 inner: hop limit 7 arrives as 6" "lan saw hop limit '${hl:-none}'"
fi
rx ping -4 -c 1 -W 2 10.3.0.2 >/dev/null
fwd0=$(esp_stat forwarded)
ttl=$(hop_seen_by_lan 10.3.0.2 tx ping -4 -c 1 -t 9 -W 2 -I 10.1.0.1 10.3.0.2)
if tx ping -4 -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.3.0.2 >/dev/null && [ "$ttl" = 8 ] &&
	[ $(($(esp_stat forwarded) - fwd0)) -ge 4 ]; then
	tap_ok "IPv4 inner: TTL 9 arrives as 8 with a valid checksum (lan answers), forwarded in XDP"
else
	tap_fail "IPv4 inner: TTL and checksum" "ttl seen '${ttl:-none}', forwarded $fwd0 -> $(esp_stat forwarded)"
fi

# What the stack must answer goes to the stack.
counter_above() { [ "$(rx_stat "$1")" -gt "$2" ]; }
# stack_answers WHAT COUNTER CMD...: CMD's packet is decrypted and handed to
# the stack (not forwarded in XDP), which answers it with the ICMPv6 error
# rx counts in COUNTER.
stack_answers() {
	local what=$1 counter=$2 dec0 c0
	shift 2
	dec0=$(esp_stat decrypted) c0=$(rx_stat "$counter")
	"$@" >/dev/null 2>&1
	if wait_for 5 "rx counts $counter" counter_above "$counter" "$c0" &&
		[ "$(esp_stat decrypted)" -gt "$dec0" ]; then
		tap_ok "$what"
	else
		tap_fail "$what" "decrypted $dec0 -> $(esp_stat decrypted), $counter $c0 -> $(rx_stat "$counter")"
	fi
}
# RFC 8200 §3 / RFC 4443 §3.3: hop limit 1 is not forwarded; Time Exceeded.
stack_answers "hop limit 1: handed to the stack, which sends Time Exceeded (RFC 4443 §3.3)" \
	Icmp6OutTimeExcds tx ping -6 -c 1 -t 1 -W 2 -I 2001:db8:1::1 2001:db8:3::2
# RFC 8201 / RFC 4443 §3.2: too big for lan0's MTU; Packet Too Big.
rx ip link set lan0 mtu 1280
stack_answers "1348 bytes for a 1280 MTU: handed to the stack, which sends Packet Too Big (RFC 4443 §3.2)" \
	Icmp6OutPktTooBigs tx ping -6 -c 1 -s 1300 -W 2 -I 2001:db8:1::1 2001:db8:3::2
rx ip link set lan0 mtu 1500

# No neighbour yet: the stack resolves it (and delivers); then XDP again.
rx ip -6 neigh flush dev lan0
dec0=$(esp_stat decrypted) fwd0=$(esp_stat forwarded)
if tx ping -6 -c 4 -i 0.3 -W 2 -I 2001:db8:1::1 2001:db8:3::2 >/dev/null &&
	[ "$(esp_stat decrypted)" -gt "$dec0" ] && [ "$(esp_stat forwarded)" -gt "$fwd0" ]; then
	tap_ok "unresolved neighbour: the first packet goes to the stack (ND), later ones are forwarded in XDP"
else
	tap_fail "unresolved neighbour" "decrypted $dec0 -> $(esp_stat decrypted), forwarded $fwd0 -> $(esp_stat forwarded)"
fi

# A bad name changes nothing; `none` turns it off.
if ! err=$(umigame_rx esp forward lan0 nosuch0 2>&1) && grep -q "no interface named 'nosuch0'" <<<"$err" &&
	[ "$(umigame_rx esp stats --json | jq -r '[.xdp_forward_ports[].dev] | join(",")')" = lan0 ]; then
	tap_ok "esp forward with an unknown port is refused ($err) and the set is kept"
else
	tap_fail "esp forward with an unknown port" "$err; now: $(umigame_rx esp stats --json | jq -c .xdp_forward_ports)"
fi
umigame_rx esp forward none >/dev/null
dec0=$(esp_stat decrypted) fwd0=$(esp_stat forwarded) stack0=$(rx_stat Ip6OutForwDatagrams)
if tx ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:3::2 >/dev/null &&
	[ "$(esp_stat forwarded)" = "$fwd0" ] && [ $(($(esp_stat decrypted) - dec0)) -ge 3 ] &&
	[ $(($(rx_stat Ip6OutForwDatagrams) - stack0)) -ge 3 ] &&
	[ "$(umigame_rx esp stats --json | jq '.xdp_forward_ports | length')" = 0 ]; then
	tap_ok "esp forward none: the inner packets go up the stack again and are forwarded there"
else
	tap_fail "esp forward none" "forwarded $fwd0 -> $(esp_stat forwarded), decrypted $dec0 -> $(esp_stat decrypted)"
fi

# A port not in the set: forwarded by the stack, not by XDP.
umigame_rx esp forward rx0 >/dev/null
fwd0=$(esp_stat forwarded)
if tx ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:3::2 >/dev/null &&
	[ "$(esp_stat forwarded)" = "$fwd0" ]; then
	tap_ok "a route out of a port not listed (lan0, while only rx0 is): the stack forwards"
else
	tap_fail "unlisted port" "forwarded $fwd0 -> $(esp_stat forwarded)"
fi

tap_finish
