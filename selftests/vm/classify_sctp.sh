#!/usr/bin/env bash
# vm-timeout: 600 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh classify_sctp.sh):
# the XDP SCTP/DCCP classifier (bpf/classify.bpf.c, issue 17) under real
# kernel SCTP associations and DCCP connections (the 6.18 host has neither).
#
#   tx (clients: classify_peer.py)           rx (servers: classify_peer.py)
#   tx0 10.0.0.1/24                          rx0 10.0.0.2/24
#       10.0.1.1/24                              10.0.1.2/24
#       2001:db8::1/64  <------ veth ------>     2001:db8::2/64
#                                            XDP classifier, native (veth),
#                                            ingress: sees every tx -> rx packet
#
# Counted against the sender: tcpdump -Q out on tx0, after the exchange has provably ended (the server's
# association is gone, or the server read the DCCP Close).
#
# Points: the lab; attach (native XDP); SCTP over IPv4 and IPv6 and DCCP over
# IPv4 and IPv6, each rule counting exactly the packets the sender put on
# the wire; a drop rule on INIT for one port stops exactly the associations
# to it while another port's association comes up meanwhile; a drop rule on
# one DCCP service code stops exactly those connections while another
# service code connects; a multihomed association survives the loss of its
# primary path as one flow; real traffic is never counted malformed.
#
# Not here: the rate limit under a flood, port rewrite (issue 17); CRC32c
# is classify_crc32c.sh (it needs umigame.ko).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/classify.sh
source "$repo/selftests/lib/classify.sh"

umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
peer=$here/classify_peer.py
py=/usr/bin/python3
pins=/sys/fs/bpf/umigame-cls-$$ # bpffs refuses dots in names
plan=11

tap_plan $plan
if [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ] || ! command -v tcpdump >/dev/null ||
	! modprobe sctp 2>/dev/null || ! modprobe dccp_ipv4 2>/dev/null ||
	! modprobe dccp_ipv6 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip classify_sctp "needs root, the CLI, tcpdump and the sctp/dccp modules (selftests/vm/run.sh)"
	done
	tap_finish
fi
cls_setup
rule_ge() { [ "$(rule_pkts "$1")" -ge "$2" ]; }
load_rules() { # TOML text: replaces rx0's table
	local f
	f=$(umi_tmp "rules$((++nrules)).toml")
	printf '[[port]]\ninterface = "rx0"\n%s\n' "$1" >"$f"
	in_rx "$umigame" classify rules load "$f"
}
nrules=0
sctp_out() { # SctpOutSCTPPacks in tx
	ns_exec tx cat /proc/net/sctp/snmp | while read -r k v; do
		[ "$k" = SctpOutSCTPPacks ] && echo "$v"
	done
}
no_assoc() { # NS: no SCTP association left (the header line only)
	[ "$(ns_exec "$1" cat /proc/net/sctp/assocs | wc -l)" -le 1 ]
}
no_assoc_both() { no_assoc rx && no_assoc tx; }
# Captures on tx0's egress: what the sender put on the wire.
# The capture takes every frame tx0 sends and the filter is applied when it
# is read: with the filter in the kernel, the DCCP-over-IPv6 capture came up
# short of what had verifiably left tx0 (19 or 21 of 23).
declare -A cap_filter
cap_start() { # NAME FILTER
	cap_filter[$1]=$2
	bg_start tx "cap_$1" tcpdump -n -i tx0 -Q out --immediate-mode -U -w "$(umi_tmp "$1.pcap")"
	wait_for 20 "tcpdump $1 listening" grep -q "listening on" "$(bg_log "cap_$1")"
}
cap_read() { tcpdump -n -r "$(umi_tmp "$1.pcap")" "${cap_filter[$1]}" 2>/dev/null | wc -l; }
cap_caught_up() { [ "$(cap_read "$1")" -ge "$(rule_pkts "$2")" ]; }
cap_count() { # NAME [RULE]: stop the capture, print its packet count
	# tcpdump writes what it has read from its ring; stopped at once it can
	# lose the last frames of the exchange (21 of 23 seen once). Let it catch
	# up with the rule's count first: if the rule counted more than the wire
	# carried, the wait ends at its deadline and the comparison fails.
	[ -z "${2:-}" ] || wait_for 10 "tcpdump $1 caught up with rule $2" cap_caught_up "$1" "$2" 2>/dev/null
	bg_stop "cap_$1"
	cap_read "$1"
}
listening() { wait_for 30 "$1 listening" grep -q listening "$(bg_log "$1")"; }
report() { # STATUS NAME: one point, $diag as its diagnostic either way
	if [ "$1" = 0 ]; then
		tap_ok "$2"
		tap_diag "$diag"
	else
		tap_fail "$2" "$diag"
	fi
}
oneline() { tr '\n' ' ' <"$1"; }
not_running() { ! bg_running "$1"; }
seen() { grep -c "$2" "$(bg_log "$1")"; }

# 1: the lab
lab_log=$(umi_tmp lab.log)
if {
	ns_create tx && ns_create rx && veth_pair tx tx0 rx rx0 &&
		ip -n "$(ns_name tx)" addr add 10.0.0.1/24 dev tx0 &&
		ip -n "$(ns_name rx)" addr add 10.0.0.2/24 dev rx0 &&
		ip -n "$(ns_name tx)" addr add 10.0.1.1/24 dev tx0 &&
		ip -n "$(ns_name rx)" addr add 10.0.1.2/24 dev rx0 &&
		ip -n "$(ns_name tx)" addr add 2001:db8::1/64 dev tx0 nodad &&
		ip -n "$(ns_name rx)" addr add 2001:db8::2/64 dev rx0 nodad &&
		ns_exec tx ping -c1 -W5 10.0.0.2 && ns_exec tx ping -c1 -W5 2001:db8::2
} >>"$lab_log" 2>&1; then
	tap_ok "lab: tx and rx joined by a veth, IPv4 and IPv6"
else
	tap_fail "lab: tx and rx joined by a veth, IPv4 and IPv6" "$(cat "$lab_log")"
fi

# 2: attach, native XDP (veth's driver mode), and the counting rules:
# 0 SCTP/IPv4, 1 SCTP/IPv6, 2 DCCP/IPv4, 3 DCCP/IPv6
count_rules=
for pd in sctp:5001 dccp:6001; do
	for fam in ipv4 ipv6; do
		count_rules+=$(printf '\n[[port.rule]]\naction = "count"\nfamily = "%s"\nprotocol = "%s"\ndport = %s' \
			"$fam" "${pd%:*}" "${pd#*:}")
	done
done
if out=$(in_rx "$umigame" classify attach rx0 2>&1) &&
	ip -n "$(ns_name rx)" -d link show rx0 | grep -qw "xdp" &&
	out+=$(load_rules "$count_rules" 2>&1); then
	tap_ok "classifier attached to rx0 in native XDP, four count rules"
else
	tap_fail "classifier attached to rx0 in native XDP, four count rules" \
		"$out
$(ip -n "$(ns_name rx)" -d link show rx0)"
fi

# 3-4: SCTP associations, IPv4 then IPv6: the INIT/INIT ACK/COOKIE ECHO/COOKIE
# ACK handshake (RFC 9260 §5.1), DATA and SACK (§6), the SHUTDOWN sequence
# (§9.2); every tx -> rx packet of them is counted by the rule once.
sctp_count() { # NAME ADDR RULE
	local name=$1 addr=$2 rule=$3 before after wire n out
	bg_start rx "srv_$name" "$py" "$peer" sctp-server "$addr" 5001
	listening "srv_$name" || return 1
	cap_start "$name" "sctp and dst port 5001" || return 1
	before=$(sctp_out)
	out=$(ns_exec tx "$py" "$peer" sctp-client "$addr" 5001 20 20 2>&1)
	# The association ends with the client's SHUTDOWN COMPLETE (RFC 9260
	# §9.2); rx frees its association only when that has arrived.
	wait_for 20 "the $name association gone in rx and tx" no_assoc_both
	after=$(sctp_out)
	wire=$(cap_count "$name" "$rule")
	n=$(rule_pkts "$rule")
	diag="client: ${out//$'\n'/ }; server: $(oneline "$(bg_log "srv_$name")"); rule $rule: $n packets;"
	diag+=" tcpdump on tx0: $wire; tx's SctpOutSCTPPacks +$((after - before)) (not compared:"
	diag+=" it counts what SCTP hands to IP, and measured here one less than the wire)"
	bg_stop "srv_$name"
	# At least INIT, COOKIE ECHO, DATA, SACK, SHUTDOWN, SHUTDOWN COMPLETE
	# (the 20 DATA chunks are bundled, RFC 9260 §6.10).
	[ "$out" = $'connected\ndone' ] && [ "$wire" -ge 6 ] && [ "$n" = "$wire" ] &&
		[ "$(seen "srv_$name" "accepted 20")" = 1 ]
}
for v in 4 6; do
	addr=10.0.0.2 rule=0
	[ $v = 6 ] && addr=2001:db8::2 rule=1
	diag=
	sctp_count "sctp$v" "$addr" "$rule"
	report $? "SCTP over IPv$v: the count rule saw exactly the packets tx sent (RFC 9260 §5.1, §6, §9.2)"
done

# 5-6: DCCP connections, IPv4 then IPv6, service code SCB2: Request,
# Response, Ack (RFC 4340 §8.1), DataAck/Ack, Close (§8.3). The server reads
# the end of the stream when the client's Close arrived; the client sends
# nothing after it (the server answers with Reset, §8.3).
dccp_count() { # NAME ADDR RULE FILTER
	local name=$1 addr=$2 rule=$3 wire n out sent
	# 20 messages, a Request (X=1 with its service code) to Close
	bg_start rx "srv_$name" "$py" "$peer" dccp-server "$addr" 6001 SCA1,SCB2
	listening "srv_$name" || return 1
	cap_start "$name" "$4" || return 1
	# What tx sends is counted by an nftables counter on its output hook:
	# tcpdump's capture of these exchanges came up one to four frames short
	# in some runs while the rule's count stayed the same (23) every time.
	ns_exec tx nft delete table inet umi_dccp_out 2>/dev/null
	ns_exec tx nft -f - <<-'NFT' || return 1
		table inet umi_dccp_out {
			chain out { type filter hook output priority 0; oifname "tx0" meta l4proto 33 counter; }
		}
	NFT
	out=$(ns_exec tx "$py" "$peer" dccp-client "$addr" 6001 SCB2 0 20 20 2>&1)
	wait_for 20 "the $name server read the Close" grep -q "accepted" "$(bg_log "srv_$name")"
	sent_caught_up() { [ "$(rule_pkts "$rule")" -ge "$(dccp_sent)" ]; }
	wait_for 10 "rule $rule caught up with what tx sent" sent_caught_up 2>/dev/null
	sent=$(dccp_sent)
	n=$(rule_pkts "$rule")
	wire=$(cap_count "$name")
	diag="client: ${out//$'\n'/ }; server: $(oneline "$(bg_log "srv_$name")"); rule $rule: $n packets;"
	diag+=" tx sent (nftables output counter): $sent; tcpdump on tx0: $wire (not compared)"
	bg_stop "srv_$name"
	[ "$out" = $'connected\ndone' ] && [ "$sent" -ge 23 ] && [ "$n" = "$sent" ] &&
		[ "$(seen "srv_$name" "accepted 20")" = 1 ]
}
dccp_sent() {
	ns_exec tx nft list table inet umi_dccp_out | grep -o 'packets [0-9]*' | awk '{print $2}'
}
for v in 4 6; do
	addr=10.0.0.2 rule=2 filter="ip proto 33"
	[ $v = 6 ] && addr=2001:db8::2 rule=3 filter="ip6 proto 33"
	diag=
	dccp_count "dccp$v" "$addr" "$rule" "$filter"
	report $? "DCCP over IPv$v: the count rule saw exactly the packets tx sent (RFC 4340 §8.1, §8.3)"
done

# 7: drop INIT on port 5002 (RFC 9260 §5.1: no INIT, no association), count
# what else comes to 5002 (nothing should: no association, no other chunk),
# count INITs to 5003, whose association comes up while 5002's client still
# retransmits its INIT (§5.1, T1-init).
out=$(load_rules '
[[port.rule]]
action = "drop"
chunk = "init"
dport = 5002
[[port.rule]]
action = "count"
protocol = "sctp"
dport = 5002
[[port.rule]]
action = "count"
chunk = "init"
dport = 5003
[[port.rule]]
action = "drop"
dccp-type = "request"
service = "SCA1"
[[port.rule]]
action = "count"
dccp-type = "request"
service = "SCB2"' 2>&1) || tap_diag "rules load: $out"
bg_start rx srv_a "$py" "$peer" sctp-server 10.0.0.2 5002
bg_start rx srv_b "$py" "$peer" sctp-server 10.0.0.2 5003
diag=
if listening srv_a && listening srv_b && cap_start init "sctp and dst port 5002" &&
	bg_start tx cli_a "$py" "$peer" sctp-client 10.0.0.2 5002 3 15 &&
	wait_for 20 "an INIT to 5002 dropped" rule_ge 0 1; then
	out_b=$(ns_exec tx "$py" "$peer" sctp-client 10.0.0.2 5003 5 20 2>&1)
	a_pending=no
	bg_running cli_a && a_pending=yes
	wait_for 30 "the 5002 client gave up" not_running cli_a
	wait_for 20 "no association left" no_assoc rx
	wire=$(cap_count init 0)
	drops=$(rule_pkts 0) other=$(rule_pkts 1) inits_b=$(rule_pkts 2)
	diag="5002 client: $(oneline "$(bg_log cli_a)"); 5003 client: ${out_b//$'\n'/ }; 5002 still connecting when 5003 was done: $a_pending"
	diag+="; tcpdump to 5002: $wire; drop rule: $drops; other to 5002: $other; INITs to 5003: $inits_b"
	diag+="; servers: 5002 '$(oneline "$(bg_log srv_a)")', 5003 '$(oneline "$(bg_log srv_b)")'"
	grep -qx timeout "$(bg_log cli_a)" && [ "$out_b" = $'connected\ndone' ] && [ $a_pending = yes ] &&
		[ "$drops" = "$wire" ] && [ "$wire" -ge 1 ] && [ "$other" = 0 ] && [ "$inits_b" = 1 ] &&
		[ "$(seen srv_a accepted)" = 0 ] && [ "$(seen srv_b "accepted 5")" = 1 ]
	report $? "drop INIT on port 5002: every INIT dropped, no association; 5003's came up meanwhile (RFC 9260 §5.1)"
else
	diag="$(show) $(cat "$(bg_log srv_a)" "$(bg_log cli_a)" 2>&1)"
	report 1 "drop INIT on port 5002: every INIT dropped, no association; 5003's came up meanwhile (RFC 9260 §5.1)"
fi
bg_stop srv_a; bg_stop srv_b

# 8: drop DCCP Requests with service code SCA1 (RFC 4340 §8.1.2: the
# service code names the application; a Request is the only way in, §8.1.1),
# SCB2 connects meanwhile. The SCA1 client binds source port 40001, so its
# packets are counted on the wire by that port (DCCP source port: first two
# bytes, §5.1).
bg_start rx srv_d "$py" "$peer" dccp-server 10.0.0.2 6001 SCA1,SCB2
diag=
if listening srv_d && cap_start svc "ip proto 33 and ip[20:2] = 40001" &&
	bg_start tx cli_s1 "$py" "$peer" dccp-client 10.0.0.2 6001 SCA1 40001 3 15 &&
	wait_for 20 "a SCA1 Request dropped" rule_ge 3 1; then
	out_b=$(ns_exec tx "$py" "$peer" dccp-client 10.0.0.2 6001 SCB2 40002 4 20 2>&1)
	a_pending=no
	bg_running cli_s1 && a_pending=yes
	wait_for 30 "the SCA1 client gave up" not_running cli_s1
	wait_for 20 "the SCB2 connection read to its Close" grep -q accepted "$(bg_log srv_d)"
	wire=$(cap_count svc 3)
	drops=$(rule_pkts 3) reqs_b=$(rule_pkts 4)
	diag="SCA1 client: $(oneline "$(bg_log cli_s1)"); SCB2 client: ${out_b//$'\n'/ }; SCA1 still connecting when SCB2 was done: $a_pending"
	diag+="; tcpdump from port 40001: $wire; drop rule: $drops; SCB2 Requests: $reqs_b; server: '$(oneline "$(bg_log srv_d)")'"
	grep -qx timeout "$(bg_log cli_s1)" && [ "$out_b" = $'connected\ndone' ] && [ $a_pending = yes ] &&
		[ "$drops" = "$wire" ] && [ "$wire" -ge 1 ] && [ "$reqs_b" = 1 ] &&
		[ "$(seen srv_d accepted)" = 1 ] && [ "$(seen srv_d "accepted 4")" = 1 ]
	report $? "drop DCCP service SCA1: every SCA1 Request dropped, no connection; SCB2 connected meanwhile (RFC 4340 §8.1.2)"
else
	diag="$(show) $(cat "$(bg_log srv_d)" "$(bg_log cli_s1)" 2>&1)"
	report 1 "drop DCCP service SCA1: every SCA1 Request dropped, no connection; SCB2 connected meanwhile (RFC 4340 §8.1.2)"
fi
bg_stop srv_d

# 9: a multihomed association (RFC 9260 §6.4): each side bound to two
# addresses. After a first exchange over the primary path (to 10.0.0.2),
# a drop rule cuts that path; the client retransmits to the other address
# (10.0.1.2, §6.4.1) and the second exchange completes. cls_flows (flows =
# true: off by default) keys SCTP by verification tag, so the association
# stays one flow across the switch: its packets plus the INIT's (tag 0) are
# all tx sent to the port.
load_rules '
flows = true
[[port.rule]]
action = "count"
protocol = "sctp"
dport = 5004' >/dev/null
go=$(umi_tmp go)
bg_start rx srv_mh "$py" "$peer" sctp-server 10.0.0.2,10.0.1.2 5004
diag=
if listening srv_mh && cap_start mh "sctp and dst port 5004" &&
	bg_start tx cli_mh "$py" "$peer" sctp-mh-client 10.0.0.1,10.0.1.1 10.0.0.2 5004 5 "$go" 60 &&
	wait_for 30 "the first exchange" grep -q phase1 "$(bg_log cli_mh)"; then
	before=$(rule_pkts 0)
	load_rules '
flows = true
[[port.rule]]
action = "drop"
dst = "10.0.0.2/32"
dport = 5004
[[port.rule]]
action = "count"
dst = "10.0.1.2/32"
dport = 5004' >/dev/null
	: >"$go"
	wait_for 60 "the second exchange" grep -qx "done" "$(bg_log cli_mh)"
	wait_for 30 "the multihomed association gone in rx and tx" no_assoc_both
	wire=$(cap_count mh)
	cut=$(rule_pkts 0) alt=$(rule_pkts 1)
	flows=$(in_rx "$umigame" classify flows --json | jq -c '[.[] | select(.protocol == "sctp" and .dport == 5004) | {vtag, packets}]')
	tagged=$(jq '[.[] | select(.vtag != 0)] | length' <<<"$flows")
	total=$(jq '[.[].packets] | add' <<<"$flows")
	diag="client: $(oneline "$(bg_log cli_mh)"); server: $(oneline "$(bg_log srv_mh)"); tcpdump to 5004: $wire"
	diag+="; before the cut: $before; dropped to 10.0.0.2: $cut; counted to 10.0.1.2: $alt; flows: $flows"
	grep -qx "done" "$(bg_log cli_mh)" && [ "$(seen srv_mh "accepted 10")" = 1 ] &&
		[ "$before" -ge 1 ] && [ "$cut" -ge 1 ] && [ "$alt" -ge 1 ] &&
		[ "$tagged" = 1 ] && [ "$total" = "$wire" ]
	report $? "multihomed: the primary path cut, the association goes on over the other address as one flow (RFC 9260 §6.4)"
else
	diag="$(show) $(cat "$(bg_log srv_mh)" "$(bg_log cli_mh)" 2>&1)"
	report 1 "multihomed: the primary path cut, the association goes on over the other address as one flow (RFC 9260 §6.4)"
fi
bg_stop cli_mh; bg_stop srv_mh

# 10: the kernel's own traffic is never malformed, truncated or too long
bad=$(show | jq -r '.[0].reasons | [.truncated, .bad_length, .malformed_chunk, .too_many_chunks, .bad_checksum, .bad_ip, .rate_limited] | map(.packets) | add')
if [ "$bad" = 0 ] && [ "$(reason_pkts sctp)" -gt 0 ] && [ "$(reason_pkts dccp)" -gt 0 ]; then
	tap_ok "real SCTP and DCCP: counted as sctp/dccp, never under an error reason"
else
	tap_fail "real SCTP and DCCP: counted as sctp/dccp, never under an error reason" "$(show)"
fi

# 11: detach leaves rx0 without XDP
if in_rx "$umigame" classify detach rx0 >/dev/null 2>&1 &&
	! ip -n "$(ns_name rx)" -d link show rx0 | grep -q "prog/xdp"; then
	tap_ok "detach: rx0 without XDP"
else
	tap_fail "detach: rx0 without XDP" "$(ip -n "$(ns_name rx)" -d link show rx0)"
fi
tap_finish
