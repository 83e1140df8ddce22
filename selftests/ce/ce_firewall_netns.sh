#!/usr/bin/env bash
# ce_firewall_netns.sh — the CE router's RFC 6092 "simple security"
# (nftables, docs/firewall.md) and its RFC 6583 neighbour-cache defence,
# attacked from the WAN with thc-ipv6. Topology in lab.sh:
#
#   inet (www, echo) --- isp (Kea, radvd; the attacker) --- ce (ours) --- host
#                                                        (ce2/host2 idle)
#
# Checks: our table and only our table; LAN-initiated TCP, UDP and ICMPv6
# work, and their state outlives the kernel's default timeouts; atk6-firewall6, every test case, TCP to an open and a closed port
# and UDP, gets nothing through to the host (capture on the host); a
# Packet Too Big for a LAN-initiated flow reaches the host, one for no
# flow does not; atk6-ndpexhaust26 at the LAN /64 during a ping from the
# router to the host: no loss beyond 1 %, the host's neighbour entry
# survives, the LAN's neighbour table stays small.
#
# Every wait is a condition with a deadline. Output is KTAP. Needs root,
# kea-dhcp6, radvd, nft, tcpdump, thc-ipv6, scapy and umigame-dhcp6d.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
source "$HERE/lab.sh"

umi_require ip nft kea-dhcp6 radvd tcpdump jq ping timeout atk6-firewall6 atk6-ndpexhaust26 /usr/bin/python3
tap_plan 18
[ -x "$DHCP6D" ] || umi_die "no umigame-dhcp6d at $DHCP6D (make userspace)"

# Somebody else's table in the router, made before ours: it must come
# through untouched.
OTHER='table inet other {
	chain input {
		type filter hook input priority 10; policy accept;
		counter comment "not ours"
	}
}'
lab_pre_up() { ip netns exec "$(ns_name ce)" nft -f - <<<"$OTHER"; }
LAB_PRE_UP=lab_pre_up lab_up
ce_nft() { ns_exec ce nft "$@"; }
fw_status() { lab_show | jq -c '.client.firewall'; }

HOST6=$(ip -n "$(ns_name host)" -6 addr show dev eth0 scope global | awk -v p="${LAB_SUBNET%::/64}:" \
	'/inet6/ && index($2, p) == 1 && !/temporary/ { sub("/.*", "", $2); print $2; exit }')
[ -n "$HOST6" ] || umi_die "the LAN host has no address in $LAB_SUBNET"

# The table is ours alone: readable, commented, and the other table kept.
RULESET=$(umi_tmp ruleset.txt)
ce_nft list ruleset >"$RULESET" 2>&1
ours_listed() {
	grep -q "^table ip6 umigame_ce" "$RULESET" && grep -q 'comment "RFC 6092' "$RULESET" &&
		grep -q 'comment "not ours"' "$RULESET"
}
tap_check "nft list ruleset shows table ip6 umigame_ce with RFC comments, and the other table kept" ours_listed

# Servers on the Internet side (inet) and on the LAN host.
bg_start inet udp-echo "$LAB_PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("'$LAB_WWW6'", 5007))
while True:
    data, peer = s.recvfrom(2048); s.sendto(data, peer)'
bg_start inet hold "$LAB_PY" -c '
import socket, threading, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'$LAB_WWW6'", 8080)); s.listen(8)
held = []
while True:
    c, _ = s.accept(); held.append(c)'
bg_start host listener "$LAB_PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()'
wait_for 10 "servers listening" sh -c "ip netns exec $(ns_name host) ss -ltn | grep -q ':80 ' &&
	ip netns exec $(ns_name inet) ss -ltn | grep -q ':8080 ' && ip netns exec $(ns_name inet) ss -lun | grep -q ':5007 '" ||
	umi_die "test servers did not start"

# RFC 6092 REC-16, REC-31: what the LAN starts, the replies to it pass.
tap_check "LAN-initiated TCP to the Internet works" \
	wait_for 10 "TCP out" sh -c "ip netns exec $(ns_name host) $LAB_PY -c 'import socket; socket.create_connection((\"$LAB_WWW6\", 80), 5)'"
udp_out() {
	ns_exec host "$LAB_PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b"umigame", ("'$LAB_WWW6'", 5007))
assert s.recv(64) == b"umigame"'
}
tap_check "LAN-initiated UDP to the Internet gets its reply" wait_for 10 "UDP out" udp_out
tap_check "LAN-initiated ICMPv6 echo gets its reply" ns_exec host ping -6 -c 2 -W 2 "$LAB_WWW6"
# RFC 6092 REC-14, REC-35: the router keeps the state of those flows longer
# than the kernel would by itself (UDP 30 s, a closing TCP 2 min at most):
# the seconds left, read from conntrack in the router.
# /proc/net/nf_conntrack writes addresses in full.
HOST6_FULL=$("$LAB_PY" -c "import ipaddress; print(ipaddress.ip_address('$HOST6').exploded)")
conntrack_left() { # PROTO DPORT → seconds left of the host's flows, one per line
	ns_exec ce cat /proc/net/nf_conntrack |
		awk -v p="$1" -v d=" dport=$2 " -v s="src=$HOST6_FULL " '$3 == p && index($0, d) && index($0, s) { print $5 }'
}
longest_over() { conntrack_left "$1" "$2" | awk -v min="$3" '$1 > min { ok = 1 } END { exit !ok }'; }
tap_check "the host's UDP flow between high ports lives 5 minutes idle, not 30 s (RFC 6092 REC-14)" \
	longest_over udp 5007 240
tap_check "its closed TCP connection is kept 4 minutes, not 2 (RFC 6092 REC-35)" longest_over tcp 80 180
# RFC 6092 §2.3: nothing unsolicited comes in.
tcp_in_refused() {
	! ns_exec inet "$LAB_PY" -c "import socket; socket.create_connection(('$HOST6', 80), 3)" 2>/dev/null
}
tap_check "a TCP connection from the Internet to the LAN host's open port 80 does not get through" tcp_in_refused
tap_check "a ping from the Internet to the LAN host gets no answer" sh -c "! ip netns exec $(ns_name inet) ping -6 -c 2 -W 2 $HOST6"

# atk6-firewall6, all test cases: TCP to the open port 80 and a closed port
# 81, and UDP; everything the host receives meanwhile that did not come
# from its own LAN is a failure.
HOST_PCAP=$(umi_tmp host.pcap)
bg_start host tcpdump-host tcpdump -i eth0 --immediate-mode -n -U -w "$HOST_PCAP" \
	"not (ip6 src net $LAB_SUBNET or ip6 src net $LAB_ULA or ip6 src net fe80::/10 or ip6 src ::) and not arp and not (ip src net 10.0.1.0/24)"
wait_for 10 "tcpdump on the host" sh -c "[ -s '$HOST_PCAP' ]" || umi_die "tcpdump did not start on the host"
FW6_OPEN=$(umi_tmp firewall6-open.txt) FW6_CLOSED=$(umi_tmp firewall6-closed.txt) FW6_UDP=$(umi_tmp firewall6-udp.txt)
ns_exec isp timeout 300 atk6-firewall6 down0 "$HOST6" 80 >"$FW6_OPEN" 2>&1 &
p1=$!
ns_exec isp timeout 300 atk6-firewall6 down0 "$HOST6" 81 >"$FW6_CLOSED" 2>&1 &
p2=$!
ns_exec isp timeout 300 atk6-firewall6 -u down0 "$HOST6" 53 >"$FW6_UDP" 2>&1 &
p3=$!
wait $p1 $p2 $p3
bg_stop tcpdump-host
cases=$(cat "$FW6_OPEN" "$FW6_CLOSED" "$FW6_UDP" | grep -c '^Test ')
through=$(tcpdump -r "$HOST_PCAP" -n 2>/dev/null | wc -l)
tap_diag "atk6-firewall6 ran $cases test cases (TCP 80 open, TCP 81 closed, UDP 53)"
nothing_through() { [ "$cases" -ge 100 ] && [ "$through" = 0 ]; }
if nothing_through; then
	tap_ok "atk6-firewall6: none of its $cases test cases put a packet through to the LAN host"
else
	tap_fail "atk6-firewall6: none of its test cases puts a packet through to the LAN host" \
		"$cases cases, $through packets reached the host: $(tcpdump -r "$HOST_PCAP" -n 2>/dev/null | head -5)"
fi
# What firewall6 reports as "received" can be the router's own ICMPv6
# errors (a malformed fragment chain); the capture above is what counts.
tap_diag "firewall6 saw a reply (from the router or beyond) in $(cat "$FW6_OPEN" "$FW6_CLOSED" "$FW6_UDP" | grep -c received) cases"

# RFC 4890 §4.3.1, RFC 6092 REC-18/REC-36: a Packet Too Big about a flow the LAN
# host started reaches it (PMTUD works); RFC 6092 REC-10: one about no flow
# at all does not.
PTB_PCAP=$(umi_tmp ptb.pcap)
bg_start host tcpdump-ptb tcpdump -i eth0 --immediate-mode -n -U -w "$PTB_PCAP" "icmp6 and ip6[40] == 2"
wait_for 10 "tcpdump for PTB" sh -c "[ -s '$PTB_PCAP' ]" || umi_die "tcpdump did not start"
FLOW=$(umi_tmp flow.txt)
ns_exec host "$LAB_PY" -c '
import socket, sys, time
c = socket.create_connection(("'$LAB_WWW6'", 8080), 5)
print(c.getsockname()[1], flush=True)
time.sleep(20)' >"$FLOW" 2>&1 &
flow_pid=$!
wait_for 10 "the host's flow" sh -c "[ -s '$FLOW' ]" || umi_die "no flow from the host"
SPORT=$(head -1 "$FLOW")
send_ptb() {
	ns_exec inet "$LAB_PY" -c '
from scapy.all import IPv6, ICMPv6PacketTooBig, TCP, send
inner = IPv6(src="'$HOST6'", dst="'$LAB_WWW6'")/TCP(sport='$1', dport=8080, flags="A")
send(IPv6(src="'$LAB_WWW6'", dst="'$HOST6'")/ICMPv6PacketTooBig(mtu=1280)/inner, verbose=0)'
}
send_ptb "$SPORT"
ptb_related() { [ "$(tcpdump -r "$PTB_PCAP" -n 2>/dev/null | wc -l)" -ge 1 ]; }
tap_check "a Packet Too Big from the WAN for the host's own flow reaches the host" wait_for 5 "PTB on the host" ptb_related
# The unrelated one first, then a related one on the same path: once the
# second has arrived, the first would have too.
before=$(tcpdump -r "$PTB_PCAP" -n 2>/dev/null | wc -l)
send_ptb 4242
send_ptb "$SPORT"
ptb_count() { tcpdump -r "$PTB_PCAP" -n 2>/dev/null | wc -l; }
second_related() { [ "$(ptb_count)" -gt "$before" ]; }
wait_for 5 "the second related PTB" second_related ||
	umi_die "the related Packet Too Big did not come through a second time"
kill "$flow_pid" 2>/dev/null
wait "$flow_pid" 2>/dev/null
bg_stop tcpdump-ptb
ptb_unrelated_dropped() { [ "$(ptb_count)" = $((before + 1)) ]; }
tap_check "a Packet Too Big about no flow of the host's does not (RFC 6092 REC-10)" ptb_unrelated_dropped

# RFC 6092 REC-22: IPsec passes by default, ESP even behind an extension
# header, to a host of the LAN (the host started nothing of it).
ESP_PCAP=$(umi_tmp esp.pcap)
bg_start host tcpdump-esp tcpdump -i eth0 --immediate-mode -n -U -w "$ESP_PCAP" "ip6 src $LAB_WWW6 and not icmp6"
wait_for 10 "tcpdump for ESP" sh -c "[ -s '$ESP_PCAP' ]" || umi_die "tcpdump did not start"
ns_exec inet "$LAB_PY" -c '
from scapy.all import IPv6, IPv6ExtHdrDestOpt, ESP, send
send(IPv6(src="'$LAB_WWW6'", dst="'$HOST6'")/IPv6ExtHdrDestOpt()/ESP(spi=0x1000, seq=1, data=b"x" * 32), verbose=0)'
esp_arrived() { [ "$(tcpdump -r "$ESP_PCAP" -n 2>/dev/null | wc -l)" -ge 1 ]; }
tap_check "ESP from the Internet behind a Destination Options header reaches the LAN host (RFC 6092 REC-22)" \
	wait_for 5 "ESP on the host" esp_arrived
bg_stop tcpdump-esp

# RFC 6583: atk6-ndpexhaust26 floods the LAN /64 from the WAN (Packet Too
# Big, then Echo Requests to random addresses) while the router pings the
# host 10 times a second.
PING_OUT=$(umi_tmp ping.txt)
ns_exec ce ping -6 -i 0.1 -c 200 -W 1 "$HOST6" >"$PING_OUT" 2>&1 &
ping_pid=$!
max_incomplete=0
count_incomplete() { ip -n "$(ns_name ce)" -6 neigh show dev lan0 | grep -c -E 'INCOMPLETE|FAILED'; }
ns_exec isp timeout 8 atk6-ndpexhaust26 -c down0 "${LAB_SUBNET}" >/dev/null 2>&1 &
flood1=$!
for _ in $(seq 40); do n=$(count_incomplete); [ "$n" -gt "$max_incomplete" ] && max_incomplete=$n; sleep 0.2; done
wait $flood1
ns_exec isp timeout 8 atk6-ndpexhaust26 -c -p down0 "${LAB_SUBNET}" >/dev/null 2>&1 &
flood2=$!
for _ in $(seq 40); do n=$(count_incomplete); [ "$n" -gt "$max_incomplete" ] && max_incomplete=$n; sleep 0.2; done
wait $flood2 $ping_pid
loss=$(awk '/packet loss/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) { sub("%", "", $i); print $i } }' "$PING_OUT")
tap_diag "ping during the flood: ${loss:-?}% loss; at most $max_incomplete unresolved neighbours on lan0"
tap_check "atk6-ndpexhaust26: the router-host ping loses at most 1 % (${loss:-?} %)" \
	awk -v l="${loss:-100}" 'BEGIN { exit !(l <= 1) }'
host_entry() { ip -n "$(ns_name ce)" -6 neigh show "$HOST6" dev lan0 | grep -qE 'REACHABLE|STALE|DELAY|PROBE'; }
tap_check "the host's neighbour entry survives the flood" host_entry
tap_check "the flood never left more than 10 unresolved neighbours on lan0 ($max_incomplete)" \
	test "$max_incomplete" -le 10
counted() {
	json_holds '.counters["RFC 6092 REC-10: an ICMPv6 error or segment that belongs to no flow"] > 0 and
		.counters["RFC 6092 2.3: unsolicited inbound traffic"] > 0' fw_status
}
tap_check "umigame dhcp6 show counts the drops under their RFC rules" counted

# The same flood with the firewall turned off (a reload): now the router
# resolves every scanned address, so the bound above was the firewall's
# doing (the test can fail).
printf '\n[firewall]\nenabled = false\n' >>"$(lab_dir)/dhcp6d.toml"
lab_cli dhcp6 reload >/dev/null || umi_die "reload with the firewall off refused"
only_ours_gone() { ! ce_nft list tables | grep -q umigame_ce && ce_nft list table inet other | grep -q 'not ours'; }
tap_check "a reload with enabled = false removes our table (and only it)" only_ours_gone
ns_exec isp timeout 8 atk6-ndpexhaust26 -c down0 "${LAB_SUBNET}" >/dev/null 2>&1 &
flood3=$!
max_open=0
for _ in $(seq 40); do n=$(count_incomplete); [ "$n" -gt "$max_open" ] && max_open=$n; sleep 0.2; done
wait $flood3
tap_check "without the firewall the same flood leaves $max_open unresolved neighbours (> 10)" test "$max_open" -gt 10

tap_finish
