#!/bin/busybox sh
# /init of the vm-run initramfs (tools/vm/vm-run builds it and caches it in
# build/vm/). Loads the 9p modules, mounts the host's root read-only and the
# run's writable share, sets up the guest's own /proc, /sys, /dev, /run and
# /tmp, then switch_roots to the guest script that the host put in the share.
# Anything that goes wrong powers the guest off: the host sees no exit status
# and reports a boot failure with the end of the console log.

bb=/bin/busybox
r=/newroot
vm=/run/umigame-vm
p9="trans=virtio,version=9p2000.L,msize=262144"

die() {
	echo "vm-init: $*" >&2
	$bb poweroff -f
	exit 1
}

$bb mount -t proc proc /proc
$bb mount -t devtmpfs devtmpfs /dev

while read -r m; do
	$bb insmod "/modules/$m.ko" || die "insmod $m failed"
done </modules/order

$bb mount -t 9p -o "$p9,cache=loose,ro" root $r || die "cannot mount the host's root"

# The guest's own pseudo file systems.
$bb mount -t proc proc $r/proc
$bb mount -t sysfs sysfs $r/sys
$bb mount -t devtmpfs devtmpfs $r/dev
$bb mkdir -p $r/dev/pts $r/dev/shm
$bb ln -s /proc/self/fd $r/dev/fd
$bb ln -s /proc/self/fd/0 $r/dev/stdin
$bb ln -s /proc/self/fd/1 $r/dev/stdout
$bb ln -s /proc/self/fd/2 $r/dev/stderr
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $r/dev/pts
$bb mount -t tmpfs -o mode=1777 shm $r/dev/shm
$bb mount -t bpf -o mode=700 bpf $r/sys/fs/bpf
$bb mount -t debugfs debugfs $r/sys/kernel/debug
$bb mount -t tracefs tracefs $r/sys/kernel/tracing
$bb mount -t cgroup2 cgroup2 $r/sys/fs/cgroup

# Writable places: /run holds the results share; it must be mounted before
# the share, never over it.
$bb mount -t tmpfs -o mode=755 run $r/run
$bb mkdir -p $r$vm
$bb mount -t 9p -o "$p9" share $r$vm || die "cannot mount the results share"

# /tmp and /var/tmp are the guest's own tmpfs. Host paths under them that
# the run needs (the command's working directory and any --ro path, listed
# in the share's "keep" file) are carried over, read-only like the rest of
# the host, one top-level subtree each, before the tmpfs hides them.
for t in /tmp /var/tmp; do
	subs=
	while read -r path; do
		case "$path/" in
		"$t"/?*/*) ;;
		*) continue ;;
		esac
		sub=${path#"$t"/}
		sub=${sub%%/*}
		case " $subs " in *" $sub "*) continue ;; esac
		if [ -d "$r$t/$sub" ]; then
			$bb mkdir -p "/keep$t/$sub"
		elif [ -e "$r$t/$sub" ]; then
			$bb mkdir -p "/keep$t" && : >"/keep$t/$sub"
		else
			continue
		fi
		$bb mount --bind "$r$t/$sub" "/keep$t/$sub"
		subs="$subs $sub"
	done <$r$vm/keep
	$bb mount -t tmpfs -o mode=1777 tmp $r$t
	for sub in $subs; do
		if [ -d "/keep$t/$sub" ]; then
			$bb mkdir -p "$r$t/$sub"
		else
			: >"$r$t/$sub"
		fi
		$bb mount --move "/keep$t/$sub" "$r$t/$sub"
	done
done

$bb hostname umigame-vm
$bb ip link set lo up

$bb umount /dev /proc
exec $bb switch_root $r /bin/bash $vm/guest-run.sh
