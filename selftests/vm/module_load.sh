#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh boots one with
# tools/vm/vm-run): load the built umigame.ko, check what the kernel and
# modinfo say about it, unload it, and check that nothing is left behind.
#
#   UMIGAME_KO=path   the module to test (default: build/kmod/umigame.ko)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$repo/selftests/lib/tap.sh"
# shellcheck source=../lib/kmsg.sh
. "$repo/selftests/lib/kmsg.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
mod=umigame

# What the binary must say comes from the source, so a stale build fails.
# (Few external commands: each one is a slow exec over 9p in the TCG guest.)
want_version='' want_desc=''
re_version='^#define UMIGAME_VERSION "(.*)"$'
re_desc='^MODULE_DESCRIPTION\("(.*)"\);$'
while IFS= read -r line; do
	[[ $line =~ $re_version ]] && want_version=${BASH_REMATCH[1]}
done <"$repo/kmod/umigame.h"
while IFS= read -r line; do
	[[ $line =~ $re_desc ]] && want_desc=${BASH_REMATCH[1]}
done <"$repo/kmod/umigame_main.c"

tap_plan 11

if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ]; then
	for _ in {1..11}; do
		tap_skip "module_load" "needs root and a kernel with module support (run selftests/vm/run.sh)"
	done
	tap_finish
fi

# A leftover from an earlier run would make every check meaningless.
if [ -d /sys/module/$mod ]; then
	tap_diag "$mod was already loaded; unloading it first"
	rmmod $mod || true
fi

# Mark the kernel log: the checks below only look at what follows.
kmsg_mark module_load

# eq NAME WANT GOT: one point from comparing two strings.
eq() {
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "want '$2', got '$3'"
	fi
}

# has NAME TEXT PATTERN: one point from a fixed string found in TEXT.
has() {
	if [[ $2 == *"$3"* ]]; then
		tap_ok "$1"
	else
		tap_fail "$1" "no '$3' in: $2"
	fi
}

read_file() { # FILE: its first line, or "missing"
	local v=missing
	[ -r "$1" ] && read -r v <"$1"
	echo "$v"
}

loaded=0
if [ ! -f "$ko" ]; then
	tap_fail "insmod $ko" "no such file: build it with 'make kmod'"
elif out=$(insmod "$ko" 2>&1); then
	tap_ok "insmod ${ko##*/}"
	loaded=1
else
	tap_fail "insmod ${ko##*/}" "$out"
fi

declare -A info=()
while IFS= read -r line; do
	[[ $line =~ ^([a-z_]+):[[:space:]]*(.*)$ ]] || continue
	info[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done < <(modinfo "$ko" 2>/dev/null || true)
eq "modinfo version is $want_version" "$want_version" "${info[version]:-}"
eq "modinfo license is GPL" "GPL" "${info[license]:-}"
eq "modinfo description matches kmod/umigame_main.c" "$want_desc" "${info[description]:-}"

if [ $loaded -eq 1 ]; then
	eq "/sys/module/$mod is live at version $want_version" "live $want_version" \
		"$(read_file /sys/module/$mod/initstate) $(read_file /sys/module/$mod/version)"

	btf_name="/sys/kernel/btf/$mod exists (module BTF loaded)"
	if [ ! -e /sys/kernel/btf/$mod ]; then
		tap_fail "$btf_name" "no /sys/kernel/btf/$mod: the .ko has no usable .BTF"
	elif btf=$(bpftool btf dump file /sys/kernel/btf/$mod 2>&1) &&
		[[ $btf == *"FUNC '${mod}_mod_init'"* ]]; then
		tap_ok "$btf_name"
	else
		tap_fail "$btf_name" "bpftool does not show ${mod}_mod_init in it: ${btf:0:300}"
	fi

	tap_check "rmmod $mod" rmmod $mod
else
	for what in "/sys/module/$mod is live" "/sys/kernel/btf/$mod exists" "rmmod $mod"; do
		tap_skip "$what" "insmod failed"
	done
fi

left=
[ ! -e /sys/module/$mod ] || left+=" /sys/module/$mod"
[ ! -e /sys/kernel/btf/$mod ] || left+=" /sys/kernel/btf/$mod"
[[ $(</proc/modules) != *"$mod "* ]] || left+=" /proc/modules entry"
eq "nothing left after unload" "" "${left# }"

log=$(kmsg_since)
if [ $loaded -eq 1 ]; then
	has "load message in the kernel log" "$log" "$mod: version $want_version loaded"
	has "unload message in the kernel log" "$log" "$mod: version $want_version unloaded"
else
	tap_skip "load message in the kernel log" "insmod failed"
	tap_skip "unload message in the kernel log" "insmod failed"
fi

bad=$(kmsg_trouble)
if [ -z "$bad" ]; then
	tap_ok "no WARNING/BUG/Oops in the kernel log since the start"
else
	tap_fail "no WARNING/BUG/Oops in the kernel log since the start" "$bad"
fi

tap_finish
