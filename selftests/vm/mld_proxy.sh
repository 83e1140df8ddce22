#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: it runs about 150 s under TCG, longer on a busy machine)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh mld_proxy.sh; the
# host kernel has no ip6mr): umigame-mldproxy between a source upstream and
# three downstream links, receivers joining with real sockets (RFC 3678
# API: IPV6_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP, MCAST_BLOCK_SOURCE).
#
#   ns src: S1 2001:db8:1::10, S2 ::11          ns px: umigame-mldproxy
#   s0 2001:db8:1::2/64 ------------------------ u0 (upstream)
#                                                d1 ---------- ns r1: e0
#                                                                A: SSM (S1, G1)
#                                                                B: ASM G2, BLOCK S2
#                                                d2 ---------- ns r2: e0
#                                                                C: ASM G2
#                                                                D: SSM (S2, G1)
#                                                d3 ---------- ns r3: e0 (no listener)
#
# G1 = ff3e::1:1 (SSM range), G2 = ff0e::2:2. The source sends (S1|S2, G1|G2)
# every 10 ms, each datagram numbered. Each link's wire is watched with an
# AF_PACKET socket, so what the proxy forwards is checked packet by packet,
# not only what the receivers' kernels let through.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/mld.sh
source "$here/../lib/mld.sh"

plan=26
tap_plan $plan
if [ "${UMIGAME_VM:-}" != 1 ] || [ "$EUID" -ne 0 ] || [ ! -x "$proxy_bin" ] || [ ! -x "$cli" ]; then
	for _ in $(seq $plan); do tap_skip "mld_proxy" "needs the 6.1 guest (selftests/vm/run.sh) and a release build"; done
	tap_finish
fi

G1=ff3e::1:1 G2=ff0e::2:2
LLQT_MS=1000 # last_listener_query_interval_ms 500 x LLQC 2 (RFC 3810 §9.14)

mld_topology r1 r2 r3
ns_sysctl px net.ipv6.conf.all.forwarding=1
conf=$(umi_tmp mldproxy.toml)
cat >"$conf" <<EOT
[daemon]
control_socket = "$(umi_tmp mld.sock)"
user = "nobody"
[upstream]
interface = "u0"
[[downstream]]
interface = "d1"
last_listener_query_interval_ms = 500
[[downstream]]
interface = "d2"
last_listener_query_interval_ms = 500
[[downstream]]
interface = "d3"
last_listener_query_interval_ms = 500
query_interval = 2
query_response_interval_ms = 1000
EOT
# The proxy reads its file again on SIGHUP as nobody, as a daemon reads a
# root-owned /etc file readable by all.
chmod o+x "$UMI_TMPDIR" && chmod o+r "$conf"
show() { mld_show; }
if mld_start_proxy "$conf" -v && wait_for 20 "querier on its three links" \
	json_holds '[.downstream[] | select(.querier)] | length == 3' show; then
	tap_ok "umigame-mldproxy starts: MRT6_INIT, three MIFs, querier on each downstream (RFC 3810 §7.6.2)"
else
	tap_fail "proxy starts" "$(tail -20 "$(bg_log proxy)")"
	for _ in $(seq $((plan - 1))); do tap_skip "mld_proxy" "the proxy did not start"; done
	tap_finish
fi
sock=$MLD_SOCK
# The daemon keeps only what ip6mr and raw ICMPv6 need: CAP_NET_ADMIN (12)
# and CAP_NET_RAW (13), as the user it was told to be.
caps=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$proxy_pid/status")
uid=$(awk '$1 == "Uid:" { print $3 }' "/proc/$proxy_pid/status")
if [ "$caps" = 0000000000003000 ] && [ "$uid" = "$(id -u nobody)" ]; then
	tap_ok "the proxy runs as nobody with CAP_NET_ADMIN and CAP_NET_RAW only (CapEff $caps)"
else
	tap_fail "privileges dropped" "uid $uid, CapEff $caps"
fi

mld_helper src sender send "$(umi_tmp src)" s0 $PORT 10 $S1,$S2 $G1,$G2
mld_helper src srcwire listen "$(umi_tmp src)" s0 $PORT
mld_helper r1 lab1 listen "$(umi_tmp r1)" e0 $PORT "A/ssm/$G1/$S1" "B/block/$G2/$S2"
mld_helper r2 lab2 listen "$(umi_tmp r2)" e0 $PORT "C/asm/$G2" "D/ssm/$G1/$S2"
mld_helper r3 lab3 listen "$(umi_tmp r3)" e0 $PORT

# RFC 3810 §7.4: the receivers' reports give d1 INCLUDE{S1} for G1 and
# EXCLUDE(X={}, Y={S2}) for G2; d2 EXCLUDE({}) for G2 and INCLUDE{S2} for G1.
state_filter='
  def grp(i; g): .downstream[i].groups[] | select(.group == g);
  (grp(0; "'$G1'") | .mode == "include" and ([.sources[].address] == ["'$S1'"])) and
  (grp(0; "'$G2'") | .mode == "exclude" and ([.sources[] | select(.timer_ms == 0) | .address] == ["'$S2'"])) and
  (grp(1; "'$G2'") | .mode == "exclude" and (.sources | length == 0)) and
  (grp(1; "'$G1'") | .mode == "include" and ([.sources[].address] == ["'$S2'"])) and
  (.downstream[2].group_count == 0)'
if wait_for 20 "the joins reach the proxy" json_holds "$state_filter" show; then
	tap_ok "each downstream's state follows its listeners' filters (RFC 3810 §7.4.1, §7.4.2)"
else
	tap_fail "downstream state" "$(show | jq -c '.downstream[] | {interface, groups}')"
fi
# RFC 4605 §4.1: G1 INCLUDE{S1,S2}; G2 EXCLUDE({S2} ∩ {}) = EXCLUDE({}).
merged_filter='.upstream.groups | map({(.group): [.mode, .sources]}) | add ==
  {"'$G1'": ["include", ["'$S1'", "'$S2'"]], "'$G2'": ["exclude", []]}'
if json_holds "$merged_filter" show; then
	tap_ok "the upstream membership is the RFC 4605 §4.1 merge"
else
	tap_fail "merged state" "$(show | jq -c .upstream.groups)"
fi

# The answer to a General Query upstream, record by record (RFC 3810 §6.2:
# one current-state record per group, IS_IN with the sources / IS_EX).
qt=$EPOCHREALTIME
touch "$(umi_tmp src)/query"
answer() {
	awk -v t="$qt" '$1 == "REPORT" && $2 > t && ($4 == "'$G1'" || $4 == "'$G2'") { print $3, $4, $5 }' \
		"$(umi_tmp src)/wire.log" | sort -u
}
expected_answer=$(printf '1 %s %s,%s\n2 %s -\n' $G1 $S1 $S2 $G2 | sort)
# Wait for records of the proxy's two groups: s0's own kernel answers the
# query it sent too (looped back) with its own groups' records, within the
# same Maximum Response Delay (§6.2), and may well come first.
answered() { [ "$(answer | wc -l)" -ge 2 ]; }
if wait_for 10 "the proxy answers the query" answered && [ "$(answer)" = "$expected_answer" ]; then
	tap_ok "the upstream answer to a General Query is IS_IN($G1, {S1,S2}) and IS_EX($G2, {}) (RFC 3810 §6.2)"
else
	tap_fail "upstream report" "expected: $expected_answer; got: $(answer | tr '\n' ';')
queries on s0 since: $(awk -v t="$qt" '$1 == "QUERY" && $2 > t' "$(umi_tmp src)/wire.log" | head -3 | tr '\n' ';')
frames the s0 listener lost: $(cat "$(umi_tmp src)/wire.drops" 2>/dev/null || echo 0)
upstream counters: $(show | jq -c .upstream.counters); send errors: $(show | jq -c .send_errors)
s0 listener's last line (now $EPOCHREALTIME): $(tail -1 "$(umi_tmp src)/wire.log")
$(tail -6 "$(bg_log proxy)")"
fi

# Packet by packet: from round `a` on, after the state is in place.
a=$(($(seq_now) + 5))
b=$((a + 60))
wait_for 30 "the source reaches round $b" sh -c "[ \$(cat $(umi_tmp src)/seq) -gt $((b + 20)) ]"

# every_round LOG S G: each round a..b seen exactly once; never LOG S G: none
# at all, ever (not even before the joins).
every_round() {
	awk -v s="$2" -v g="$3" -v a=$a -v b=$b '$1 ~ /^[0-9]+$/ && $2 == s && $3 == g && $1 >= a && $1 <= b { c[$1]++ }
		END { bad = 0; for (i = a; i <= b; i++) if (c[i] != 1) { bad++; if (bad < 4) printf "round %d seen %d times; ", i, c[i] }
		      exit bad > 0 }' "$1"
}
never() { ! awk -v s="$2" -v g="$3" '$1 ~ /^[0-9]+$/ && $2 == s && $3 == g { found = 1 } END { exit !found }' "$1"; }
check_link() { # NAME LOG WANTED... -- UNWANTED...
	local name=$1 log=$2 diag="" pair
	shift 2
	local mode=want
	for pair in "$@"; do
		[ "$pair" = -- ] && { mode=never; continue; }
		if [ $mode = want ]; then
			every_round "$log" "${pair%/*}" "${pair#*/}" >/dev/null || diag+="($pair) not once per round: $(every_round "$log" "${pair%/*}" "${pair#*/}") "
		else
			never "$log" "${pair%/*}" "${pair#*/}" || diag+="($pair) seen $(grep -c " ${pair%/*} ${pair#*/}" "$log") times "
		fi
	done
	if [ -z "$diag" ]; then tap_ok "$name"; else tap_fail "$name" "$diag"; fi
}
w1=$(umi_tmp r1)/wire.log w2=$(umi_tmp r2)/wire.log w3=$(umi_tmp r3)/wire.log
check_link "link d1 carries (S1,G1) and (S1,G2) once per round, never S2 (INCLUDE{S1}; EXCLUDE{S2})" \
	"$w1" $S1/$G1 $S1/$G2 -- $S2/$G1 $S2/$G2
check_link "link d2 carries (S2,G1), (S1,G2), (S2,G2) once per round, never (S1,G1)" \
	"$w2" $S2/$G1 $S1/$G2 $S2/$G2 -- $S1/$G1
if [ "$(grep -c '^[0-9]' "$w3")" -eq 0 ] && [ -s "$w2" ]; then
	tap_ok "link d3, with no listener, carries no data at all"
else
	tap_fail "d3 quiet" "$(grep -c '^[0-9]' "$w3") datagrams on d3"
fi
r1d=$(umi_tmp r1) r2d=$(umi_tmp r2)
check_link "receiver A (SSM S1,G1) gets exactly S1's datagrams" "$r1d/A.log" $S1/$G1 -- $S2/$G1
check_link "receiver B (G2, BLOCK S2) gets exactly S1's datagrams" "$r1d/B.log" $S1/$G2 -- $S2/$G2
check_link "receiver C (ASM G2) gets both sources" "$r2d/C.log" $S1/$G2 $S2/$G2
check_link "receiver D (SSM S2,G1) gets exactly S2's datagrams" "$r2d/D.log" $S2/$G1 -- $S1/$G1

# Leaves: forwarding to the link stops within the Last Listener Query Time.
stopped() { # LOG S G: the source has gone 50 rounds past the last one seen
	[ $(($(seq_now) - $(last_seq "$1" "$2" "$3"))) -gt 50 ]
}
leave_check() { # NAME DIR RECEIVER LOG S G [S G]
	local name=$1 dir=$2 rx=$3 log=$4 s=$5 g=$6 left gap
	touch "$dir/$rx.leave"
	wait_for 10 "$rx has closed its socket" test -s "$dir/$rx.leftat"
	if wait_for 20 "($s,$g) stops on the link" stopped "$log" "$s" "$g"; then
		left=$(cat "$dir/$rx.leftat")
		gap=$(awk -v l="$left" -v t="$(last_time "$log" "$s" "$g")" 'BEGIN { printf "%d", (t - l) * 1000 }')
		# RFC 3810 §7.6.3: LLQT, plus 500 ms for the host's report and TCG.
		if [ "$gap" -ge 0 ] && [ "$gap" -le $((LLQT_MS + 500)) ]; then
			tap_ok "$name: stopped ${gap} ms after the leave (LLQT ${LLQT_MS} ms)"
		else
			tap_fail "$name" "last datagram ${gap} ms after the leave (negative: stopped before it), LLQT is ${LLQT_MS} ms"
		fi
	else
		tap_fail "$name" "still forwarded: $(show | jq -c '.mfc')"
	fi
}
leave_check "A leaves (S1,G1): d1 stops carrying it" "$r1d" A "$w1" $S1 $G1
leave_check "C leaves G2: d2 stops carrying it" "$r2d" C "$w2" $S2 $G2
s1g2_d1=$(last_seq "$w1" $S1 $G2) s2g1_d2=$(last_seq "$w2" $S2 $G1)
if wait_for 5 "the others keep flowing" sh -c "[ \$(cat $(umi_tmp src)/seq) -gt $(($(seq_now) + 20)) ]" &&
	[ $(($(seq_now) - $(last_seq "$w1" $S1 $G2))) -lt 20 ] && [ $(($(seq_now) - $(last_seq "$w2" $S2 $G1))) -lt 20 ] &&
	[ "$(last_seq "$w1" $S1 $G2)" -gt "$s1g2_d1" ] && [ "$(last_seq "$w2" $S2 $G1)" -gt "$s2g1_d2" ]; then
	tap_ok "B's (S1,G2) on d1 and D's (S2,G1) on d2 keep flowing"
else
	tap_fail "others flow" "$(show | jq -c '.mfc')"
fi
# RFC 3810 §6.1 upstream: G1 is now INCLUDE{S2} (BLOCK S1), G2 EXCLUDE{S2}.
merged_after='.upstream.groups | map({(.group): [.mode, .sources]}) | add ==
  {"'$G1'": ["include", ["'$S2'"]], "'$G2'": ["exclude", ["'$S2'"]]}'
blocks=$(awk -v t="$qt" '$1 == "REPORT" && $2 > t && $3 == 6 { print $4, $5 }' "$(umi_tmp src)/wire.log" | sort -u | tr '\n' ';')
if json_holds "$merged_after" show && { [ "$blocks" = "$G2 $S2;$G1 $S1;" ] || [ "$blocks" = "$G1 $S1;$G2 $S2;" ]; }; then
	tap_ok "upstream was told BLOCK($G1, {S1}) and BLOCK($G2, {S2}) (RFC 3810 §6.1)"
else
	tap_fail "upstream changes" "BLOCK records: $blocks; merged: $(show | jq -c .upstream.groups)"
fi
# An MLDv1 listener on d3 (RFC 2710 Report and Done, from the helper's raw
# socket with hop limit 1 and a Router Alert, as an MLDv1 host sends them).
r3d=$(umi_tmp r3)
echo "report $G2" >"$r3d/v1"
v1_filter='.downstream[2].groups[] | select(.group == "'$G2'") | .mode == "exclude" and .mldv1_host_ms > 0'
if wait_for 10 "the MLDv1 Report is taken" json_holds "$v1_filter" show &&
	wait_for 10 "G2 flows to d3" flowing "$w3" $S1 $G2 && flowing "$w3" $S2 $G2; then
	tap_ok "an MLDv1 listener on d3 is served: G2 from both sources flows there (RFC 3810 §8.3.2)"
else
	tap_fail "MLDv1 listener" "$(show | jq -c '.downstream[2]')"
fi
echo "done $G2" >"$r3d/v1"
wait_for 10 "the Done is sent" test -s "$r3d/v1.sent" && wait_for 10 "Done sent" sh -c "grep -q ^done $r3d/v1.sent"
done_at=$(awk '$1 == "done" { print $3 }' "$r3d/v1.sent")
if wait_for 10 "G2 stops on d3" stopped "$w3" $S1 $G2; then
	gap=$(awk -v l="$done_at" -v t="$(last_time "$w3" $S1 $G2)" 'BEGIN { printf "%d", (t - l) * 1000 }')
	v1q=$(awk -v t="$done_at" '$1 == "QUERY" && $2 > t && $4 == 24 && $5 == "'$G2'"' "$w3" | wc -l)
	if [ "$v1q" -ge 1 ] && [ "$gap" -ge 0 ] && [ "$gap" -le $((LLQT_MS + 500)) ]; then
		tap_ok "its Done gets MLDv1 group-specific queries ($v1q of 24 bytes) and G2 stops ${gap} ms later (LLQT ${LLQT_MS} ms)"
	else
		tap_fail "MLDv1 Done" "$v1q MLDv1 queries, stopped ${gap} ms after the Done"
	fi
else
	tap_fail "MLDv1 Done" "G2 still flows to d3"
fi

# Two queriers on d3: a Linux bridge in r3 querying from fe80::1, below the
# proxy's address. RFC 3810 §7.6.2: the proxy falls silent, and takes over
# when the bridge stops, after Other Querier Present Timeout.
r3n=$(ns_name r3)
ns_sysctl r3 net.ipv6.conf.default.addr_gen_mode=1
ip -n "$r3n" link add br0 type bridge mcast_querier 1 mcast_query_interval 100 \
	mcast_query_response_interval 50 mcast_startup_query_interval 50
ip -n "$r3n" link set e0 master br0
ip -n "$r3n" addr add fe80::1/64 dev br0 nodad
ip -n "$r3n" link set br0 up
if wait_for 15 "the proxy yields to fe80::1" \
	json_holds '.downstream[2] | .querier == false and .querier_address == "fe80::1"' show; then
	tap_ok "a lower-addressed querier on d3 wins the election; the proxy becomes a non-querier"
else
	tap_fail "election" "$(show | jq -c '.downstream[2] | del(.groups)'); $(grep QUERY "$w3" | tail -3)"
fi
sent_before=$(show | jq '.downstream[2].counters.queries_sent')
t0=$EPOCHREALTIME
bridge_queries() { awk -v t="$t0" '$1 == "QUERY" && $2 > t && $3 == "fe80::1"' "$w3" | wc -l; }
wait_for 15 "the bridge queries 4 times" sh -c "[ \$(awk -v t=$t0 '\$1 == \"QUERY\" && \$2 > t && \$3 == \"fe80::1\"' $w3 | wc -l) -ge 4 ]"
sent_after=$(show | jq '.downstream[2].counters.queries_sent')
if [ "$(bridge_queries)" -ge 4 ] && [ "$sent_after" = "$sent_before" ]; then
	tap_ok "while the other querier keeps querying ($(bridge_queries) queries), the proxy sends none"
else
	tap_fail "non-querier silent" "bridge queries: $(bridge_queries); proxy queries sent $sent_before -> $sent_after"
fi
# §5.1.8, §5.1.9: a non-querier runs on the querier's QRV and QQIC, so its
# Other Querier Present Timeout is theirs (§9.5: RV x QI + QRI / 2).
read -r rv qi < <(show | jq -r '.downstream[2] | "\(.robustness) \(.query_interval_ms)"')
oqpt=$((rv * qi + 500))
ip -n "$r3n" link set br0 type bridge mcast_querier 0
t1=$EPOCHREALTIME
# Measured on the wire: from the bridge's last query to the proxy's first.
proxy_query_after() { awk -v t="$1" '$1 == "QUERY" && $2 > t && $3 != "fe80::1" { print $2; exit }' "$w3"; }
if wait_for 15 "the proxy takes over" json_holds '.downstream[2].querier' show &&
	wait_for 5 "a query from the proxy on d3" sh -c "awk -v t=$t1 '\$1 == \"QUERY\" && \$2 > t && \$3 != \"fe80::1\"' $w3 | grep -q ."; then
	last_bridge=$(awk '$1 == "QUERY" && $3 == "fe80::1" { t = $2 } END { printf "%.6f", t }' "$w3")
	took=$(awk -v a="$last_bridge" -v b="$(proxy_query_after "$last_bridge")" 'BEGIN { printf "%d", (b - a) * 1000 }')
	if [ "$took" -ge $((oqpt - 100)) ] && [ "$took" -le $((oqpt + 500)) ]; then
		tap_ok "when the other querier stops, the proxy queries again ${took} ms after its last query (OQPT ${oqpt} ms with its QRV $rv, QQI $qi ms)"
	else
		tap_fail "takeover" "first query ${took} ms after the other querier's last, OQPT ${oqpt} ms"
	fi
else
	tap_fail "takeover" "$(show | jq -c '.downstream[2] | del(.groups)')"
fi
# Upstream link flap (RFC 3810 §6.1, as a change from nothing): while u0 is
# down nothing can be reported; once it is up again the proxy reports its
# whole merged state at once (G1 INCLUDE{S2}: ALLOW; G2 EXCLUDE{S2}: TO_EX)
# and forwarding resumes.
pxn=$(ns_name px)
ip -n "$pxn" link set u0 down
if wait_for 10 "the proxy sees u0 down" json_holds '.upstream.up == false' show; then
	tap_ok "upstream link down: the proxy notices (rtnetlink)"
else
	tap_fail "upstream link down" "$(show | jq -c .upstream)"
fi
ip -n "$pxn" link set u0 up
t_up=$EPOCHREALTIME seq_up=$(seq_now)
up_records() { awk -v t="$t_up" '$1 == "REPORT" && $2 > t { print $3, $4, $5 }' "$(umi_tmp src)/wire.log" | sort -u; }
re_reported() { up_records | grep -qx "5 $G1 $S2" && up_records | grep -qx "4 $G2 $S2"; }
resumed() { [ "$(last_seq "$w1" $S1 $G2)" -gt "$seq_up" ] && [ "$(last_seq "$w2" $S2 $G1)" -gt "$seq_up" ]; }
if wait_for 10 "the merged state reported again" re_reported && wait_for 15 "forwarding resumes" resumed; then
	tap_ok "upstream link up: ALLOW($G1, {S2}) and TO_EX($G2, {S2}) reported at once, and (S1,G2) to d1, (S2,G1) to d2 flow again"
else
	tap_fail "upstream link up" "records since: $(up_records | tr '\n' ';'); up: $(show | jq -c .upstream.up); d1 (S1,G2) last $(last_seq "$w1" $S1 $G2), d2 (S2,G1) last $(last_seq "$w2" $S2 $G1), up at round $seq_up
$(tail -8 "$(bg_log proxy)")"
fi

# SIGHUP reload: a changed parameter is taken without disturbing the state;
# a broken file is refused with its file:line:column and changes nothing.
conf_replace() { # SED-EXPR: edit $conf in a new file (the proxy may read it any time)
	sed "$1" "$conf" >"$conf.new" && mv "$conf.new" "$conf"
}
mfc_before=$(show | jq .mfc_count)
conf_replace 's/^query_interval = 2$/query_interval = 3/'
kill -HUP "$proxy_pid"
if wait_for 10 "d3's query interval becomes 3 s" json_holds '.downstream[2].query_interval_ms == 3000' show &&
	json_holds ".mfc_count == $mfc_before" show && wait_for 10 "d1 still flowing" flowing "$w1" $S1 $G2; then
	tap_ok "SIGHUP: d3's query interval 2 s -> 3 s taken; the $mfc_before forwarding entries kept, (S1,G2) still flows to d1"
else
	tap_fail "SIGHUP reload" "$(show | jq -c '{mfc_count, q: .downstream[2].query_interval_ms}'); $(tail -5 "$(bg_log proxy)")"
fi
conf_replace 's/^query_interval = 3$/query_interval = "often"/'
bad_line=$(grep -n '^query_interval = "often"' "$conf" | cut -d: -f1)
kill -HUP "$proxy_pid"
refused() { grep -q "reload refused, configuration kept: $conf:$bad_line:" "$(bg_log proxy)"; }
if wait_for 10 "the broken file is refused" refused && bg_running proxy &&
	json_holds '.downstream[2].query_interval_ms == 3000' show && wait_for 10 "d1 still flowing" flowing "$w1" $S1 $G2; then
	tap_ok "SIGHUP with a broken file: refused at $(basename "$conf"):$bad_line, the running configuration and forwarding kept"
else
	tap_fail "SIGHUP broken file" "$(tail -5 "$(bg_log proxy)")"
fi

if ns_nsenter px "$cli" mld show --socket "$sock" | grep -q "forwarding entries" && bg_running proxy; then
	tap_ok "umigame mld show prints the state; the proxy is still running"
else
	tap_fail "mld show" "$(tail -20 "$(bg_log proxy)")"
fi
tap_finish
