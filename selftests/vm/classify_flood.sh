#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh classify_flood.sh):
# the XDP classifier's per-source INIT rate limit (bpf/classify.bpf.c, the
# SYN-flood analogue of issue 17) under an INIT flood from many spoofed
# sources, while a legitimate client sets up a real kernel SCTP association.
#
#   tx                                        rx
#   tx0 10.0.0.1/24  <------ veth ------>     rx0 10.0.0.2/24
#     classify_peer.py init-flood:              XDP classifier (native):
#       INITs from 10.9.x.y, N sources            rule 0 rate-limit 20/s, burst 40
#     classify_peer.py sctp-client                rule 1 count INIT to port 7001
#       (10.0.0.1, a source of its own)         classify_peer.py sctp-server :7001
#
# Points: the lab and the rules; the flood is rate-limited while it runs; the
# legitimate association comes up and exchanges its messages during the
# flood; what the rule let through stays within each source's bucket
# (burst + rate x time); the server's kernel saw no more INITs than that.
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
pins=/sys/fs/bpf/umigame-clsflood-$$ # bpffs refuses dots in names
plan=5
SOURCES=32 RATE=20 BURST=40 PORT=7001

tap_plan $plan
if [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ] || ! modprobe sctp 2>/dev/null; then
	for _ in $(seq $plan); do
		tap_skip classify_flood "needs root, the CLI and the sctp module (selftests/vm/run.sh)"
	done
	tap_finish
fi
cls_setup
# SctpInCtrlChunks counts every control chunk the server's kernel took in.
# shellcheck disable=SC2016 # an awk program
rx_ctrl_chunks() { ns_exec rx awk '$1 == "SctpInCtrlChunks" { print $2 }' /proc/net/sctp/snmp; }

# 1: the lab, the rules
rules=$(umi_tmp rules.toml)
cat >"$rules" <<EOT
[[port]]
interface = "rx0"

[[port.rule]]
action = "rate-limit"
rate = $RATE
burst = $BURST

[[port.rule]]
action = "count"
chunk = "init"
dport = $PORT
EOT
lab_log=$(umi_tmp lab.log)
if {
	ns_create tx && ns_create rx && veth_pair tx tx0 rx rx0 &&
		ip -n "$(ns_name tx)" addr add 10.0.0.1/24 dev tx0 &&
		ip -n "$(ns_name rx)" addr add 10.0.0.2/24 dev rx0 &&
		ns_exec tx ping -c1 -W5 10.0.0.2 &&
		in_rx "$umigame" classify attach rx0 && in_rx "$umigame" classify rules load "$rules"
} >>"$lab_log" 2>&1; then
	tap_ok "lab: the classifier on rx0 with a per-source INIT rate limit ($RATE/s, burst $BURST) and an INIT count rule"
else
	tap_fail "lab and rules" "$(cat "$lab_log")"
fi

bg_start rx server "$py" "$peer" sctp-server 10.0.0.2 $PORT
wait_for 30 "the server listening" grep -q listening "$(bg_log server)"
ctrl0=$(rx_ctrl_chunks)
rxmac=$(ip -n "$(ns_name rx)" -j link show rx0 | jq -r '.[0].address')
stop=$(umi_tmp stop-flood)
t0=$(date +%s.%N)
bg_start tx flood "$py" "$peer" init-flood tx0 "$rxmac" 10.0.0.2 $PORT $SOURCES "$stop"

# 2: the flood runs into the limit: every source is past its burst.
limited() { [ "$(reason_pkts rate_limited)" -ge $((SOURCES * BURST * 4)) ]; }
if wait_for 60 "the flood rate-limited" limited; then
	tap_ok "the flood from $SOURCES sources is rate-limited while it runs ($(reason_pkts rate_limited) INITs dropped so far)"
else
	tap_fail "flood rate-limited" "rate_limited $(reason_pkts rate_limited); flood: $(tail -3 "$(bg_log flood)"); $(show | jq -c '.[0].reasons')"
fi

# 3: a legitimate association, from a source of its own, during the flood
client_log=$(umi_tmp client.log)
ns_exec tx "$py" "$peer" sctp-client 10.0.0.2 $PORT 5 30 >"$client_log" 2>&1
client_rc=$?
limited_after=$(reason_pkts rate_limited)
flood_alive=no
bg_running flood && flood_alive=yes
touch "$stop"
wait_for 20 "the flood stops" sh -c "grep -q '^sent' '$(bg_log flood)'"
t1=$(date +%s.%N)
sent=$(awk '$1 == "sent" { print $2 }' "$(bg_log flood)")
if [ $client_rc = 0 ] && grep -q '^done' "$client_log" && [ $flood_alive = yes ] &&
	wait_for 10 "the server read the association" grep -q "accepted 5" "$(bg_log server)"; then
	tap_ok "a legitimate association from 10.0.0.1 comes up during the flood and exchanges its 5 messages"
else
	tap_fail "legitimate association" "client rc $client_rc: $(tr '\n' ' ' <"$client_log"); flood still running: $flood_alive; server: $(tail -3 "$(bg_log server)")"
fi

# 4: what the rate-limit rule let through: per source at most its burst
# plus rate x elapsed time (GCRA), for every spoofed source and the client.
passed=$(rule_pkts 1)
limited_total=$(reason_pkts rate_limited)
budget=$(awk -v n=$((SOURCES + 1)) -v b=$BURST -v r=$RATE -v a="$t0" -v z="$t1" \
	'BEGIN { printf "%d", n * (b + r * (z - a + 1)) }')
# (veth drops what its ring cannot take: the classifier sees at most what
# was sent.)
diag="flood sent ${sent:-?} INITs in $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", z - a }') s; passed the limit $passed, dropped $limited_total (still dropping after the client: $limited_after); budget $budget"
if [ -n "$sent" ] && [ "$passed" -le "$budget" ] && [ "$passed" -ge $((SOURCES * BURST)) ] &&
	[ "$limited_total" -gt 0 ]; then
	tap_ok "each source stays within its bucket: $passed INITs let through (at most $budget), $limited_total dropped"
	tap_diag "$diag"
else
	tap_fail "each source within its bucket" "$diag"
fi

# 5: the server's kernel took in no more than the limit let through (each
# INIT a control chunk; the client's association adds a handful).
ctrl=$(( $(rx_ctrl_chunks) - ctrl0 ))
if [ "$ctrl" -le $((passed + 20)) ]; then
	tap_ok "the server's kernel took in $ctrl control chunks, not the ${sent:-?} INITs of the flood"
else
	tap_fail "server protected" "SctpInCtrlChunks +$ctrl, the rule let through $passed"
fi
tap_finish
