#!/usr/bin/env bash
# vm-timeout: 600 (more than the default 300 s: 10000 joins take about 230 s under TCG, longer on a busy machine)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh mld_proxy_stress.sh):
# umigame-mldproxy under bad input and many groups. While a receiver on d1
# keeps a group flowing, thc-ipv6's MLD tools and messages that lie about
# their lengths hit d1; then a host on d2 joins 10000 groups.
#
#   ns src: S1 2001:db8:1::10                   ns px: umigame-mldproxy
#   s0 ------------------------------------------ u0 (upstream)
#                                                 d1 (max_groups 2000) --- ns r1: e0
#                                                                           R: ASM G2; the attacks
#                                                 d2 ------------------------ ns r2: e0
#                                                                           10000 groups joined
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/mld.sh
source "$here/../lib/mld.sh"

plan=10
tap_plan $plan
if [ "${UMIGAME_VM:-}" != 1 ] || [ "$EUID" -ne 0 ] || [ ! -x "$proxy_bin" ] || [ ! -x "$cli" ] ||
	! command -v atk6-flood_mld26 >/dev/null; then
	for _ in $(seq $plan); do tap_skip "mld_proxy_stress" "needs the 6.1 guest (selftests/vm/run.sh), a release build and thc-ipv6"; done
	tap_finish
fi

G2=ff0e::2:2 GX=ff0e::10:0:1234 NGROUPS=10000

# Each socket's joins are charged to optmem (the kernel's default allows
# about 100 per socket): room for the helper's 200.
sysctl -qw net.core.optmem_max=1048576
mld_topology r1 r2
conf=$(umi_tmp mldproxy.toml)
cat >"$conf" <<EOT
[daemon]
control_socket = "$(umi_tmp mld.sock)"
[upstream]
interface = "u0"
[[downstream]]
interface = "d1"
last_listener_query_interval_ms = 500
max_groups = 2000
[[downstream]]
interface = "d2"
last_listener_query_interval_ms = 500
EOT
show() { mld_show; }
mld_start_proxy "$conf" -v || umi_die "proxy: $(tail "$(bg_log proxy)")"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$proxy_pid/status"; }
mld_helper src sender send "$(umi_tmp src)" s0 $PORT 10 $S1 $G2,$GX
# atk6-flood_mld26 runs from r1 too: its listener logs incoming frames only.
mld_helper r1 lab1 listen-incoming "$(umi_tmp r1)" e0 $PORT "R/asm/$G2"
mld_helper r2 lab2 listen "$(umi_tmp r2)" e0 $PORT
rx=$(umi_tmp r1)/R.log
still_flowing() { # NAME: R keeps receiving (S1,G2) after what just happened
	local before
	before=$(last_seq "$rx" $S1 $G2)
	if bg_running proxy && wait_for 20 "R receives newer datagrams" sh -c "[ \$(awk '\$2 == \"$S1\" { n = \$1 } END { print n + 0 }' $rx) -gt $((before + 20)) ]"; then
		tap_ok "$1; R's (S1,G2) keeps flowing, RSS $(rss_kb) kB"
	else
		tap_fail "$1" "proxy running: $(bg_running proxy && echo yes || echo no); round $(seq_now), last on d1's wire $(last_seq "$(umi_tmp r1)/wire.log" $S1 $G2), at R $(last_seq "$rx" $S1 $G2); d1 G2: $(show | jq -c '.downstream[0] | {querier, querier_address, g: [.groups[] | select(.group == "'$G2'")]}'); mfc: $(show | jq -c '[.mfc[] | select(.group == "'$G2'")]'); d1: $(show | jq -c '.downstream[0] | del(.groups)'); refused: $(show | jq -c .refused.d1)
$(tail -4 "$(bg_log proxy)")"
	fi
}
if wait_for 20 "R receives G2" flowing "$rx" $S1 $G2; then
	tap_ok "R's ASM join on d1 brings (S1,G2)"
else
	tap_fail "R receives" "$(show | jq -c '.downstream[0]')"
fi
rss0=$(rss_kb)

# thc-ipv6 (RFC 3810 messages it forges itself).
r1n=$(ns_name r1)
for a in "add ff0e::77" "query" "delete ff0e::77" "add $G2" "delete $G2"; do
	# shellcheck disable=SC2086 # the words are the tool's arguments
	timeout 20 ip netns exec "$r1n" atk6-fake_mld26 e0 $a >/dev/null 2>&1
done
still_flowing "atk6-fake_mld26 add, query, delete (also of R's group)"
for a in advertise solicitate terminate; do
	timeout 20 ip netns exec "$r1n" atk6-fake_mldrouter6 e0 $a >/dev/null 2>&1
done
still_flowing "atk6-fake_mldrouter6 advertise/solicitate/terminate (RFC 4286 types, not MLD): no effect"

# Lies about lengths and counts, a report with hop limit 2, one without a
# Router Alert (RFC 3810 §5.1.14, §5.2.13): dropped and counted, exactly.
before=$(show | jq -c '.refused.d1')
counts=$(ip netns exec "$r1n" "${lab[@]}" bad e0)
expect_filter='.refused.d1 | .malformed == '$(jq '.malformed' <<<"$before")' + 9 and
  .bad_hop_limit == '$(jq '.bad_hop_limit' <<<"$before")' + 1 and .no_router_alert == '$(jq '.no_router_alert' <<<"$before")' + 1'
if wait_for 10 "the bad messages are counted" json_holds "$expect_filter" show &&
	! show | jq -e '.downstream[0].groups[] | select(.group == "ff0e::bad")' >/dev/null; then
	tap_ok "9 lying MLD messages counted as malformed, one each refused for hop limit and Router Alert ($counts)"
else
	tap_fail "bad input" "sent: $counts; before $before, now $(show | jq -c '.refused.d1')"
fi
still_flowing "after the malformed messages"

timeout 30 ip netns exec "$r1n" atk6-flood_mld26 e0 >/dev/null 2>&1
if json_holds '.downstream[0].group_count <= 2000' show; then
	tap_ok "atk6-flood_mld26: d1 state stays within max_groups ($(show | jq -c '.downstream[0] | {group_count, counters: {records: .counters.records, refused_limits: .counters.refused_limits, ignored_not_link_local: .counters.ignored_not_link_local}}'))"
else
	tap_fail "flood bounded" "$(show | jq -c '.downstream[0].group_count')"
fi
still_flowing "after the flood"

# 10000 groups on d2 (RFC 3810 §5.2.15: the host splits its reports).
r2d=$(umi_tmp r2)
bg_start r2 many "${lab[@]}" joinmany "$r2d" e0 $NGROUPS
if wait_for 240 "$NGROUPS groups on d2" json_holds ".downstream[1].group_count == $NGROUPS" show &&
	wait_for 20 "($S1,$GX) flows to d2" flowing "$r2d/wire.log" $S1 $GX; then
	tap_ok "$NGROUPS groups joined on d2 are all tracked and one of them ($GX) is forwarded there"
else
	tap_fail "$NGROUPS groups" "$(show | jq -c '.downstream[1] | del(.groups)')"
fi
size=$(show | wc -c)
listed=$(show | jq '.downstream[1].groups | length')
rss1=$(rss_kb)
if [ "$listed" -le 1000 ] && [ "$size" -lt 2000000 ] && [ "$rss1" -lt $((rss0 + 65536)) ]; then
	tap_ok "show stays bounded ($listed groups listed, $size bytes); RSS ${rss0} -> ${rss1} kB"
else
	tap_fail "bounded" "listed $listed, $size bytes, RSS ${rss0} -> ${rss1} kB"
fi
still_flowing "with $NGROUPS groups on d2"
tap_finish
