#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_xfrm.sh): the
# kernel's own xfrm encrypts, umigame's XDP program and umigame.ko decrypt.
# The receiver has no inbound xfrm state at all, so whatever reaches its
# sockets went through our fast path. The lab: selftests/esp/topology.sh.
#
# The sender's SAs all use ESN and window 4096. SAs, tx -> rx: 0x100 IPv6
# tunnel GCM-128; 0x200 IPv4 tunnel GCM-256; 0x300 IPv4 in UDP/4500
# (RFC 3948); 0x600 IPv6 transport; 0x400 IPv6 tunnel starting at
# 0xffffff00; 0x500 exists only on tx (an unknown SPI for rx).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../esp/topology.sh
source "$repo/selftests/esp/topology.sh"
umigame=$ESP_UMIGAME

esp_lab_start 23 esp_xfrm

esp_xfrm_out 0x100 2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:1::1/128 2001:db8:2::1/128 \
	flag esn replay-window 4096 aead "$GCM" $KEY128 128
esp_xfrm_out 0x200 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 \
	flag esn replay-window 4096 aead "$GCM" $KEY256 128
esp_xfrm_out 0x300 192.0.2.1 192.0.2.2 10.1.0.3/32 10.2.0.3/32 \
	flag esn replay-window 4096 encap espinudp 4500 4500 0.0.0.0 aead "$GCM" $KEY128 128
esp_xfrm_out 0x400 2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:1::2/128 2001:db8:2::2/128 \
	flag esn replay-window 4096 replay-oseq 0xffffff00 aead "$GCM" $KEY128 128

# RFC 4303 §3.4: our receiver holds the same SAs, in umigame.ko only.
ok=1
esp_sa_add 0x100 src 2001:db8:ffff::1 dst 2001:db8:ffff::2 mode tunnel aead "$GCM" $KEY128 128 \
	replay-window 4096 flag esn || ok=0
esp_sa_add 0x200 src 192.0.2.1 dst 192.0.2.2 mode tunnel aead "$GCM" $KEY256 128 \
	replay-window 65536 flag esn || ok=0
esp_sa_add 0x300 src 192.0.2.1 dst 192.0.2.2 mode tunnel encap-port 4500 aead "$GCM" $KEY128 128 \
	replay-window 1024 flag esn || ok=0
esp_sa_add 0x400 src 2001:db8:ffff::1 dst 2001:db8:ffff::2 mode tunnel aead "$GCM" $KEY128 128 \
	replay-window 4096 flag esn replay-seq 0xffffff00 || ok=0
if [ $ok = 1 ] && out=$(rx "$umigame" esp attach rx0 --drop-unknown-spi 2>&1); then
	tap_ok "umigame sa add x4 and esp attach rx0 ($out)"
else
	tap_fail "umigame sa add x4 and esp attach rx0" "$out"
fi
eq_none=$(rx ip xfrm state list)
if [ -z "$eq_none" ]; then
	tap_ok "rx has no xfrm state: decryption can only be ours"
else
	tap_fail "rx has no xfrm state: decryption can only be ours" "$eq_none"
fi

listening() { [ -n "$(rx ss -Hln "sport = :$1")" ]; }
lines_in() { [ "$(wc -l <"$1" 2>/dev/null)" = "$2" ]; }
size_is() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]; }
blob=$(umi_tmp blob)
head -c 1048576 /dev/urandom >"$blob"
want_sum=$(sha256sum <"$blob")
port=5000

# traffic NAME FAMILY SRC DST: ping, 5 UDP datagrams and 1 MiB over TCP
# (sha256 compared) from tx's SRC to rx's DST; three test points.
traffic() {
	local name=$1 fam=$2 src=$3 dst=$4 udp tcp got host
	host=$dst
	[ "$fam" = 6 ] && host="[$dst]"
	udp=$((port++)) tcp=$((port++))
	tap_check "$name: ping" tx ping "-$fam" -c 5 -i 0.2 -W 2 -I "$src" "$dst"

	got=$(umi_tmp "udp.$udp")
	bg_start rx "udp$udp" socat -u "UDP$fam-RECV:$udp,bind=$host" "OPEN:$got,creat,append"
	wait_for 5 "UDP sink on $udp" listening "$udp"
	for i in 1 2 3 4 5; do
		echo "datagram $i" | tx socat -u - "UDP$fam-SENDTO:$host:$udp,bind=$( [ "$fam" = 6 ] && echo "[$src]" || echo "$src")"
	done
	if wait_for 10 "5 datagrams" lines_in "$got" 5; then
		tap_ok "$name: 5 UDP datagrams"
	else
		tap_fail "$name: 5 UDP datagrams" "got: $(cat "$got" 2>/dev/null)"
	fi

	got=$(umi_tmp "tcp.$tcp")
	bg_start rx "tcp$tcp" socat -u "TCP$fam-LISTEN:$tcp,bind=$host,reuseaddr" "OPEN:$got,creat,trunc"
	wait_for 5 "TCP sink on $tcp" listening "$tcp"
	tx socat -u "OPEN:$blob" "TCP$fam:$host:$tcp,bind=$( [ "$fam" = 6 ] && echo "[$src]" || echo "$src"),connect-timeout=10"
	if wait_for 20 "1 MiB received" size_is "$got" 1048576 &&
		[ "$(sha256sum <"$got")" = "$want_sum" ]; then
		tap_ok "$name: 1 MiB over TCP, sha256 equal"
	else
		tap_fail "$name: 1 MiB over TCP, sha256 equal" "got $(stat -c %s "$got" 2>/dev/null) bytes"
	fi
}

# RFC 4303 §3.4, tunnel mode: IPv6 outer with ESN, IPv4 outer, and ESP in
# UDP/4500 (RFC 3948).
traffic "IPv6 tunnel, GCM-128, ESN (SA 0x100)" 6 2001:db8:1::1 2001:db8:2::1
traffic "IPv4 tunnel, GCM-256, ESN (SA 0x200)" 4 10.1.0.1 10.2.0.1
traffic "ESP in UDP/4500, ESN (SA 0x300)" 4 10.1.0.3 10.2.0.3

# Transport mode (RFC 4303 §3.1.1): UDP between the outer addresses.
xfrm_transport() {
	tx ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp spi 0x600 \
		reqid 6 mode transport flag esn replay-window 4096 aead "$GCM" $KEY128 128 &&
		tx ip xfrm policy add src 2001:db8:ffff::1/128 dst 2001:db8:ffff::2/128 proto udp \
			dir out tmpl src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp reqid 6 mode transport
}
got=$(umi_tmp udp.transport)
if xfrm_transport && esp_sa_add 0x600 src 2001:db8:ffff::1 dst 2001:db8:ffff::2 mode transport \
	aead "$GCM" $KEY128 128 replay-window 64 flag esn; then
	bg_start rx udp_transport socat -u "UDP6-RECV:4999,bind=[2001:db8:ffff::2]" "OPEN:$got,creat,append"
	wait_for 5 "UDP sink on 4999" listening 4999
	for i in 1 2 3; do
		echo "transport $i" | tx socat -u - "UDP6-SENDTO:[2001:db8:ffff::2]:4999,bind=[2001:db8:ffff::1]"
	done
	if wait_for 10 "3 datagrams" lines_in "$got" 3 && [ "$(esp_sa_stat 0x600 packets)" -ge 3 ]; then
		tap_ok "transport mode (SA 0x600): 3 UDP datagrams, decrypted by us"
	else
		tap_fail "transport mode (SA 0x600): 3 UDP datagrams" "got: $(cat "$got" 2>/dev/null)"
	fi
else
	tap_fail "transport mode (SA 0x600): 3 UDP datagrams" "setting up the SA failed"
fi

decrypted=$(esp_stat decrypted)
if [ "${decrypted:-0}" -ge 30 ] && [ "$(esp_sa_stat 0x100 packets)" -ge 5 ] &&
	[ "$(esp_sa_stat 0x300 packets)" -ge 5 ]; then
	tap_ok "esp stats: $decrypted decrypted in XDP, per-SA counters moved"
else
	tap_fail "esp stats: decrypted in XDP, per-SA counters moved" \
		"$(rx "$umigame" esp stats 2>&1)"
fi

# RFC 4303 §3.4.3: captured packets sent again are dropped and counted,
# and never reach the receiver's sockets.
cap=$(umi_tmp esp.pcap)
# On tx: on rx0 the XDP program hands tcpdump the decrypted packets.
bg_start tx capture tcpdump -i tx0 --immediate-mode -U -w "$cap" 'ip6 proto 50'
wait_for 5 "tcpdump running" test -s "$(bg_log capture)"
tx ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:2::1 >/dev/null
captured() { [ "$(tcpdump -r "$cap" 2>/dev/null | wc -l)" -ge "$1" ]; }
wait_for 5 "3 ESP packets captured" captured 3
bg_stop capture
replays_before=$(esp_sa_stat 0x100 replay_drops)
echos_before=$(rx awk '/^Icmp6InEchos / { print $2 }' /proc/net/snmp6)
tx tcpreplay -q -i tx0 "$cap" >/dev/null 2>&1
replays_since() { [ "$(($(esp_sa_stat 0x100 replay_drops) - replays_before))" -ge "$1" ]; }
if wait_for 5 "3 replays counted" replays_since 3; then
	tap_ok "replayed ESP packets dropped as replays"
else
	tap_fail "replayed ESP packets dropped as replays" "$(rx "$umigame" esp stats 2>&1)"
fi
echos_after=$(rx awk '/^Icmp6InEchos / { print $2 }' /proc/net/snmp6)
if [ "$echos_after" = "$echos_before" ]; then
	tap_ok "no replayed echo request reached rx's ICMPv6 ($echos_after)"
else
	tap_fail "no replayed echo request reached rx's ICMPv6" "$echos_before -> $echos_after"
fi

# Unknown SPI: an SA only the sender has. Dropped by policy, counted.
esp_xfrm_out 0x500 2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:1::1/128 2001:db8:2::9/128 \
	aead "$GCM" $KEY128 128
rx ip addr add 2001:db8:2::9/128 dev lo
unknown_before=$(esp_stat unknown_spi)
if ! tx ping -6 -c 2 -i 0.2 -W 1 -I 2001:db8:1::1 2001:db8:2::9 >/dev/null &&
	[ "$(($(esp_stat unknown_spi) - unknown_before))" -ge 2 ]; then
	tap_ok "unknown SPI 0x500: dropped and counted"
else
	tap_fail "unknown SPI 0x500: dropped and counted" "$(rx "$umigame" esp stats 2>&1)"
fi

# RFC 4303 Appendix A: the sender starts at 0xffffff00 and crosses 2^32.
if tx ping -6 -q -c 400 -i 0.005 -W 2 -I 2001:db8:1::2 2001:db8:2::2 >"$(umi_tmp esn.ping)"; then
	tap_ok "400 pings across the 2^32 boundary, none lost"
else
	tap_fail "400 pings across the 2^32 boundary, none lost" "$(cat "$(umi_tmp esn.ping)")"
fi
top=$(esp_sa_stat 0x400 replay_top)
if [ "${top:-0}" -gt 4294967296 ]; then
	tap_ok "SA 0x400's window moved past 2^32 (top $top)"
else
	tap_fail "SA 0x400's window moved past 2^32" "top ${top:-?}"
fi

# The program holds the module through its kfunc: detach, then unload.
if rmmod umigame 2>/dev/null; then
	tap_fail "rmmod refused while the program is attached" "it unloaded"
else
	tap_ok "rmmod refused while the program is attached"
fi
tap_check "esp detach rx0" rx "$umigame" esp detach rx0
tap_check "rmmod umigame after detach" rmmod umigame

# Without the module the program still loads, checks, and leaves ESP to the
# kernel's xfrm: give rx an inbound xfrm SA and attach again.
rx ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp spi 0x100 reqid 1 \
	mode tunnel flag esn replay-window 4096 aead "$GCM" $KEY128 128
rx ip xfrm policy add src 2001:db8:1::1/128 dst 2001:db8:2::1/128 dir in \
	tmpl src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp reqid 1 mode tunnel
if out=$(rx "$umigame" esp attach rx0 2>&1) && [[ $out == *"not loaded"* ]] &&
	tx ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:2::1 >/dev/null &&
	[ "$(esp_stat to_xfrm)" -ge 3 ] &&
	[ "$(rx "$umigame" esp stats --json | jq -r .decrypts_in_xdp)" = false ]; then
	tap_ok "module absent: program loads, ESP goes to the kernel's xfrm ($(esp_stat to_xfrm) counted)"
else
	tap_fail "module absent: program loads, ESP goes to the kernel's xfrm" \
		"$out; $(rx "$umigame" esp stats 2>&1)"
fi
rx "$umigame" esp detach rx0

tap_finish
