#!/usr/bin/env bash
# classify_cli_netns.sh — the classifier's ports and counters as
# `umigame classify` keeps them, on the host (docs/classify.md, "Use"):
# rows of the pinned maps given to ports and taken back, counters that
# restart with new rules or a new port, a failed attach or a rule file too
# big for the maps changing nothing. The packets are hand-made SCTP DATA
# frames (selftests/vm/classify_peer.py sctp-frame): the host has no SCTP,
# but XDP sees the frames all the same.
#
#   tx ns                         rx ns
#   tx0  ------------ veth ------  rx0  <- umigame classify (native XDP)
#                                  lo, v0..v63 (veth pairs inside rx, for
#                                  a rule file naming 65 ports)
#
# Every wait is a condition with a deadline. Output is KTAP; needs root and
# the umigame CLI (build/release/tools/umigame/umigame, or UMIGAME=path).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"

PY=${PY:-/usr/bin/python3}
UMIGAME=${UMIGAME:-$TOP/build/release/tools/umigame/umigame}
PEER=$TOP/selftests/vm/classify_peer.py
umi_require ip nsenter jq "$PY"
[ -x "$UMIGAME" ] || umi_die "no umigame CLI at $UMIGAME (make userspace)"

tap_plan 8

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
PINS=/sys/fs/bpf/$(ns_name pins)
# shellcheck disable=SC2016 # expanded when the hook runs
on_cleanup 'for p in rx0 lo; do cls detach "$p" >/dev/null 2>&1; done; rm -rf "$PINS"'

ns_create tx
ns_create rx
veth_pair tx tx0 rx rx0
# Only our frames on the wire, so that rx0's counter of frames taken in
# counts them (no IPv6 ND or MLD of the links' own).
ns_sysctl tx net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.tx0.disable_ipv6=1
ns_sysctl rx net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.rx0.disable_ipv6=1
RX_MAC=$(ip -n "$(ns_name rx)" -j link show rx0 | jq -r '.[0].address')

cls() { UMIGAME_PIN_DIR=$PINS ns_nsenter rx "$UMIGAME" classify "$@"; }
port() { cls show --json | jq -c ".[] | select(.interface == \"$1\")"; }
ports() { cls show --json | jq -r '[.[].interface] | sort | join(" ")'; }
rule_pkts() { port rx0 | jq -r ".rules[$1].packets"; }
sctp_pkts() { port rx0 | jq -r '.reasons.sctp.packets'; }
rx_frames() { ip -n "$(ns_name rx)" -j -s link show rx0 | jq -r '.[0].stats64.rx.packets'; }
# send_data N: N frames to rx0, returning once rx0 has taken them in (past
# XDP, which passes them), so that counters read next are final.
send_data() {
	local i want
	want=$(($(rx_frames) + $1))
	for ((i = 0; i < $1; i++)); do
		ns_exec tx "$PY" "$PEER" sctp-frame tx0 "$RX_MAC" 10.0.0.1 10.0.0.2 5000 good >/dev/null ||
			return 1
	done
	wait_for 5 "rx0 taking in $1 frames" test "$(rx_frames)" -ge "$want"
}

RULES=$(umi_tmp rules.toml)
cat >"$RULES" <<'EOF'
[[port]]
interface = "rx0"
flows = false

[[port.rule]]
action = "count"
chunk = "data"
EOF

# 1. A failed attach changes nothing: lo has no native XDP. lo then stays
# attached (generic) to the end, so the maps stay pinned while rx0 comes
# and goes.
if ! cls attach lo >/dev/null 2>&1 && [ -z "$(ports)" ] &&
	cls attach lo --generic >/dev/null && [ "$(port lo | jq -r .attached)" = true ]; then
	tap_ok "a failed attach (no native XDP on lo) takes no row; with --generic it attaches"
else
	tap_fail "a failed attach (no native XDP on lo) takes no row; with --generic it attaches" "ports: $(ports)"
fi

# 2. Attached without rules: the port is listed, its packets pass uncounted.
out=$(cls attach rx0)
if [[ $out == *"attached the classifier to rx0 (native XDP)"* ]] && send_data 2 &&
	[ "$(port rx0 | jq -r '.attached and (.rules | length) == 0')" = true ] &&
	[ "$(sctp_pkts)" = 0 ]; then
	tap_ok "attached without rules: listed, and its packets pass uncounted"
else
	tap_fail "attached without rules: listed, and its packets pass uncounted" "$out; $(port rx0)"
fi

# 3. Rules loaded: rule and reason count the frames.
cls rules load "$RULES" >/dev/null && send_data 3
if wait_for 5 "rule 0 counting 3 frames" test "$(rule_pkts 0)" = 3 && [ "$(sctp_pkts)" = 3 ]; then
	tap_ok "rules loaded: the count rule and the sctp reason see each DATA frame (RFC 9260 §3.3.1)"
else
	tap_fail "rules loaded: the count rule and the sctp reason see each DATA frame (RFC 9260 §3.3.1)" "$(port rx0)"
fi

# 4. The same rules again: rule counters restart, reason counters go on.
cls rules load "$RULES" >/dev/null
zero=$(rule_pkts 0)
send_data 1
if wait_for 5 "rule 0 counting 1 frame" test "$(rule_pkts 0)" = 1 && [ "$zero" = 0 ] &&
	[ "$(sctp_pkts)" = 4 ]; then
	tap_ok "rules loaded again: the rule counts from 0, the reason counts on"
else
	tap_fail "rules loaded again: the rule counts from 0, the reason counts on" "after load: $zero; $(port rx0)"
fi

# 5. Detach, then rules for the port not attached: detach forgets them.
out=$(cls detach rx0)
cls rules load "$RULES" >/dev/null
listed=$(port rx0 | jq -r '.attached')
out2=$(cls detach rx0)
if [[ $out == "detached the classifier from rx0" ]] && [ "$listed" = false ] &&
	[[ $out2 == "forgot the rules of rx0" ]] && [ "$(ports)" = lo ] && ! cls detach rx0 2>/dev/null; then
	tap_ok "detach: an attached port, then the rules of one never attached; then nothing left to detach"
else
	tap_fail "detach: an attached port, then the rules of one never attached; then nothing left to detach" \
		"$out / attached=$listed / $out2 / ports: $(ports)"
fi

# 6. A row given to a port anew starts from zero: the row rx0 had (the
# first free one, again) holds 4 in the map.
cls attach rx0 >/dev/null && cls rules load "$RULES" >/dev/null
if [ "$(sctp_pkts)" = 0 ] && [ "$(rule_pkts 0)" = 0 ] && send_data 1 &&
	wait_for 5 "sctp reason at 1" test "$(sctp_pkts)" = 1; then
	tap_ok "a port given a row anew starts its counters from 0"
else
	tap_fail "a port given a row anew starts its counters from 0" "$(port rx0)"
fi

# 7. A file naming more ports than the maps have rows left: refused at the
# first that does not fit, and no row is taken. lo and rx0 hold 2 of 64.
BIG=$(umi_tmp big.toml)
: >"$BIG"
for i in $(seq 0 63); do
	ip -n "$(ns_name rx)" link add "v$i" type veth peer name "w$i" || umi_die "cannot add v$i"
	printf '[[port]]\ninterface = "v%d"\n\n[[port.rule]]\naction = "count"\n\n' "$i" >>"$BIG"
done
before=$(ports)
out=$(cls rules load "$BIG" 2>&1)
# v62 is the 63rd new port: the first without a row; its [[port]] is on line 1 + 62 * 6.
if [[ $out == *"big.toml:373:1: all 64 ports of the classifier are taken"* ]] && [ "$(ports)" = "$before" ]; then
	tap_ok "a rule file needing more rows than are free is refused at file:line, nothing taken"
else
	tap_fail "a rule file needing more rows than are free is refused at file:line, nothing taken" \
		"$out; ports: $(ports)"
fi

# 8. Detach both: everything unpinned.
cls detach lo >/dev/null && cls detach rx0 >/dev/null
if [ ! -e "$PINS/classify" ] && ! ip -n "$(ns_name rx)" link show rx0 | grep -q xdp; then
	tap_ok "after the last detach nothing is pinned and rx0 has no XDP"
else
	tap_fail "after the last detach nothing is pinned and rx0 has no XDP" "$(ls -R "$PINS" 2>&1)"
fi

tap_finish
