#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh classify_crc32c.sh):
# the classifier verifies SCTP checksums with umigame.ko's umigame_crc32c
# kfunc (kmod/umigame_csum.c) when a port says checksum = "verify".
#
#   tx (classify_peer.py sctp-frame:          rx
#       AF_PACKET, hand-made frames)
#   tx0 10.0.0.1/24  <------ veth ------>     rx0 10.0.0.2/24
#                                             XDP classifier, native, with
#                                             umigame.ko loaded first
#
# One SCTP DATA frame (an out-of-the-blue packet to port 5001) with its
# CRC32c right, and the same with the checksum's lowest bit flipped. The
# receiver's own kernel checks every SCTP checksum (SctpChecksumErrors), so
# it says independently which frame is bad. Shows: the right one is
# classified and matched; the wrong one is counted bad_checksum and never
# matched, passed to the kernel (which agrees: a checksum error) or dropped
# (the kernel never sees it); detach, and the module unloads.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
peer=$here/classify_peer.py
py=/usr/bin/python3
pins=/sys/fs/bpf/umigame-crc-$$ # bpffs refuses dots in names
plan=6

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ] ||
	! modprobe sctp 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip classify_crc32c "needs root, module support, the CLI and sctp (selftests/vm/run.sh)"
	done
	tap_finish
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# shellcheck disable=SC2016 # expanded when the hooks run (last first)
on_cleanup 'rmmod umigame 2>/dev/null; true'
# shellcheck disable=SC2016
on_cleanup 'in_rx "$umigame" classify detach rx0 >/dev/null 2>&1; rm -rf "$pins"'

in_rx() { UMIGAME_PIN_DIR=$pins ns_nsenter rx "$@"; }
show() { in_rx "$umigame" classify show rx0 --json; }
rule0() { show | jq -r '.[0].rules[0].packets'; }
reason() { show | jq -r ".[0].reasons.$1.packets"; }
snmp() { # rx's SCTP MIB counter
	local k v
	ns_exec rx cat /proc/net/sctp/snmp | while read -r k v; do
		[ "$k" = "$1" ] && echo "$v"
	done
}
above() { [ "$($1 "$2")" -gt "$3" ]; } # FN ARG N: FN ARG > N
load_rules() { # malformed: pass|drop
	local f
	f=$(umi_tmp "rules-$1.toml")
	printf '[[port]]\ninterface = "rx0"\nchecksum = "verify"\nmalformed = "%s"\n%s\n' "$1" \
		'[[port.rule]]
action = "count"
protocol = "sctp"
dport = 5001' >"$f"
	in_rx "$umigame" classify rules load "$f"
}
send() { ns_exec tx "$py" "$peer" sctp-frame tx0 "$rxmac" 10.0.0.1 10.0.0.2 5001 "$1" >/dev/null; }
state() {
	echo "rule 0: $(rule0); sctp: $(reason sctp); bad_checksum: $(reason bad_checksum);" \
		"rx SctpChecksumErrors: $(snmp SctpChecksumErrors); SctpInSCTPPacks: $(snmp SctpInSCTPPacks)"
}

rmmod umigame 2>/dev/null
tap_check "insmod ${ko##*/}" insmod "$ko"

# 2: attach after the module (the program is loaded with its kfunc); rules
# with checksum = "verify" (the CLI refuses them against a program loaded
# without the module)
lab_log=$(umi_tmp lab.log)
if {
	ns_create tx && ns_create rx && veth_pair tx tx0 rx rx0 &&
		ip -n "$(ns_name tx)" addr add 10.0.0.1/24 dev tx0 &&
		ip -n "$(ns_name rx)" addr add 10.0.0.2/24 dev rx0 &&
		in_rx "$umigame" classify attach rx0 &&
		ip -n "$(ns_name rx)" -d link show rx0 | grep -qw xdp &&
		load_rules pass
} >>"$lab_log" 2>&1; then
	tap_ok "classifier on rx0 (native XDP) with umigame.ko, checksum = verify"
else
	tap_fail "classifier on rx0 (native XDP) with umigame.ko, checksum = verify" "$(cat "$lab_log")"
fi
rxmac=$(ns_exec rx cat /sys/class/net/rx0/address)

# 3: the right checksum: matched; the receiver's kernel takes it (an
# out-of-the-blue packet, RFC 9260 §8.4) without a checksum error
if send good && wait_for 20 "rx's kernel took the frame" above snmp SctpInSCTPPacks 0 &&
	[ "$(rule0)" = 1 ] && [ "$(reason sctp)" = 1 ] && [ "$(reason bad_checksum)" = 0 ] &&
	[ "$(snmp SctpChecksumErrors)" = 0 ]; then
	tap_ok "right CRC32c: classified and matched, the receiver's kernel agrees (RFC 9260 §6.8)"
else
	tap_fail "right CRC32c: classified and matched, the receiver's kernel agrees (RFC 9260 §6.8)" "$(state)"
fi

# 4: the wrong one, malformed = "pass": bad_checksum, no rule; the kernel
# finds the same checksum error
if send bad && wait_for 20 "rx's kernel saw the frame" above snmp SctpChecksumErrors 0 &&
	[ "$(reason bad_checksum)" = 1 ] && [ "$(rule0)" = 1 ] && [ "$(reason sctp)" = 1 ]; then
	tap_ok "wrong CRC32c: counted bad_checksum, never matched; the kernel counts it a checksum error too (RFC 9260 §6.8)"
else
	tap_fail "wrong CRC32c: counted bad_checksum, never matched; the kernel counts it a checksum error too (RFC 9260 §6.8)" "$(state)"
fi

# 5: malformed = "drop": the wrong one never reaches the kernel. Proved
# after a right frame sent behind it has (same queue, in order).
inpacks=$(snmp SctpInSCTPPacks)
if load_rules drop >/dev/null && send bad && send good &&
	wait_for 20 "rx's kernel took the right frame" above snmp SctpInSCTPPacks "$inpacks" &&
	[ "$(reason bad_checksum)" = 2 ] && [ "$(snmp SctpChecksumErrors)" = 1 ] &&
	[ "$(rule0)" = 1 ]; then
	tap_ok "malformed = drop: the wrong CRC32c counted and dropped before the kernel, the right one matched"
else
	tap_fail "malformed = drop: the wrong CRC32c counted and dropped before the kernel, the right one matched" "$(state)"
fi

# Not a point, a measurement: a real association from tx's own SCTP stack
# under checksum = "verify" (malformed = "pass", so it works either way),
# and what the sender itself put in the checksum field (tcpdump -Q out on
# tx0, checked in Python). veth offers SCTP CRC offload (NETIF_F_SCTP_CRC),
# so the sender may leave the CRC32c to "hardware" that never computes it.
bad0=$(reason bad_checksum) sctp0=$(reason sctp)
load_rules pass >/dev/null
cap=$(umi_tmp real.pcap)
bg_start rx srv "$py" "$peer" sctp-server 10.0.0.2 5003
bg_start tx cap tcpdump -n -i tx0 -Q out --immediate-mode -U -w "$cap" sctp
if wait_for 30 "the server listening" grep -q listening "$(bg_log srv)" &&
	wait_for 20 "tcpdump listening" grep -q "listening on" "$(bg_log cap)"; then
	out=$(ns_exec tx "$py" "$peer" sctp-client 10.0.0.2 5003 5 20 2>&1)
	bg_stop cap
	tap_diag "a real association over veth: client '${out//$'\n'/ }'; bad_checksum +$(($(reason bad_checksum) - bad0)), sctp +$(($(reason sctp) - sctp0)); the sender's packets on tx0: $("$py" "$peer" pcap-crc "$cap")"
fi
bg_stop srv

# 6: detach releases the program, and with it the module
if in_rx "$umigame" classify detach rx0 >/dev/null 2>&1 && rmmod umigame; then
	tap_ok "detach, rmmod umigame"
else
	tap_fail "detach, rmmod umigame" "$(lsmod | grep umigame)"
fi
tap_finish
