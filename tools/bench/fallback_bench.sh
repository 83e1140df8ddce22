#!/usr/bin/env bash
# fallback_bench.sh — the IPv6 deployment problem behind the CE router
# issue: with IPv6 addresses but no IPv6 reach, how long does a dual-stack
# client without Happy Eyeballs (getaddrinfo order, one blocking connect
# after the other) take to reach a name with AAAA and A records? Behind
# umigame-dhcp6d (RFC 7084 G-5: router lifetime 0 the moment the WAN loses
# its default router) against a router running radvd with a static
# configuration, both LANs behind the same ISP in the same run; the lab
# is selftests/ce/lab.sh. Each round breaks the ISP's IPv6 (its radvd
# leaves, the Internet's IPv6 is blackholed), measures both clients at
# once, then restores it. The table shows medians.
#
# The baseline's time is the hosts' SYN retries: tcp_syn_retries 3 (15 s)
# here, Debian's default of 6 would make it 127 s.
#
# Environment: FALLBACK_BENCH_ROUNDS (default 3).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../selftests/ce/lab.sh
source "$top/selftests/ce/lab.sh"

rounds=${FALLBACK_BENCH_ROUNDS:-3}
lab_up >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ours_times=() base_times=() lost_ms=()
for ((r = 1; r <= rounds; r++)); do
	lab_break
	start=$(_umi_now_ms)
	wait_for 10 "the LAN host loses its default route" sh -c "! ip -n $(ns_name host) -6 route show default | grep -q via" ||
		umi_die "round $r: the LAN host kept its default route"
	lost_ms+=($(($(_umi_now_ms) - start)))
	ours=$(umi_tmp "ours.$r") base=$(umi_tmp "base.$r")
	lab_connect host >"$ours" &
	p1=$!
	lab_connect host2 >"$base" &
	p2=$!
	wait $p1 $p2
	read -r t f <"$ours"
	[ "$f" = IPv4 ] || umi_die "round $r: behind umigame-dhcp6d the client ended on '$f'"
	ours_times+=("$t")
	read -r t f <"$base"
	[ "$f" = IPv4 ] || umi_die "round $r: behind radvd the client ended on '$f'"
	base_times+=("$t")
	printf '  round %d: ours %s s, radvd %s s, default route gone after %d ms\n' \
		"$r" "${ours_times[-1]}" "${base_times[-1]}" "${lost_ms[-1]}"
	lab_restore
	wait_for 30 "the LAN host's default route back" lab_has_default host ||
		umi_die "round $r: no default route after the ISP came back"
done

ours_med=$(printf '%s\n' "${ours_times[@]}" | median)
base_med=$(printf '%s\n' "${base_times[@]}" | median)
lost_med=$(printf '%s\n' "${lost_ms[@]}" | median)
printf '\n  %-44s %12s\n' "client connects to www.example (AAAA + A)" "median (s)"
printf '  %-44s %12s\n' "behind radvd, static config (baseline)" "$base_med"
printf '  %-44s %12s\n' "behind umigame-dhcp6d" "$ours_med"
awk -v b="$base_med" -v o="$ours_med" 'BEGIN { printf "  %-44s %11.0fx\n", "baseline / ours", b / (o > 0.001 ? o : 0.001) }'
printf '  %-44s %9s ms\n' "LAN host loses its default route after" "$lost_med"
echo "  (median of $rounds rounds; host tcp_syn_retries $LAB_SYN_RETRIES)"
