#!/usr/bin/env bash
# isatap_bench.sh — ISATAP forwarding in `make bench` (docs/isatap.md):
# umigame.ko's umigame-isatap link against the 6.1 kernel's sit ISATAP on
# the same traffic (isatap_bench.cpp), in the guest (tools/vm/vm-run; the
# host kernel has no SIT and loads no modules).
#
#   ns bench, a router:
#     lan0 2001:db8:1::1/64  the LAN port; IPv6 frames to the ISATAP
#          address 2001:db8:ff::5efe:c633:6407 are fed to it; lan0p, its
#          peer, holds the feeder program
#     isa0 sit ISATAP, local 192.0.2.1     2001:db8:ff::/64 is routed out of
#     isa1 umigame-isatap, 192.0.2.1       one of them, in turn
#     wan0 192.0.2.1/24  the IPv4 side: 198.51.100.7 (the embedded address)
#          is routed out of it to a neighbour set by hand; wan0p, its peer,
#          counts and drops in XDP
#
# Under TCG only the ratio means anything. Environment: ISATAP_BENCH_ROUNDS
# (5), ISATAP_BENCH_CALLS (20 pairs per round), ISATAP_BENCH_SIZES
# (100,1000), UMIGAME_KO (another build of the module).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build/release

# shellcheck source-path=SCRIPTDIR source=guest.sh
source "$top/tools/bench/guest.sh"
bench_in_guest ISATAP_BENCH_ROUNDS ISATAP_BENCH_CALLS ISATAP_BENCH_SIZES

# ---- in the guest ----
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"
bench=$build/tools/bench/isatap_bench
[ -x "$bench" ] || umi_die "missing $bench (make userspace)"
modprobe -q sit || umi_die "no sit module in this kernel"
bench_insmod

ns_create bench >/dev/null
ns_sysctl bench net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
	net.ipv6.conf.all.forwarding=1
veth_pair bench lan0 bench lan0p
veth_pair bench wan0 bench wan0p
n=$(ns_name bench)
ip -n "$n" addr add 2001:db8:1::1/64 dev lan0
ip -n "$n" addr add 192.0.2.1/24 dev wan0
ip -n "$n" route add 198.51.100.0/24 dev wan0
ip -n "$n" neigh add 198.51.100.7 lladdr 02:00:00:00:00:07 dev wan0 nud permanent
ip -n "$n" tunnel add isa0 mode isatap local 192.0.2.1 ttl 64 || umi_die "no sit ISATAP"
ip -n "$n" link add isa1 address 192.0.2.1 type umigame-isatap || umi_die "no umigame-isatap links"
ip -n "$n" link set isa0 up
ip -n "$n" link set isa1 up
ip -n "$n" -6 route add 2001:db8:ff::/64 dev isa0

ns_nsenter bench "$bench" --in lan0 --spare lan0p --sink wan0p --sit isa0 --ours isa1 \
	--prefix 2001:db8:ff::/64 --dst 2001:db8:ff::5efe:c633:6407 \
	--rounds "${ISATAP_BENCH_ROUNDS:-5}" --calls "${ISATAP_BENCH_CALLS:-20}" --sizes "${ISATAP_BENCH_SIZES:-100,1000}"
status=$?
# Where a lost packet went, if one did: our link's drop counters, both
# links' and the WAN veth's error and drop counts.
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "# umigame isatap: $(grep '^isa1 ' /sys/kernel/debug/umigame/isatap)"
for dev in isa0 isa1 wan0 wan0p; do
	echo "# $dev: $(ip -n "$n" -s -j link show "$dev" | jq -c '.[0].stats64 | {tx: {packets: .tx.packets, errors: .tx.errors, dropped: .tx.dropped}, rx: {packets: .rx.packets, dropped: .rx.dropped}}')"
done
exit $status
