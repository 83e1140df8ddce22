#!/usr/bin/env bash
# dhcp6_bench.sh — DHCPv6 prefix delegation: Solicit-to-Reply exchanges per
# second (Solicit, Advertise, Request, Reply: RFC 8415 §18), umigame-dhcp6d
# against Kea (kea-dhcp6) as the baseline, same load generator, same veth,
# same run. Each round serves fresh clients (a new DUID seed) from a large
# pool, Kea and ours alternating which goes first; the table shows medians.
#
#   srv ns                              lab ns
#   eth0 (veth) <-------------------->  eth0 (veth)
#   kea-dhcp6 | umigame-dhcp6d          umigame-dhcp6-load -n CLIENTS -w WINDOW
#   pool 2001:db8::/32, /56s
#
# Both persist every lease to disk before answering, but not alike: Kea's
# memfile appends without fsync; ours fdatasync()s each batch (group
# commit), so ours is the stricter of the two.
#
# 128 exchanges in flight keep both servers busy: Kea (single-threaded, as
# Debian's kea-dhcp6 runs by default) uses ~95% of a core at 64 already and
# gains nothing from more; the server CPU column shows how busy each was.
#
# Environment: DHCP6_BENCH_ROUNDS (default 5), DHCP6_BENCH_CLIENTS (3000),
# DHCP6_BENCH_WINDOW (128).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/dhcp6/kea.sh
source "$top/selftests/dhcp6/kea.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/dhcp6/ours.sh
source "$top/selftests/dhcp6/ours.sh"

rounds=${DHCP6_BENCH_ROUNDS:-5}
clients=${DHCP6_BENCH_CLIENTS:-3000}
window=${DHCP6_BENCH_WINDOW:-128}
load=${UMIGAME_DHCP6_LOAD:-$top/build/release/tools/loadgen/umigame-dhcp6-load}

ns_create srv
ns_create lab
for ns in srv lab; do ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0; done
veth_pair srv eth0 lab eth0
wait_for 10 "lab:eth0 link-local address" link_local_ready lab eth0 || exit 1

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run_load SEED PID: "<exchanges per second> <server CPU %>" of one round,
# or "fail".
run_load() {
	local out c0 c1 t0 t1
	c0=$(cpu_ticks "$2")
	t0=$EPOCHREALTIME
	out=$(ip netns exec "$(ns_name lab)" "$load" -i eth0 -n "$clients" -w "$window" \
		--seed "$1" --timeout-ms 200 --json) || { echo fail; return; }
	t1=$EPOCHREALTIME
	c1=$(cpu_ticks "$2")
	printf '%s %s\n' "$(jq -r '.exchanges_per_second | floor' <<<"$out")" \
		"$(awk -v c=$((c1 - c0)) -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.0f", c / hz / (b - a) * 100 }')"
}

measure() {
	local who=$1 seed=$2
	case $who in
	kea)
		kea_start srv eth0 2001:db8::/32 56 >/dev/null || return 1
		run_load "$seed" "${BG_PID[kea-srv]}"
		bg_stop kea-srv
		;;
	ours)
		ours_start srv eth0 2001:db8::/32 56 >/dev/null || return 1
		run_load "$seed" "${BG_PID[dhcp6d-srv]}"
		ours_stop srv
		;;
	esac
}

declare -a kea_rates=() our_rates=() kea_cpu=() our_cpu=()
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then order="kea ours"; else order="ours kea"; fi
	for who in $order; do
		seed=$((r * 2))
		[ "$who" = ours ] && seed=$((seed + 1))
		result=$(measure "$who" "$seed") || result=fail
		read -r rate cpu <<<"$result"
		if [ "$who" = kea ]; then
			kea_rates+=("$rate")
			kea_cpu+=("${cpu:-0}")
		else
			our_rates+=("$rate")
			our_cpu+=("${cpu:-0}")
		fi
	done
done

median() { printf '%s\n' "$@" | grep -v fail | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
kea_med=$(median "${kea_rates[@]}")
our_med=$(median "${our_rates[@]}")
ratio=$(awk -v a="$our_med" -v b="$kea_med" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r + 0 >= 2.0) ? "met" : "missed" }')

printf '%d clients per round, %d in flight, %d rounds (exchanges/s per round: kea %s; ours %s)\n' \
	"$clients" "$window" "$rounds" "${kea_rates[*]}" "${our_rates[*]}"
printf '| %-26s | %14s | %14s | %7s | %-14s |\n' "exchange" "kea-dhcp6 /s" "umigame /s" "ratio" "target"
printf '| %-26s | %14s | %14s | %7s | %-14s |\n' "Solicit..Reply (4 msgs)" "$kea_med" "$our_med" "${ratio}x" ">= 2x, $verdict"
printf '| %-26s | %13s%% | %13s%% | %7s | %-14s |\n' "server CPU (median)" "$(median "${kea_cpu[@]}")" "$(median "${our_cpu[@]}")" "" ""
