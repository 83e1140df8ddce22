#!/usr/bin/env bash
# pim_bench.sh — PIM Registers in `make bench` (docs/pim-register.md): a DR's
# Registers/s through umigame.ko's umigame-pimreg MIF against ip6mr's
# MRT6MSG_WHOLEPKT upcall and a user-space encapsulator (pim_bench.cpp), in
# the 6.1 guest (tools/vm/vm-run; the host kernel has no ip6mr).
#
#   ns bench, the DR:
#     d0  2001:db8:1::1/64  the input port; frames S -> G are fed to it with
#         BPF_PROG_TEST_RUN; d0p, its peer, holds the feeder program
#     preg0 umigame-pimreg  MIF 1: ff0e::/16 registers to 2001:db8:12::2
#     register MIF 2        ip6mr's own, for the upcall path
#     d1  2001:db8:12::1/64 towards the RP (its neighbour set by hand); r0,
#         its peer, counts and drops the Registers in XDP
#     d2  MIF 3, an ordinary port (the plain-forwarding baseline); d2p, its
#         peer, counts and drops in XDP too
#
# Under TCG only the ratio means anything. Environment: PIM_BENCH_ROUNDS (5),
# PIM_BENCH_CALLS (20 pairs per round), PIM_BENCH_SIZES (100,1000),
# UMIGAME_KO (another build of the module).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build/release

# shellcheck source-path=SCRIPTDIR source=guest.sh
source "$top/tools/bench/guest.sh"
bench_in_guest PIM_BENCH_ROUNDS PIM_BENCH_CALLS PIM_BENCH_SIZES

# ---- in the guest ----
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"
bench=$build/tools/bench/pim_bench
[ -x "$bench" ] || umi_die "missing $bench (make userspace)"
bench_insmod

ns_create bench >/dev/null
ns_sysctl bench net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
veth_pair bench d0 bench d0p
veth_pair bench d1 bench r0
veth_pair bench d2 bench d2p
n=$(ns_name bench)
ip -n "$n" addr add 2001:db8:1::1/64 dev d0
ip -n "$n" addr add 2001:db8:12::1/64 dev d1
ip -n "$n" neigh add 2001:db8:12::2 lladdr 02:00:00:00:00:12 dev d1 nud permanent
ip -n "$n" link add preg0 type umigame-pimreg || umi_die "no umigame-pimreg links"
ip -n "$n" link set preg0 up
if ! { ns_nsenter bench "$build/tools/umigame/umigame" pim rp add preg0 ff0e::/16 2001:db8:12::2 &&
	ns_nsenter bench "$build/tools/umigame/umigame" pim set preg0 source 2001:db8:12::1; }; then
	umi_die "umigame pim failed"
fi

ns_nsenter bench "$bench" --in d0 --spare d0p --sink r0 --plain d2 --plain-sink d2p --rp 2001:db8:12::2 --dr 2001:db8:12::1 \
	--rounds "${PIM_BENCH_ROUNDS:-5}" --calls "${PIM_BENCH_CALLS:-20}" --sizes "${PIM_BENCH_SIZES:-100,1000}"
status=$?
echo "# umigame pim show: $(ns_nsenter bench "$build/tools/umigame/umigame" pim show preg0 --json | jq -c '.[0].counters')"
exit $status
