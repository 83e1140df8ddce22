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

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
mod=umigame

# What the binary must say comes from the source, so a stale build fails.
want_version=$(sed -n 's/^#define UMIGAME_VERSION "\(.*\)"$/\1/p' "$repo/kmod/umigame.h")
want_desc=$(sed -n 's/^MODULE_DESCRIPTION("\(.*\)");$/\1/p' "$repo/kmod/umigame_main.c")

tap_plan 11

if [ ! -e /proc/modules ] || [ "$(id -u)" -ne 0 ]; then
	for _ in $(seq 11); do
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
marker="umigame-selftest: module_load start $$ $(date +%s%N)"
echo "$marker" >/dev/kmsg
dmesg_since() {
	dmesg | awk -v m="$marker" 'found { print } index($0, m) { found = 1 }'
}

# eq NAME WANT GOT: one point from comparing two strings.
eq() {
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "want '$2', got '$3'"
	fi
}

loaded=0
if [ ! -f "$ko" ]; then
	tap_fail "insmod $ko" "no such file: build it with 'make kmod'"
elif out=$(insmod "$ko" 2>&1); then
	tap_ok "insmod $(basename "$ko")"
	loaded=1
else
	tap_fail "insmod $(basename "$ko")" "$out"
fi

field() { modinfo -F "$1" "$ko" 2>/dev/null || true; }
eq "modinfo version is $want_version" "$want_version" "$(field version)"
eq "modinfo license is GPL" "GPL" "$(field license)"
eq "modinfo description matches kmod/umigame_main.c" "$want_desc" "$(field description)"

if [ $loaded -eq 1 ]; then
	state=$(cat /sys/module/$mod/initstate 2>/dev/null || echo missing)
	version=$(cat /sys/module/$mod/version 2>/dev/null || echo missing)
	eq "/sys/module/$mod is live at version $want_version" \
		"live $want_version" "$state $version"

	if [ ! -e /sys/kernel/btf/$mod ]; then
		tap_fail "/sys/kernel/btf/$mod exists (module BTF loaded)" \
			"no /sys/kernel/btf/$mod: the .ko has no usable .BTF; $(dmesg_since | grep -i btf || true)"
	elif btf=$(bpftool btf dump file /sys/kernel/btf/$mod 2>&1) &&
		grep -q "FUNC '${mod}_mod_init'" <<<"$btf"; then
		tap_ok "/sys/kernel/btf/$mod exists (module BTF loaded)"
	else
		tap_fail "/sys/kernel/btf/$mod exists (module BTF loaded)" \
			"bpftool does not show ${mod}_mod_init in it: $(head -5 <<<"$btf")"
	fi

	tap_check "load message in the kernel log" \
		grep -q "$mod: version $want_version loaded" <<<"$(dmesg_since)"
	tap_check "rmmod $mod" rmmod $mod
else
	for what in "/sys/module/$mod is live" "/sys/kernel/btf/$mod exists" \
		"load message in the kernel log" "rmmod $mod"; do
		tap_skip "$what" "insmod failed"
	done
fi

left=
[ ! -e /sys/module/$mod ] || left+=" /sys/module/$mod"
[ ! -e /sys/kernel/btf/$mod ] || left+=" /sys/kernel/btf/$mod"
! grep -q "^$mod " /proc/modules || left+=" /proc/modules entry"
eq "nothing left after unload" "" "${left# }"

if [ $loaded -eq 1 ]; then
	tap_check "unload message in the kernel log" \
		grep -q "$mod: version $want_version unloaded" <<<"$(dmesg_since)"
else
	tap_skip "unload message in the kernel log" "insmod failed"
fi

bad=$(dmesg_since | grep -E 'WARNING|BUG|Oops|Call Trace|general protection' || true)
if [ -z "$bad" ]; then
	tap_ok "no WARNING/BUG/Oops in the kernel log since the start"
else
	tap_fail "no WARNING/BUG/Oops in the kernel log since the start" "$bad"
fi

tap_finish
