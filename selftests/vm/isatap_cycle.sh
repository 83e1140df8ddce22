#!/usr/bin/env bash
# vm-timeout: 600 (more than the default 300 s: 50 rounds take ~170 s under TCG on a quiet machine)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh isatap_cycle.sh):
# umigame.ko loaded and unloaded 50 times with ISATAP links and PIM Register
# MIFs in place, as issue 18 asks.
#
#   the guest's initial namespace        namespace "a" (new each round)
#   isa0 umigame-isatap                   isa0 umigame-isatap
#     address 192.0.2.10, up                address 192.0.2.10, up
#     PRL 192.0.2.1 (soliciting)            PRL 192.0.2.1 (soliciting)
#   preg0 umigame-pimreg, up, with an RP
#     MIF 1 of ip6mr (pim_lab.py mifs holds
#     the mroute socket through all rounds)
#
# Each round: insmod, a link in each namespace with a PRL (so the
# solicitation work runs, sending RSs into nowhere), preg0 made a MIF, then
# every other round `ip netns del a` first (its link leaves with the
# namespace) and rmmod with the initial namespace's links still there, else
# rmmod with all in place. Shows: every step of every round succeeds;
# afterwards no link, no MIF, no module, no debugfs directory; a kernel log
# without WARNING/BUG/Oops/leak.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/kmsg.sh
source "$repo/selftests/lib/kmsg.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
lab=(/usr/bin/python3 "$here/pim_lab.py")
rounds=50
plan=3

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ]; then
	for _ in $(seq $plan); do
		tap_skip isatap_cycle "needs root and module support (selftests/vm/run.sh)"
	done
	tap_finish
fi

on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
kmsg_mark isatap_cycle

links() { # NS-OPTION...: make isa0 with a PRL where ip/the tool run
	ip "$@" link add isa0 address 192.0.2.10 type umigame-isatap &&
		ip "$@" link set isa0 up
}

# One mroute socket for every round: its MIF 1 is preg0 of the round.
mifs=$(umi_tmp mifs) && mkdir -p "$mifs"
bg_start "" mifs "${lab[@]}" mifs "$mifs"
wait_for 30 "the mroute socket" test -e "$mifs/ready" || umi_die "pim_lab.py mifs: $(tail -3 "$(bg_log mifs)")"
mif() { # preg0 with an RP, made MIF 1
	rm -f "$mifs/added" "$mifs/failed"
	ip link add preg0 type umigame-pimreg && ip link set preg0 up &&
		"$umigame" pim rp add preg0 ff0e::/16 2001:db8::1 && echo preg0 >"$mifs/add" &&
		wait_for 10 "preg0 becomes MIF 1" sh -c "[ -e $mifs/added ] || [ -e $mifs/failed ]" &&
		[ -e "$mifs/added" ] && grep -q preg0 /proc/net/ip6_mr_vif
}

# 1: the rounds
failed=''
for ((i = 1; i <= rounds; i++)); do
	ns=$(ns_name "a$i")
	if ! out=$(insmod "$ko" 2>&1); then
		failed="round $i: insmod: $out"
		break
	fi
	ip netns add "$ns"
	if ! out=$( { links && "$umigame" isatap prl isa0 192.0.2.1 &&
		links -n "$ns" && ip netns exec "$ns" "$umigame" isatap prl isa0 192.0.2.1 && mif; } 2>&1); then
		failed="round $i: links: $out"
		break
	fi
	((i % 2)) && ip netns del "$ns"
	if ! out=$(rmmod umigame 2>&1); then
		failed="round $i: rmmod: $out"
		break
	fi
	ip netns del "$ns" 2>/dev/null
done
if [ -z "$failed" ]; then
	tap_ok "$rounds rounds of insmod, ISATAP links in two namespaces and a PIM Register MIF, rmmod with them in place"
else
	tap_fail "$rounds rounds of insmod, links, rmmod" "$failed"
fi

# 2: nothing left
if ! ip link show isa0 >/dev/null 2>&1 && ! ip link show preg0 >/dev/null 2>&1 &&
	! grep -q preg0 /proc/net/ip6_mr_vif && [ ! -e /sys/module/umigame ] &&
	[ ! -e /sys/kernel/debug/umigame ]; then
	tap_ok "afterwards: no isa0, no preg0 and no MIF of it, no module, no debugfs umigame/"
else
	tap_fail "nothing left" "$(ip link show isa0 2>&1; ip link show preg0 2>&1; cat /proc/net/ip6_mr_vif; ls -d /sys/module/umigame 2>&1)"
fi

# 3: the kernel log
bad=$(kmsg_trouble leak)
n=$(kmsg_since | grep -c "umigame: version .* unloaded")
if [ -z "$bad" ] && [ "$n" -eq $rounds ]; then
	tap_ok "kernel log: $rounds unloads, no WARNING/BUG/Oops/leak"
else
	tap_fail "kernel log" "unloads: $n
${bad:+trouble: $bad}"
fi

tap_finish
