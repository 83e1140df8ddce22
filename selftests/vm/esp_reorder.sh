#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_reorder.sh):
# one burst of ESP packets reordered by half its length (20000 of 40000),
# then sent again, against umigame's 65536-packet window and against the
# kernel's xfrm at its largest window (4096), in the same run.
#
#   tx: tcpreplay reorder.pcap   tx0 <--veth--> rx0   rx: 1) umigame esp + SA
#                                                         2) kernel xfrm state
# Delivered inner datagrams are counted by rx's Udp6NoPorts (no socket
# listens, so none is lost to a slow reader under TCG).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=$repo/build/release/tools/umigame/umigame
fixtures=${UMIGAME_FIXTURES:-}
PPS=${ESP_REORDER_PPS:-3000}

tap_plan 6
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ ! -s "$fixtures/reorder.pcap" ]; then
	for _ in $(seq 6); do
		tap_skip esp_reorder "needs root, module support and fixtures (selftests/vm/run.sh)"
	done
	tap_finish
fi
# shellcheck source=/dev/null
source "$fixtures/reorder.env" # SPI KEY COUNT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
GCM="rfc4106(gcm(aes))"

rx() { ns_nsenter rx "$@"; }
tx() { ns_nsenter tx "$@"; }
snmp6() { rx awk -v k="$1" '$1 == k { print $2 }' /proc/net/snmp6; }
replay_pcap() { tx tcpreplay -q --pps="$PPS" -i tx0 "$fixtures/reorder.pcap" >/dev/null 2>&1; }
rx_drops() { rx ip -s -j link show rx0 | jq '.[0].stats64.rx.dropped'; }

on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
tap_check "insmod umigame.ko" insmod "$ko"
ns_create tx
ns_create rx
for n in tx rx; do
	ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
# The pcap's MACs: 02:..:01 sends to 02:..:02.
veth_pair tx tx0 rx rx0 02:00:00:00:00:01 02:00:00:00:00:02
tx ip addr add 2001:db8:ffff::1/64 dev tx0
rx ip addr add 2001:db8:ffff::2/64 dev rx0
rx ip addr add 2001:db8:2::1/128 dev lo
rx ip route add 2001:db8:1::/64 via 2001:db8:ffff::1

# 1. umigame: window 65536, ESN.
rx "$umigame" sa add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 spi "$SPI" mode tunnel \
	aead "$GCM" "$KEY" 128 replay-window 65536 flag esn >/dev/null &&
	rx "$umigame" esp attach rx0 >/dev/null
before=$(snmp6 Udp6NoPorts)
replay_pcap
# xfrm's count is not known in advance: wait until it stops moving (polled
# with a deadline; a counter still moving after 0.5 s is polled again).
settled() { # value of a counter that stopped moving
	local a b
	a=$("$@"); sleep 0.5; b=$("$@")
	[ "$a" = "$b" ] && echo "$b"
}
delivered_since() { [ "$(($(snmp6 Udp6NoPorts) - before))" -ge "$1" ]; }
wait_for 120 "all $COUNT delivered" delivered_since "$COUNT"
ours=$(($(settled snmp6 Udp6NoPorts || snmp6 Udp6NoPorts) - before))
stats=$(rx "$umigame" esp stats --json)
replays=$(jq -r '.sas[0].replay_drops' <<<"$stats")
decrypted=$(jq -r '.sas[0].packets' <<<"$stats")
tap_diag "umigame (65536): $ours of $COUNT delivered, $replays of $COUNT replays dropped, rx drops $(rx_drops)"
if [ "$ours" = "$COUNT" ] && [ "$decrypted" = "$COUNT" ]; then
	tap_ok "umigame, window 65536: all $COUNT reordered packets delivered once"
else
	tap_fail "umigame, window 65536: all $COUNT reordered packets delivered once" \
		"delivered $ours, decrypted $decrypted"
fi
eq_replays="$replays"
if [ "$eq_replays" = "$COUNT" ]; then
	tap_ok "umigame: all $COUNT replays dropped and counted"
else
	tap_fail "umigame: all $COUNT replays dropped and counted" "$replays"
fi
tap_check "esp detach rx0" rx "$umigame" esp detach rx0

# 2. The kernel's xfrm at its largest window.
rx ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp spi "$SPI" reqid 9 \
	mode tunnel flag esn replay-window 4096 aead "$GCM" "$KEY" 128
rx ip xfrm policy add src 2001:db8:1::/64 dst 2001:db8:2::1/128 dir in \
	tmpl src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp reqid 9 mode tunnel
before=$(snmp6 Udp6NoPorts)
replay_pcap
theirs=""
wait_for 120 "delivery to settle" eval 'theirs=$(settled snmp6 Udp6NoPorts)'
theirs=$((theirs - before))
tap_diag "kernel xfrm (4096): $theirs of $COUNT delivered"
printf '# %-28s %10s %10s\n' "receiver" "delivered" "lost"
printf '# %-28s %10s %10s\n' "umigame XDP, window 65536" "$ours" "$((COUNT - ours))"
printf '# %-28s %10s %10s\n' "kernel xfrm, window 4096" "$theirs" "$((COUNT - theirs))"
if [ "$theirs" -lt "$COUNT" ] && [ "$theirs" -gt 0 ]; then
	tap_ok "kernel xfrm at window 4096 loses $((COUNT - theirs)) of the same packets"
else
	tap_fail "kernel xfrm at window 4096 loses packets" "delivered $theirs of $COUNT"
fi
tap_check "rmmod umigame" rmmod umigame

tap_finish
