#!/usr/bin/env bash
# mld_bench.sh — umigame-mldproxy (docs/mldproxy.md), in the 6.1 guest
# (tools/vm/vm-run: the host kernel has no ip6mr):
#
# 1. Join-to-first-packet: a receiver joins an ASM group whose source has
#    been sending every 10 ms all along (the case where other proxies wait
#    for their next query); the time from its MLDv2 Report on the wire to
#    the first datagram at its socket, p50 and p99 over MLD_BENCH_JOINS
#    joins, each after the group has gone quiet on the link. The floor: the
#    same with smcroute's static (S,G) route, which forwards all along, so
#    a join only waits for the next datagram.
# 2. CPU per 1000 reports/s: the proxy's utime+stime over MLD_BENCH_SECONDS
#    while a downstream host sends 1000 valid MLDv2 Reports a second.
#
#   ns src (S 2001:db8:1::10, every 10 ms to G)
#   s0 ------ u0  ns px (umigame-mldproxy, then smcrouted)  d1 ------ e0  ns r1 (receiver)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${UMIGAME_VM:-0}" != 1 ]; then
	env=()
	for v in MLD_BENCH_JOINS MLD_BENCH_SECONDS; do
		[ -n "${!v:-}" ] && env+=(--env "$v=${!v}")
	done
	exec "$top/tools/vm/vm-run" --timeout "${MLD_BENCH_TIMEOUT:-480}" "${env[@]}" -- "$top/tools/bench/mld_bench.sh"
fi
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/mld.sh
source "$top/selftests/lib/mld.sh"
joins=${MLD_BENCH_JOINS:-40}
seconds=${MLD_BENCH_SECONDS:-10}
for f in "$proxy_bin" "$cli"; do
	[ -x "$f" ] || umi_die "missing $f (cmake --build build/release --target umigame-mldproxy umigame)"
done
command -v smcrouted >/dev/null || umi_die "smcroute is not installed (make deps)"
S=$S1 G=ff0e::3:3

mld_topology r1
mld_helper src sender send "$(umi_tmp src)" s0 $PORT 10 $S $G
conf=$(umi_tmp mldproxy.toml)
cat >"$conf" <<EOT
[daemon]
control_socket = "$(umi_tmp mld.sock)"
[upstream]
interface = "u0"
[[downstream]]
interface = "d1"
last_listener_query_interval_ms = 200
EOT
mld_start_proxy "$conf" || umi_die "proxy: $(tail "$(bg_log proxy)")"

# p50 and p99 (nearest rank) of a file of numbers; "timeout" lines count as
# misses.
stats() {
	grep -v timeout "$1" | sort -n | awk -v misses="$(grep -c timeout "$1")" '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "no samples"; exit }
		      p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
		      printf "p50 %6.1f ms   p99 %6.1f ms   (%d joins, %d timed out)\n", p50, p99, NR, misses }'
}
ours=$(umi_tmp ours.txt) floor=$(umi_tmp floor.txt)
ns_exec r1 "${lab[@]}" joinbench e0 $PORT $G "$joins" 600 >"$ours"

# CPU per 1000 reports/s (the proxy's own ticks, from /proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$proxy_pid/stat"; }
t0=$(cpu_ticks)
sent=$(ns_exec r1 "${lab[@]}" reports e0 1000 "$seconds")
t1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$seconds" -v n="$sent" 'BEGIN { printf "%.1f %% of a CPU at %d reports/s", 100 * d / hz / s, n / s }')
bg_stop proxy

smconf=$(umi_tmp smcroute.conf)
printf 'phyint u0 enable\nphyint d1 enable\nmroute from u0 source %s group %s to d1\n' $S $G >"$smconf"
bg_start px smcroute smcrouted -n -N -f "$smconf" -u "$(umi_tmp smcroute.sock)" -P "$(umi_tmp smcroute.pid)" -l notice
mld_helper r1 tap listen "$(umi_tmp r1)" e0 $PORT
wait_for 20 "smcroute forwards to d1" sh -c "grep -q ' $G ' $(umi_tmp r1)/wire.log" ||
	umi_die "smcroute: $(tail "$(bg_log smcroute)")"
bg_stop tap
ns_exec r1 "${lab[@]}" joinbench e0 $PORT $G "$joins" 0 >"$floor"

echo "join to first packet (source every 10 ms, 6.1 guest under TCG; goal <= 100 ms):"
echo "  umigame-mldproxy           $(stats "$ours")"
echo "  smcroute static (floor)    $(stats "$floor")"
echo "reports: umigame-mldproxy used $cpu"
