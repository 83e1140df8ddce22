#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_module_cycle.sh):
# load umigame.ko, add SAs of every suite, attach and detach the ESP program,
# unload with the SAs still there; 50 times. The kernel log must stay clean
# and nothing may be left: no module, no BTF, no pinned objects, no memory
# growth beyond noise.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
source "$repo/selftests/lib/tap.sh"
# shellcheck source=../lib/kmsg.sh
. "$repo/selftests/lib/kmsg.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=$repo/build/release/tools/umigame/umigame
ROUNDS=${ESP_CYCLE_ROUNDS:-50}
GCM="rfc4106(gcm(aes))"
pins=/sys/fs/bpf/umigame-cycle-$$
export UMIGAME_PIN_DIR=$pins

tap_plan 4
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ]; then
	for _ in 1 2 3 4; do tap_skip esp_module_cycle "needs root and module support"; done
	tap_finish
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
rmmod umigame 2>/dev/null
ip link add umicyc0 type veth peer name umicyc1
trap 'ip link del umicyc0 2>/dev/null; rm -rf "$pins"; rmmod umigame 2>/dev/null; true' EXIT

kmsg_mark esp_module_cycle
slab_kb() { # after dropping reclaimable caches, so only live objects count
	echo 3 >/proc/sys/vm/drop_caches
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}
WARMUP=10 # caches of the crypto API, BPF and kmalloc settle in the first rounds

failed=
for round in $(seq "$ROUNDS"); do
	out=$(
		exec 2>&1
		insmod "$ko" || exit 1
		"$umigame" sa add src 2001:db8::1 dst 2001:db8::2 spi 0x100 aead "$GCM" \
			0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 128 replay-window 65536 flag esn >/dev/null &&
		"$umigame" sa add src 192.0.2.1 dst 192.0.2.2 spi 0x200 mode transport aead "$GCM" \
			0x2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40b1b2b3b4 96 >/dev/null &&
		"$umigame" sa add src 2001:db8::1 dst 2001:db8::2 spi 0x300 enc "cbc(aes)" \
			0x4142434445464748494a4b4c4d4e4f50 auth "hmac(sha256)" \
			0x6162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80 >/dev/null || exit 1
		"$umigame" esp attach umicyc0 >/dev/null && "$umigame" esp detach umicyc0 || exit 1
		rmmod umigame
	) || { failed="round $round: $out"; break; }
	[ "$round" = $WARMUP ] && slab_after_warmup=$(slab_kb)
done
if [ -z "$failed" ]; then
	tap_ok "$ROUNDS rounds of insmod, 3 SAs, attach, detach, rmmod with SAs present"
else
	tap_fail "$ROUNDS rounds of insmod, 3 SAs, attach, detach, rmmod with SAs present" "$failed"
fi

left=
[ ! -e /sys/module/umigame ] || left+=" /sys/module/umigame"
[ ! -e /sys/kernel/btf/umigame ] || left+=" /sys/kernel/btf/umigame"
[ ! -e "$pins/esp" ] || left+=" $pins/esp"
if [ -z "$left" ]; then
	tap_ok "nothing left behind"
else
	tap_fail "nothing left behind" "$left"
fi

# Leaked SAs would grow the slab by rounds x their size (3 SAs: 3 crypto
# transforms with their child ciphers, 3 x CPUs request areas, several KiB
# a round). Measured without leaks: 1.5-3.5 KiB a round of BPF and crypto
# cache noise, hence a bound of 5 KiB a round: it catches whole SAs left
# behind, not a leak of a few bytes (no kmemleak in Debian's kernel).
grown=$(($(slab_kb) - ${slab_after_warmup:-0}))
limit=$(((ROUNDS - WARMUP) * 5))
if [ -n "${slab_after_warmup:-}" ] && [ "$grown" -lt "$limit" ]; then
	tap_ok "slab grew ${grown} KiB over $((ROUNDS - WARMUP)) rounds (< $limit KiB)"
else
	tap_fail "slab grew less than $limit KiB" "grew ${grown} KiB"
fi

bad=$(kmsg_trouble leak)
if [ -z "$bad" ]; then
	tap_ok "no WARNING/BUG/Oops in the kernel log"
else
	tap_fail "no WARNING/BUG/Oops in the kernel log" "$bad"
fi
tap_finish
