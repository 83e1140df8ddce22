# shellcheck shell=bash
# The kernel log, from a test's own start on (VM tests that load umigame.ko).
#
#   kmsg_mark NAME      write a unique marker line to /dev/kmsg
#   kmsg_since          print the kernel log lines after the marker
#   kmsg_trouble [RE]   print the lines since the marker that show a kernel
#                       problem (WARNING, BUG, Oops, call traces, GPFs,
#                       refcount errors), plus lines matching RE if given

_KMSG_MARKER=

kmsg_mark() {
	_KMSG_MARKER="umigame-selftest: $1 start $$ $EPOCHREALTIME"
	echo "$_KMSG_MARKER" >/dev/kmsg
}

kmsg_since() {
	dmesg | awk -v m="$_KMSG_MARKER" 'found { print } index($0, m) { found = 1 }'
}

kmsg_trouble() {
	local re='WARNING|BUG|Oops|Call Trace|general protection|refcount'
	[ -n "${1:-}" ] && re+="|$1"
	kmsg_since | grep -E "$re" || true
}
