#!/usr/bin/env bash
# classify_bench.sh — the SCTP/DCCP classifier in `make bench` (docs/classify.md):
#
#  1. on the host: classify_bench, BPF_PROG_TEST_RUN against an empty XDP
#     program (the issue's <= 1.5x goal);
#  2. in the 6.1 guest (tools/vm/vm-run; the host's kernel refuses live
#     frames and has no SCTP): classify_bench --guest, against nftables'
#     sctp match through the stack, and the CRC32c kfunc against the kernel
#     SCTP stack's own checksum.
#
# Environment: CLASSIFY_BENCH_PARTS ("host guest": either part alone),
# CLASSIFY_BENCH_ROUNDS (guest, 20: 41 rounds), CLASSIFY_BENCH_REPEAT (guest, 20000),
# UMIGAME_KO (another build of the module).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/build/release/tools/bench/classify_bench
parts=${CLASSIFY_BENCH_PARTS:-host guest}

if [ "${UMIGAME_VM:-0}" != 1 ]; then
	status=0
	if [[ " $parts " == *" host "* ]]; then
		"$bench" || status=1
	fi
	if [[ " $parts " == *" guest "* ]]; then
		env=()
		for v in CLASSIFY_BENCH_ROUNDS CLASSIFY_BENCH_REPEAT UMIGAME_KO; do
			[ -n "${!v:-}" ] && env+=(--env "$v=${!v}")
		done
		"$top/tools/vm/vm-run" --timeout 900 "${env[@]}" -- "$top/tools/bench/classify_bench.sh" ||
			status=1
	fi
	exit $status
fi

# ---- in the guest ----
ko=${UMIGAME_KO:-$top/build/kmod/umigame.ko}
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
for m in sctp nf_tables; do
	modprobe -q "$m" || { echo "classify bench: no module $m in this kernel" >&2; exit 1; }
done
rmmod umigame 2>/dev/null
insmod "$ko" || { echo "classify bench: insmod $ko failed" >&2; exit 1; }
status=0
"$bench" --guest "${CLASSIFY_BENCH_ROUNDS:-20}" "${CLASSIFY_BENCH_REPEAT:-20000}" || status=1
rmmod umigame 2>/dev/null
exit $status
