#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh pim_register.sh; the
# host kernel has no ip6mr): umigame.ko's PIM Register device (RFC 7761
# §4.4.1, §4.9.3) as an ordinary ip6mr MIF on the DR, and the 6.1 kernel's
# own pim6reg decapsulating on the RP.
#
#   src               dr                                   rp                        rcv
#   s0 2001:db8:1::10 d0 2001:db8:1::1                     r0 2001:db8:12::2 (the RP)
#        <--veth-->      MIF 0                                  <--veth-->
#                     preg0 umigame-pimreg, MIF 1          MIF 0 register (pim6reg)
#                     d1 2001:db8:12::1  <-----veth----->  r0
#                                                          r1 2001:db8:3::1, MIF 1 <--veth--> c0 2001:db8:3::10
#
# ip6mr on both sides is set up by pim_lab.py as a routing daemon would:
# on dr an (S,G) entry from d0 to preg0; on rp MRT6_PIM, the register MIF
# and an (S,G) entry from it to r1. The receiver on c0 joins G with a socket.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
lab=(/usr/bin/python3 "$here/pim_lab.py")
S=2001:db8:1::10 G=ff0e::1234 G2=ff05::77 RP=2001:db8:12::2 DR=2001:db8:12::1 PORT=9000
plan=15

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ]; then
	for _ in $(seq $plan); do tap_skip pim_register "needs root, module support and the CLI (selftests/vm/run.sh)"; done
	tap_finish
fi
on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
tap_check "insmod umigame.ko" insmod "$ko"

for n in src dr rp rcv; do
	ns_create $n
	ns_sysctl $n net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
veth_pair src s0 dr d0
veth_pair dr d1 rp r0
veth_pair rp r1 rcv c0
in_ns() { local n=$1; shift; ns_nsenter "$n" "$@"; }
in_ns src ip addr add $S/64 dev s0
in_ns dr ip addr add 2001:db8:1::1/64 dev d0
in_ns dr ip addr add $DR/64 dev d1
in_ns rp ip addr add $RP/64 dev r0
in_ns rp ip addr add 2001:db8:3::1/64 dev r1
in_ns rcv ip addr add 2001:db8:3::10/64 dev c0
in_ns src ip route add default via 2001:db8:1::1
pim() { in_ns dr "$umigame" pim "$@"; }
counter() { pim show preg0 --json | jq -r ".[0].counters.$1"; }

# 2: the device and its settings
if out=$({ in_ns dr ip link add preg0 type umigame-pimreg && in_ns dr ip link set preg0 up &&
	pim rp add preg0 ff0e::/16 $RP && pim rp add preg0 $G2/128 $RP && pim set preg0 source $DR &&
	pim show preg0 --json; } 2>&1) &&
	jq -e '.[0] | .source == "'$DR'" and .rate == 0 and .border == false and
		([.ranges[].group] == ["ff0e::/16", "'$G2'/128"]) and ([.ranges[].rp] | unique == ["'$RP'"])' \
		<<<"$out" >/dev/null; then
	tap_ok "ip link add preg0 type umigame-pimreg; pim rp add and set source; pim show says so"
else
	tap_fail "the device and its settings" "$out"
fi

# 3: refusals, each with the module's own message
bad=''
for args in "rp add preg0 2001:db8::/32 $RP" "rp add preg0 ff0e::/16 ff02::1" "set preg0 source fe80::1" \
	"rp del preg0 ff0f::/16" "rp add d1 ff0e::/16 $RP"; do
	# shellcheck disable=SC2086 # the words are the command's
	if err=$(pim $args 2>&1); then
		bad+="accepted: pim $args; "
	elif [ -z "$err" ]; then
		bad+="no message for pim $args; "
	fi
done
if [ -z "$bad" ]; then
	tap_ok "refused with a message: a unicast range, a multicast RP, a link-local source, an unknown range, a device not ours"
else
	tap_fail "refusals" "$bad"
fi

d=$(umi_tmp lab) && mkdir -p "$d"/dr "$d"/rp "$d"/rcv
bg_start dr mrt_dr "${lab[@]}" dr "$d/dr" d0 preg0 $S "$G,$G2"
bg_start rp mrt_rp "${lab[@]}" rp "$d/rp" r1 $S "$G,$G2"
bg_start rcv recv "${lab[@]}" recv "$d/rcv" c0 $G $PORT
cap=$(umi_tmp rp.pcap)
bg_start rp cap tcpdump -n -i r0 -Q in --immediate-mode -U -w "$cap" ip6
if wait_for 30 "ip6mr on dr and rp, the receiver" sh -c "[ -e $d/dr/ready ] && [ -e $d/rp/ready ] && [ -e $d/rcv/ready ]" &&
	wait_for 20 "tcpdump listening" grep -q "listening on" "$(bg_log cap)"; then
	tap_ok "ip6mr on dr (d0 -> preg0) and on rp (register MIF -> r1), a receiver joined on c0"
else
	tap_fail "ip6mr and the receiver" "$(tail -3 "$(bg_log mrt_dr)" "$(bg_log mrt_rp)" "$(bg_log recv)")"
fi
got_lines() { [ "$(wc -l <"$d/rcv/got" 2>/dev/null)" -ge "$1" ]; }
send() { in_ns src "${lab[@]}" send s0 $S "${3:-$G}" $PORT "$1" "$2"; }

# 4: every packet, byte for byte
send 200 200 >/dev/null
"${lab[@]}" expect 200 200 >"$d/want"
if wait_for 60 "200 datagrams at the receiver" got_lines 200 &&
	[ "$(sort "$d/rcv/got")" = "$(sort "$d/want")" ]; then
	tap_ok "200 datagrams from the source reach the receiver through the Registers, byte for byte"
else
	tap_fail "delivery" "$(wc -l <"$d/rcv/got" 2>/dev/null) of 200 arrived; pim: $(pim show preg0 --json | jq -c '.[0].counters')"
fi

# 5: the format on the wire, checked with a checksum computed in Python
check() { "${lab[@]}" check "$cap" $RP | tail -1; }
if wait_for 10 "the Registers in the capture" sh -c "${lab[*]} check $cap $RP | grep -q 'registers 2[0-9][0-9] '" &&
	summary=$(check) && [[ "$summary" == *" null 0 border 0 bad 0 first_inner_hlim 7" ]] &&
	[ "$(counter registers)" = 200 ]; then
	tap_ok "on the wire: $summary (RFC 7761 §4.9.3: version 2 type 1, checksum over the 8-byte header and the pseudo-header, the packet as ip6mr forwarded it); pim show counts 200"
else
	tap_fail "Register format" "$("${lab[@]}" check "$cap" $RP | head -5); counters $(pim show preg0 --json | jq -c '.[0].counters')"
fi

# 6: the RP's kernel checks the checksum: a wrong one never arrives, a right one does
in_ns dr "${lab[@]}" raw-register $DR $RP $S $G $PORT 1
in_ns dr "${lab[@]}" raw-register $DR $RP $S $G $PORT 0
raw=$(printf raw-register | od -An -tx1 | tr -d ' \n')
if wait_for 10 "the right raw Register" sh -c "grep -c '^$raw\$' $d/rcv/got | grep -qx 1"; then
	tap_ok "the RP's pim6reg takes a Register with a right checksum and drops one with a wrong one (what makes point 4 mean our checksums are right)"
else
	tap_fail "the RP checks checksums" "$(grep -c "^$raw\$" "$d/rcv/got") raw Registers arrived, want 1"
fi

# 7: a Null-Register: a header-only (S,G) packet written to the device
before=$(wc -l <"$d/rcv/got")
# version 6, payload length 0, next header 59 (none), hop limit 8, S, G
null_hdr=$(python3 -c "import socket; a = lambda x: socket.inet_pton(socket.AF_INET6, x).hex(); print('600000000000' + '3b08' + a('$S') + a('$G'))")
in_ns dr "${lab[@]}" write preg0 "$null_hdr"
if wait_for 10 "the Null-Register in the capture" sh -c "${lab[*]} check $cap $RP | tail -1 | grep -q ' null 1 '" &&
	[ "$(counter null_registers)" = 1 ] && [ "$(wc -l <"$d/rcv/got")" = "$before" ]; then
	tap_ok "a header-only packet written to preg0 leaves as a Null-Register (N bit, RFC 7761 §4.4.1), which the RP does not forward"
else
	tap_fail "Null-Register" "$(check); null_registers $(counter null_registers)"
fi

# 8: the Border bit
pim set preg0 border on
send 5 100 >/dev/null
if wait_for 20 "5 Registers with B set" sh -c "${lab[*]} check $cap $RP | tail -1 | grep -q ' border 5 '"; then
	tap_ok "pim set border on: the Registers carry the Border bit (RFC 7761 §4.9.3)"
else
	tap_fail "Border bit" "$(check)"
fi
pim set preg0 border off

# 9: no RP for the group
pim rp del preg0 $G2/128
n0=$(counter drop_no_rp)
send 5 100 $G2 >/dev/null
if wait_for 10 "5 dropped without an RP" sh -c "[ \$(ip netns exec $(ns_name dr) $umigame pim show preg0 --json | jq '.[0].counters.drop_no_rp') -ge $((n0 + 5)) ]"; then
	tap_ok "a group in no range: dropped and counted (drop_no_rp)"
else
	tap_fail "no RP" "drop_no_rp $n0 -> $(counter drop_no_rp)"
fi

# 10: the rate limit
pim set preg0 rate 20
r0=$(counter registers) t0=$EPOCHREALTIME
send 200 100 >/dev/null
t1=$EPOCHREALTIME
judged() { [ $(($(counter registers) - r0 + $(counter drop_rate))) -ge 200 ]; }
wait_for 10 "all 200 sent or dropped" judged
sent=$(($(counter registers) - r0)) dropped=$(counter drop_rate)
budget=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", 20 + 20 * (b - a + 0.5) + 1 }')
if [ "$dropped" -gt 0 ] && [ "$sent" -le "$budget" ] && [ $((sent + dropped)) = 200 ]; then
	tap_ok "rate 20/s: $sent of 200 sent (within burst + rate x time, $budget), $dropped dropped and counted"
else
	tap_fail "rate limit" "sent $sent (budget $budget), dropped $dropped"
fi
pim set preg0 rate 0

# 11: too big for the path to the RP: Packet Too Big to the source (RFC 7761 §4.4.1)
scap=$(umi_tmp src.pcap)
bg_start src scap tcpdump -n -i s0 -Q in --immediate-mode -U -w "$scap" icmp6
wait_for 20 "tcpdump on s0" grep -q "listening on" "$(bg_log scap)"
in_ns dr ip link set d1 mtu 1400
in_ns rp ip link set r0 mtu 1400
t0=$(counter drop_too_big)
send 1 1400 >/dev/null
if wait_for 10 "a Packet Too Big on s0" sh -c "${lab[*]} check $scap $RP | grep -q '^ptb 1352$'" &&
	[ "$(counter drop_too_big)" = $((t0 + 1)) ]; then
	tap_ok "1448 bytes for a 1400-byte path to the RP: Packet Too Big to the source with MTU 1352 (1400 - 48), counted drop_too_big"
else
	tap_fail "Packet Too Big" "$("${lab[@]}" check "$scap" $RP | head -3); drop_too_big $t0 -> $(counter drop_too_big)"
fi

# 12: a path below 1280 + 48: the Register is fragmented, and arrives whole
in_ns dr ip link set d1 mtu 1280
in_ns rp ip link set r0 mtu 1280
: >"$d/rcv/got"
send 1 1200 >/dev/null
"${lab[@]}" expect 1 1200 >"$d/want1"
if wait_for 20 "the fragmented Register's datagram" got_lines 1 && cmp -s "$d/rcv/got" "$d/want1"; then
	tap_ok "a 1280-byte path: the 1296-byte Register is fragmented (the source cannot go below 1280), reassembled by the RP, delivered whole"
else
	tap_fail "fragmented Register" "$(wc -c <"$d/rcv/got") bytes arrived; counters $(pim show preg0 --json | jq -c '.[0].counters')"
fi

# 13: garbage written to the device is dropped and counted
b0=$(counter drop_bad)
in_ns dr "${lab[@]}" write preg0 "600000000000"
in_ns dr "${lab[@]}" write preg0 "45000014000000004011"
if wait_for 10 "2 bad packets counted" sh -c "[ \$(ip netns exec $(ns_name dr) $umigame pim show preg0 --json | jq '.[0].counters.drop_bad') = $((b0 + 2)) ]"; then
	tap_ok "a truncated IPv6 header and an IPv4 packet written to preg0: dropped, counted drop_bad"
else
	tap_fail "bad packets" "drop_bad $b0 -> $(counter drop_bad)"
fi

# 14: tracepoints
tracing=/sys/kernel/tracing
mountpoint -q $tracing || mount -t tracefs nodev $tracing 2>/dev/null
echo >$tracing/trace
echo 1 >$tracing/events/umigame/pim_register/enable
echo 1 >$tracing/events/umigame/pim_drop/enable
pim rp del preg0 ff0e::/16
send 2 100 >/dev/null
pim rp add preg0 ff0e::/16 $RP
send 3 100 >/dev/null
wait_for 10 "5 events" sh -c "[ \$(grep -c ' pim_' $tracing/trace) -ge 5 ]"
echo 0 >$tracing/events/umigame/pim_register/enable
echo 0 >$tracing/events/umigame/pim_drop/enable
regs=$(grep -c " pim_register: .*source=$S group=$G rp=$RP " $tracing/trace) drops=$(grep -c " pim_drop: .*reason=drop_no_rp" $tracing/trace)
if [ "$regs" = 3 ] && [ "$drops" = 2 ]; then
	tap_ok "tracepoints umigame:pim_register (3) and umigame:pim_drop (2, drop_no_rp) fire once per packet"
else
	tap_fail "tracepoints" "pim_register $regs, pim_drop $drops; $(grep ' pim_' $tracing/trace | head -3)"
fi
tap_finish
