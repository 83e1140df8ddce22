#!/bin/bash
# Guest side of tools/vm/vm-run. The host copies this script into the run's
# writable share; the guest runs it from there:
#   - with our initramfs: as PID 1 right after switch_root (no argument);
#     it runs the command, records its exit status in the share and powers
#     the guest off;
#   - under vng (`guest-run.sh --vng DIR`): as vng's --exec command, with
#     the share visible at DIR; it runs the command with vng's stdio and
#     exits with its status, which vng relays.
# The share holds: cwd (the host's working directory), env.sh (exports),
# cmd.sh (the command), and receives stdout, stderr, status; out/ is free
# for the command's own results ($UMIGAME_VM_OUT).

mode=init
vm=/run/umigame-vm
if [ "${1:-}" = --vng ]; then
	mode=vng
	vm=$2
fi

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TERM=dumb
export UMIGAME_VM=1 UMIGAME_VM_OUT=$vm/out

if [ "$mode" = vng ]; then
	# vng mounts most of this already; make the guest look like ours.
	mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=700 bpf /sys/fs/bpf
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
fi

# shellcheck source=/dev/null
. "$vm/env.sh"

run() {
	local cwd
	cwd=$(<"$vm/cwd")
	if ! cd "$cwd"; then
		echo "vm-run (guest): cannot cd to $cwd" >&2
		return 125
	fi
	/bin/bash "$vm/cmd.sh"
}

if [ "$mode" = vng ]; then
	run
	exit $?
fi

: >"$vm/started"
run </dev/null >"$vm/stdout" 2>"$vm/stderr"
status=$?
echo "$status" >"$vm/status.tmp" && mv "$vm/status.tmp" "$vm/status"
sync
# PID 1 must not exit (that panics); power off instead. busybox-static is
# on the host; the sysrq fallback also ends QEMU (-no-reboot, panic=-1).
/bin/busybox poweroff -f
echo o >/proc/sysrq-trigger
sleep 30
