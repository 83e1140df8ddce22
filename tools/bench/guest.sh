# shellcheck shell=bash
# What the guest-only benches share (pim_bench.sh, isatap_bench.sh): sourced
# with $top set to the repository.
#
#   bench_in_guest VAR...   on the host: run the calling script again in the
#                           6.1 guest (tools/vm/vm-run), passing the VARs
#                           that are set, and exit with its status; in the
#                           guest: return
#   bench_insmod            in the guest (selftests/lib/netns.sh sourced):
#                           bpffs mounted, a fresh umigame.ko ($UMIGAME_KO
#                           or the build's), unloaded at exit
: "${top:?guest.sh needs \$top}"

bench_in_guest() {
	if [ "${UMIGAME_VM:-0}" != 1 ]; then
		local env=() v
		for v in "$@" UMIGAME_KO; do
			[ -n "${!v:-}" ] && env+=(--env "$v=${!v}")
		done
		exec "$top/tools/vm/vm-run" --timeout 900 "${env[@]}" -- "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
	fi
}

bench_insmod() {
	local ko=${UMIGAME_KO:-$top/build/kmod/umigame.ko}
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	rmmod umigame 2>/dev/null
	insmod "$ko" || umi_die "insmod $ko failed"
	on_cleanup "rmmod umigame 2>/dev/null; true"
}
