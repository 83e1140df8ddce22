#!/usr/bin/env bash
# make bench: every benchmark, each printing a table of ratios against a
# baseline measured in the same run. Numbers are for comparison on one
# machine only; the machines are noisy, so each bench takes medians/trimmed
# means of several rounds. A bench that fails (it could not run, or lost
# packets it counts on) does not stop the others: they all run, the
# failures are named at the end, and the exit status says so.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/release/tools/bench
failed=()
run() { # NAME CMD...
	local name=$1
	shift
	"$@" || failed+=("$name")
}

echo "== RA guard (XDP, host kernel $(uname -r))"
run "RA guard" "$bin/raguard_bench"

echo
echo "== SCTP/DCCP classifier (XDP: host kernel $(uname -r) against an empty program; 6.1 guest against nftables, and CRC32c)"
run "SCTP/DCCP classifier" "$top/tools/bench/classify_bench.sh"

echo
echo "== DHCPv6 prefix delegation (umigame-dhcp6d vs kea-dhcp6, same veth)"
run "DHCPv6 prefix delegation" "$top/tools/bench/dhcp6_bench.sh"

echo
echo "== IPv6 fast fallback behind a CE router (umigame-dhcp6d vs radvd static, same ISP)"
run "IPv6 fast fallback behind a CE router" "$top/tools/bench/fallback_bench.sh"

echo
echo "== IKEv2 responder setups (umigame-iked vs charon-systemd, 6.1 guest, one CPU each)"
run "IKEv2 responder setups" "$top/tools/bench/ike_bench.sh"

echo
echo "== MLD proxy join to first packet (umigame-mldproxy vs a static smcroute route), CPU per 1000 reports/s (6.1 guest)"
run "MLD proxy join to first packet" "$top/tools/bench/mld_bench.sh"

echo
echo "== PIM Registers (umigame.ko's umigame-pimreg MIF vs the WHOLEPKT upcall and a user-space encapsulator, 6.1 guest)"
run "PIM Registers" "$top/tools/bench/pim_bench.sh"

echo
echo "== ISATAP forwarding (umigame.ko's umigame-isatap vs the kernel's sit ISATAP, 6.1 guest)"
run "ISATAP forwarding" "$top/tools/bench/isatap_bench.sh"

echo
echo "== ESP: the replay window (host), XDP + umigame.ko vs xfrm decrypting and dropping replays (6.1 guest)"
run "ESP: the replay window" "$top/tools/bench/esp_bench.sh"

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "make bench: failed: ${failed[*]}"
	exit 1
fi
