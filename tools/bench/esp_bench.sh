#!/usr/bin/env bash
# esp_bench.sh — the ESP fast path in `make bench` (docs/esp.md):
#
#  1. on the host: replay_bench, include/umigame/replay.h's checks/s for
#     windows 64 to 65536 against a model of xfrm's bitmap (no kernel needed);
#  2. in the 6.1 guest (tools/vm/vm-run; the host kernel has no ESP and loads
#     no modules): esp_xdp_bench, packets/s decrypted by XDP + umigame.ko
#     against the kernel's xfrm for 64-, 512- and 1400-byte payloads, and
#     replayed packets/s each drops; same SA, same frames, same receiving CPU.
#
#   ns bench, a router:
#     rx0 2001:db8:ffff::2 (MTU 1600)  the WAN port, a veth end: ESP frames are
#                                      fed to it with BPF_PROG_TEST_RUN
#                                      (esp_xdp_bench.cpp); rx1, its peer, holds
#                                      the feeder program
#     lan0 (dummy)                     the LAN port: 2001:db8:2::/64 is routed
#                                      out of it; it counts what it sends
#     lan1 (veth) -- lan1p             the LAN port of the XDP forwarding run
#                                      (the route moves there for it); lan1p
#                                      counts and drops in XDP, as a NIC's
#                                      wire would take the frames
#
# Under TCG only the ratios mean anything. Environment: ESP_BENCH_ROUNDS (5),
# ESP_BENCH_SECONDS (per receiver and kind of run, 1.5), ESP_BENCH_FRAMES
# (new frames per size, 60000), ESP_BENCH_SIZES (64,512,1400),
# ESP_BENCH_TIMEOUT (guest, 900 s), ESP_BENCH_PARTS ("host guest": either
# part alone), UMIGAME_KO (another build of the module).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build/release
parts=${ESP_BENCH_PARTS:-host guest}

if [ "${UMIGAME_VM:-0}" != 1 ]; then
	status=0
	if [[ " $parts " == *" host "* ]]; then
		"$build/tools/bench/replay_bench" || status=1
	fi
	if [[ " $parts " == *" guest "* ]]; then
		[[ " $parts " == *" host "* ]] && echo
		env=()
		for v in ESP_BENCH_ROUNDS ESP_BENCH_FRAMES ESP_BENCH_SECONDS ESP_BENCH_SIZES UMIGAME_KO; do
			[ -n "${!v:-}" ] && env+=(--env "$v=${!v}")
		done
		"$top/tools/vm/vm-run" --timeout "${ESP_BENCH_TIMEOUT:-900}" "${env[@]}" -- \
			"$top/tools/bench/esp_bench.sh" || status=1
	fi
	exit $status
fi

# ---- in the guest ----
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"

ko=${UMIGAME_KO:-$top/build/kmod/umigame.ko}
bench=$build/tools/bench/esp_xdp_bench
[ -x "$bench" ] || umi_die "missing $bench (make userspace)"
[ -f "$ko" ] || umi_die "missing $ko (make kmod)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# udev loads aesni_intel and ghash_clmulni_intel on a booted machine whose
# CPU has AES-NI and PCLMULQDQ; the guest has no udev. Without them both
# receivers get generic C AES.
for m in esp6 xfrm_user aesni_intel ghash_clmulni_intel; do
	modprobe -q "$m" || umi_die "no module $m in this kernel"
done
rmmod umigame 2>/dev/null
insmod "$ko" || umi_die "insmod $ko failed"
pins=/sys/fs/bpf/umigame-esp-bench-$$
on_cleanup "rm -rf $pins; rmmod umigame 2>/dev/null; true"

ns_create bench >/dev/null
ns_sysctl bench net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
	net.ipv6.conf.all.forwarding=1
veth_pair bench rx0 bench rx1
n=$(ns_name bench)
ip -n "$n" link add lan0 type dummy || umi_die "no dummy links"
ip -n "$n" link set lan0 up
ip -n "$n" link set rx0 mtu 1600 # a 1400-byte payload makes a 1524-byte outer packet
ip -n "$n" addr add 2001:db8:ffff::2/64 dev rx0
ip -n "$n" route add 2001:db8:2::/64 dev lan0
veth_pair bench lan1 bench lan1p
# The inner packets' destination, resolved: XDP forwarding needs a neighbour.
ip -n "$n" neigh add 2001:db8:2::1 lladdr 02:00:00:00:00:02 dev lan1 nud permanent

args=(--rx rx0 --spare rx1 --lan lan0 --lan-xdp lan1 --lan-xdp-peer lan1p --pin-dir "$pins" --rounds "${ESP_BENCH_ROUNDS:-5}"
	--frames "${ESP_BENCH_FRAMES:-60000}" --seconds "${ESP_BENCH_SECONDS:-1.5}"
	--sizes "${ESP_BENCH_SIZES:-64,512,1400}")
status=0
ns_nsenter bench "$bench" "${args[@]}" || status=$?
# Which AEAD implementations the two SAs got (both are still installed).
awk '$1 == "name" { n = $3 } $1 == "driver" { d = $3 }
	/^$/ { if (n == "rfc4106(gcm(aes))") printf "# /proc/crypto: %s\n", d }' /proc/crypto
exit $status
