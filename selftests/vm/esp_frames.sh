#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_frames.sh):
# the ESP XDP program and umigame.ko's decrypt kfunc against frames scapy
# built on the host (esp_frames.prepare, selftests/esp/make_frames.py), run
# with BPF_PROG_TEST_RUN. Each frame's verdict, each decrypted frame's bytes
# and the per-reason counters are checked; every truncation of a frame and
# garbage behind a known SPI must never pass changed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
source "$repo/selftests/lib/tap.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=$repo/build/release/tools/umigame/umigame
runner=$repo/build/release/selftests/esp/xdp_run_frames
frames=${UMIGAME_FIXTURES:-}
work=$(mktemp -d)
pins=/sys/fs/bpf/umigame-esp-frames-$$ # bpffs refuses dots in names
export UMIGAME_PIN_DIR=$pins
dev=umiespf0

cleanup() {
	"$umigame" esp detach $dev >/dev/null 2>&1
	ip link del $dev 2>/dev/null
	rm -rf "$pins" "$work"
	rmmod umigame 2>/dev/null
	true
}
trap cleanup EXIT

mapfile -t manifest < <(cat "$frames/manifest" 2>/dev/null)
n_frames=$(printf '%s\n' "${manifest[@]}" | grep -c '^frame ')
tap_plan $((n_frames + 8))
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ "$n_frames" -eq 0 ]; then
	for _ in $(seq $((n_frames + 8))); do
		tap_skip esp_frames "needs root, module support and fixtures (selftests/vm/run.sh)"
	done
	tap_finish
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

rmmod umigame 2>/dev/null
# udev would load the AES-NI and PCLMULQDQ GCM on a CPU that has them; the
# guest has no udev. With them, GCM SAs decrypt through the kernel's SIMD
# GCM, and every frame below checks its bytes.
simd=0
if grep -qw aes /proc/cpuinfo && grep -qw pclmulqdq /proc/cpuinfo &&
	modprobe -q aesni_intel && modprobe -q ghash_clmulni_intel; then
	simd=1
fi
setup_ok=1
setup_log=$(
	exec 2>&1
	insmod "$ko" || exit 1
	for line in "${manifest[@]}"; do
		read -r kind name args <<<"$line"
		[ "$kind" = sa ] || continue
		# shellcheck disable=SC2086 # the manifest's arguments, word-split
		"$umigame" sa add $args >/dev/null || { echo "sa $name: failed"; exit 1; }
	done
	ip link add $dev type veth peer name ${dev}p || exit 1
	"$umigame" esp attach $dev --pass-unknown-spi || exit 1
) || setup_ok=0
if [ $setup_ok = 1 ]; then
	tap_ok "insmod, sa add for every SA, esp attach"
else
	tap_fail "insmod, sa add for every SA, esp attach" "$setup_log"
fi

names=() verdicts=() reasons=() files=()
for line in "${manifest[@]}"; do
	read -r kind name _sa verdict reason <<<"$line"
	[ "$kind" = frame ] || continue
	names+=("$name") verdicts+=("$verdict") reasons+=("$reason")
	files+=("$frames/$name.in")
done

# The module's tracepoints (what `perf record -e 'umigame:*'` sees), on for
# the run.
tracing=/sys/kernel/tracing
mountpoint -q $tracing || mount -t tracefs nodev $tracing 2>/dev/null
echo >$tracing/trace 2>/dev/null
for ev in esp_decrypt_ok esp_auth_fail esp_replay; do
	echo 1 >"$tracing/events/umigame/$ev/enable" 2>/dev/null
done

declare -A got_verdict=()
if out=$("$runner" "$pins/esp/prog" "$work" "${files[@]}" 2>&1); then
	while read -r name retval; do got_verdict[$name]=$retval; done <<<"$out"
else
	tap_diag "runner failed: $out"
fi

declare -A want_reason=()
for i in "${!names[@]}"; do
	name=${names[$i]} verdict=${verdicts[$i]}
	want=$([ "$verdict" = XDP_PASS ] && echo 2 || echo 1)
	got=${got_verdict[$name]:-none}
	what="$name: $verdict (${reasons[$i]})"
	want_reason[${reasons[$i]}]=$((${want_reason[${reasons[$i]}]:-0} + 1))
	if [ "$got" != "$want" ]; then
		tap_fail "$what" "verdict $got, want $want"
	elif [ -f "$frames/$name.out" ] && ! cmp -s "$frames/$name.out" "$work/$name.got"; then
		tap_fail "$what" "decrypted frame differs from scapy's: $(cmp "$frames/$name.out" \
			"$work/$name.got" 2>&1)"
	elif [ "${reasons[$i]}" = unknown_spi_pass ] && ! cmp -s "$frames/$name.in" "$work/$name.got"; then
		tap_fail "$what" "an unknown-SPI frame was passed changed"
	else
		tap_ok "$what"
	fi
done

# The per-reason counters say the same as the verdicts.
stats=$("$umigame" esp stats --json 2>&1)
bad=
for r in "${!want_reason[@]}"; do
	got=$(jq -r ".reasons.$r.packets" <<<"$stats" 2>/dev/null)
	[ "$got" = "${want_reason[$r]}" ] || bad+=" $r=$got(want ${want_reason[$r]})"
done
if [ -z "$bad" ]; then
	tap_ok "esp stats counts every frame under its reason"
else
	tap_fail "esp stats counts every frame under its reason" "$bad"
fi

# Each decrypt, ICV failure and replay fired its tracepoint once.
trace=$(cat $tracing/trace 2>/dev/null)
echo 0 >$tracing/events/umigame/enable 2>/dev/null
bad=
for pair in esp_decrypt_ok:decrypted esp_auth_fail:auth_failed esp_replay:replay; do
	ev=${pair%%:*} reason=${pair#*:}
	n=$(grep -c " $ev:" <<<"$trace")
	[ "$n" = "${want_reason[$reason]:-0}" ] || bad+=" $ev=$n(want ${want_reason[$reason]:-0})"
done
if [ -z "$bad" ]; then
	tap_ok "tracepoints umigame:esp_decrypt_ok/auth_fail/replay fired once per frame"
else
	tap_fail "tracepoints umigame:esp_decrypt_ok/auth_fail/replay fired once per frame" \
		"$bad; $(head -5 <<<"$trace")"
fi

# Every proper prefix of a valid frame of a known SA: dropped, or passed
# untouched to the kernel (too short to be ESP); never an error, never
# passed changed.
trunc_total=0 trunc_bad=
if out=$("$runner" "$pins/esp/prog" --truncate "$frames/truncate.in" 2>&1); then
	while read -r len retval same; do
		trunc_total=$((trunc_total + 1))
		[ "$retval" = 1 ] || { [ "$retval" = 2 ] && [ "$same" = same ]; } ||
			trunc_bad+=" len $len: retval $retval $same;"
	done <<<"$out"
	if [ -z "$trunc_bad" ] && [ $trunc_total -gt 100 ]; then
		tap_ok "all $trunc_total truncations dropped or passed untouched"
	else
		tap_fail "all truncations dropped or passed untouched" "${trunc_bad:-only $trunc_total runs}"
	fi
else
	tap_fail "all truncations dropped or passed untouched" "runner failed: $out"
fi

# SAs are listed without keys.
shown=$("$umigame" sa show --json 2>&1)
keys=$(grep -oiE '0102030405060708090a0b0c0d0e0f10|2122232425262728292a2b2c2d2e2f30|4142434445464748494a4b4c4d4e4f50|6162636465666768696a6b6c6d6e6f70' <<<"$shown")
if [ -n "$shown" ] && [ -z "$keys" ]; then
	tap_ok "sa show --json lists the SAs and no key material"
else
	tap_fail "sa show --json lists the SAs and no key material" "${keys:-empty: $shown}"
fi

# The GCM SAs use the SIMD transform while the FPU is usable, the generic
# synchronous one kept for when it is not; CBC + HMAC has no SIMD AEAD.
drivers=$(jq -c '[.sas[] | {spi_hex, suite, crypto}]' <<<"$shown" 2>&1)
if [ $simd = 0 ]; then
	tap_skip "GCM SAs decrypt with the kernel's SIMD GCM" "this CPU has no AES-NI or PCLMULQDQ"
elif jq -e 'length > 0 and all(.[]; .crypto.driver != "" and
	(if .suite == "aes-gcm" then .crypto.simd_driver | test("^__rfc4106-gcm-") else .crypto.simd_driver == "" end))' \
	<<<"$drivers" >/dev/null 2>&1; then
	tap_ok "GCM SAs decrypt with the kernel's SIMD GCM ($(jq -r '[.[] | select(.suite == "aes-gcm") | .crypto.simd_driver][0]' <<<"$drivers")), the generic transform kept as the fallback, and every frame's bytes checked through it"
else
	tap_fail "GCM SAs decrypt with the kernel's SIMD GCM" "$drivers"
fi

# Detach, then the module unloads with its SAs still in it.
"$umigame" esp detach $dev >/dev/null 2>&1
ip link del $dev 2>/dev/null
tap_check "rmmod with SAs present, after detach" rmmod umigame
if [ ! -e /sys/module/umigame ] && [ ! -e "$pins/esp" ]; then
	tap_ok "nothing left: module gone, pins gone"
else
	tap_fail "nothing left: module gone, pins gone" "$(ls "$pins" 2>&1; ls -d /sys/module/umigame 2>&1)"
fi

tap_finish
