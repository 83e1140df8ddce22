#!/usr/bin/env bash
# make bench: every benchmark, each printing a table of ratios against a
# baseline measured in the same run. Numbers are for comparison on one
# machine only; the machines are noisy, so each bench takes medians/trimmed
# means of several rounds.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/release/tools/bench

echo "== RA guard (XDP, host kernel $(uname -r))"
"$bin/raguard_bench"

echo
echo "== SCTP/DCCP classifier (XDP: host kernel $(uname -r) against an empty program; 6.1 guest against nftables, and CRC32c)"
"$top/tools/bench/classify_bench.sh"

echo
echo "== DHCPv6 prefix delegation (umigame-dhcp6d vs kea-dhcp6, same veth)"
"$top/tools/bench/dhcp6_bench.sh"

echo
echo "== IPv6 fast fallback behind a CE router (umigame-dhcp6d vs radvd static, same ISP)"
"$top/tools/bench/fallback_bench.sh"

echo
echo "== IKEv2 responder setups (umigame-iked vs charon-systemd, 6.1 guest, one CPU each)"
"$top/tools/bench/ike_bench.sh"

echo
echo "== MLD proxy join to first packet (umigame-mldproxy vs a static smcroute route), CPU per 1000 reports/s (6.1 guest)"
"$top/tools/bench/mld_bench.sh"

echo
echo "== PIM Registers (umigame.ko's umigame-pimreg MIF vs the WHOLEPKT upcall and a user-space encapsulator, 6.1 guest)"
"$top/tools/bench/pim_bench.sh"

echo
echo "== ISATAP forwarding (umigame.ko's umigame-isatap vs the kernel's sit ISATAP, 6.1 guest)"
"$top/tools/bench/isatap_bench.sh"

echo
echo "== ESP: the replay window (host), XDP + umigame.ko vs xfrm decrypting and dropping replays (6.1 guest)"
"$top/tools/bench/esp_bench.sh"
