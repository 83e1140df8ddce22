#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh classify_rewrite.sh):
# the classifier's rewrite action, a port NAT for SCTP. The port is changed
# and the CRC32c over the whole packet recomputed with umigame.ko's kfunc,
# after the old one was verified, so that both ends' kernels (which verify
# every SCTP checksum) take the packets, and a damaged packet is never given
# a valid checksum.
#
#   tx (client)                              rx (server on port 5000)
#   tx0 10.0.0.1/24 fd00::1/64  <-- veth -->  rx0 10.0.0.2/24 fd00::2/64
#   classifier: sport 5000 -> 7000           classifier: dport 7000 -> 5000
#
# The client connects to port 7000, where nothing listens: only the
# rewrites make the association. veth offers CRC32c offload, which would
# leave the checksum to "hardware" that never computes it (see
# classify_crc32c.sh): both ends switch it off, as a NIC would compute it.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/classify.sh
source "$repo/selftests/lib/classify.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
peer=$here/classify_peer.py
py=/usr/bin/python3
pins=/sys/fs/bpf/umigame-rw-rx-$$ # bpffs refuses dots in names
tx_pins=/sys/fs/bpf/umigame-rw-tx-$$
plan=6

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ] ||
	! command -v ethtool >/dev/null || ! modprobe sctp 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip classify_rewrite "needs root, module support, the CLI, ethtool and sctp (selftests/vm/run.sh)"
	done
	tap_finish
fi
# Hooks run last first: detach both, then unload.
on_cleanup 'rmmod umigame 2>/dev/null; true'
# shellcheck disable=SC2016 # expanded when the hook runs
on_cleanup 'in_tx "$umigame" classify detach tx0 >/dev/null 2>&1; rm -rf "$tx_pins"'
cls_setup
in_tx() { UMIGAME_PIN_DIR=$tx_pins ns_nsenter tx "$@"; }
tx_rule_pkts() { in_tx "$umigame" classify show tx0 --json | jq -r ".[0].rules[$1].packets"; }
snmp() { # rx's SCTP MIB counter
	ns_exec rx awk -v k="$1" '$1 == k { print $2 }' /proc/net/sctp/snmp
}
state() {
	echo "rx: rule 0 $(rule_pkts 0), sctp $(reason_pkts sctp), bad_checksum $(reason_pkts bad_checksum)," \
		"cannot_rewrite $(reason_pkts cannot_rewrite), SctpChecksumErrors $(snmp SctpChecksumErrors)," \
		"SctpInSCTPPacks $(snmp SctpInSCTPPacks); tx: rule 0 $(tx_rule_pkts 0)"
}
rules() { # FILE IFACE MATCH TO: one rewrite rule
	printf '[[port]]\ninterface = "%s"\n[[port.rule]]\naction = "rewrite"\n%s\n%s\n' "$2" "$3" "$4" >"$1"
}

rmmod umigame 2>/dev/null
tap_check "insmod ${ko##*/}" insmod "$ko"

lab_log=$(umi_tmp lab.log)
rx_rules=$(umi_tmp rx.toml) tx_rules=$(umi_tmp tx.toml)
rules "$rx_rules" rx0 "dport = 7000" "to-dport = 5000"
rules "$tx_rules" tx0 "sport = 5000" "to-sport = 7000"
if {
	ns_create tx && ns_create rx && veth_pair tx tx0 rx rx0 &&
		ns_exec tx ethtool -K tx0 tx-checksum-sctp off &&
		ns_exec rx ethtool -K rx0 tx-checksum-sctp off &&
		ip -n "$(ns_name tx)" addr add 10.0.0.1/24 dev tx0 &&
		ip -n "$(ns_name rx)" addr add 10.0.0.2/24 dev rx0 &&
		ip -n "$(ns_name tx)" addr add fd00::1/64 dev tx0 nodad &&
		ip -n "$(ns_name rx)" addr add fd00::2/64 dev rx0 nodad &&
		in_rx "$umigame" classify attach rx0 && in_rx "$umigame" classify rules load "$rx_rules" &&
		in_tx "$umigame" classify attach tx0 && in_tx "$umigame" classify rules load "$tx_rules" &&
		show | jq -e '.[0].rules[0].rule | test("rewrite to-dport 5000")'
} >>"$lab_log" 2>&1; then
	tap_ok "classifiers with umigame.ko: rx0 rewrites dport 7000 -> 5000, tx0 sport 5000 -> 7000"
else
	tap_fail "classifiers with rewrite rules on both sides" "$(cat "$lab_log")"
fi

# One socket on :: takes both families (IPv4 as mapped addresses).
bg_start rx srv "$py" "$peer" sctp-server :: 5000
# association FAMILY ADDR: a real kernel association to ADDR:7000, 5 messages
# and an answer; both rewrites counted; the server's kernel found no bad
# checksum (RFC 9260 §6.8) and accepted it on 5000.
association() {
	local fam=$1 addr=$2 out rx0 tx0 accepted
	rx0=$(rule_pkts 0) tx0=$(tx_rule_pkts 0) accepted=$(grep -c "^accepted 5" "$(bg_log srv)")
	out=$(ns_exec tx "$py" "$peer" sctp-client "$addr" 7000 5 20 2>&1)
	if [ "$(tr '\n' ' ' <<<"$out")" = "connected done " ] &&
		wait_for 10 "the server counts the association" \
			sh -c "[ \$(grep -c '^accepted 5' '$(bg_log srv)') -gt $accepted ]" &&
		[ "$(rule_pkts 0)" -ge $((rx0 + 4)) ] && [ "$(tx_rule_pkts 0)" -ge $((tx0 + 4)) ] &&
		[ "$(snmp SctpChecksumErrors)" = 0 ] && [ "$(reason_pkts bad_checksum)" = 0 ]; then
		tap_ok "$fam: an association to port 7000 through both rewrites: 5 messages and the answer; both kernels verified every CRC32c (RFC 9260 §6.8)"
	else
		tap_fail "$fam association through the rewrites" "client: ${out//$'\n'/ }; $(state)"
	fi
}
if wait_for 30 "the server listening" grep -q listening "$(bg_log srv)"; then
	association IPv4 10.0.0.2
	association IPv6 fd00::2
else
	tap_fail "IPv4 association through the rewrites" "the server did not start: $(cat "$(bg_log srv)")"
	tap_fail "IPv6 association through the rewrites" "the server did not start"
fi

# A hand-made packet to 7000 with its checksum's lowest bit flipped: the
# rewrite checks it first, counts it bad_checksum and drops it; the same
# packet with a right checksum is rewritten and taken by rx's kernel (an
# out-of-the-blue packet, RFC 9260 §8.4), which again finds no checksum
# error. Sent bad first: once the good one is in, the bad one (same queue,
# in order) has provably been judged.
rxmac=$(ns_exec rx cat /sys/class/net/rx0/address)
send() { ns_exec tx "$py" "$peer" sctp-frame tx0 "$rxmac" 10.0.0.1 10.0.0.2 7000 "$1" >/dev/null; }
above() { [ "$(snmp "$1")" -gt "$2" ]; }
inpacks=$(snmp SctpInSCTPPacks) bad0=$(reason_pkts bad_checksum)
if send bad && send good && wait_for 20 "rx's kernel took the right frame" above SctpInSCTPPacks "$inpacks" &&
	[ "$(reason_pkts bad_checksum)" = $((bad0 + 1)) ] && [ "$(snmp SctpInSCTPPacks)" = $((inpacks + 1)) ] &&
	[ "$(snmp SctpChecksumErrors)" = 0 ]; then
	tap_ok "a damaged packet is counted bad_checksum and dropped, never given a valid checksum; the intact one is rewritten and taken"
else
	tap_fail "damaged packet not laundered" "$(state)"
fi
bg_stop srv

if in_rx "$umigame" classify detach rx0 >/dev/null 2>&1 && in_tx "$umigame" classify detach tx0 >/dev/null 2>&1 &&
	rmmod umigame; then
	tap_ok "detach both, rmmod umigame"
else
	tap_fail "detach both, rmmod umigame" "$(lsmod | grep umigame)"
fi
tap_finish
