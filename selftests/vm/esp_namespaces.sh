#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_namespaces.sh):
# umigame.ko keeps ESP SAs per network namespace, as xfrm keeps its states.
#
#   txa (xfrm out: SPI 0x100, key A)            a (umigame SA 0x100, key A)
#   lo  2001:db8:1::1                            lo  2001:db8:2::1
#   tx0 2001:db8:ffff::1  <------ veth ------>   a0  2001:db8:ffff::2  XDP umigame_esp
#
#   txb (xfrm out: SPI 0x100, key B)            b (umigame SA 0x100, key B)
#   lo  2001:db8:1::1                            lo  2001:db8:2::1
#   tx0 2001:db8:ffff::1  <------ veth ------>   b0  2001:db8:ffff::2  XDP umigame_esp
#
#   the guest's initial namespace: umigame SA 0x999 only
#
# The two tenants use the same addresses and the same SPI (as two VRFs
# would); each receiver holds its SA in umigame.ko only (no xfrm state), so
# whatever reaches it went through the XDP program and the module's kfunc,
# which must pick the SA of the namespace the packet arrived in. Shows:
# each namespace lists only its own SAs; the same SPI (and the same SA id)
# in two namespaces with different keys; traffic in a decrypted with a's key
# and in b with b's; b's key sent to a fails a's ICV check; tracepoints and
# counters per namespace; `ip netns del` frees that namespace's SAs (debugfs
# umigame/esp_sas, the kernel log) and leaves the other's working; the
# module unloads cleanly afterwards.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/kmsg.sh
source "$repo/selftests/lib/kmsg.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
umigame=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
GCM="rfc4106(gcm(aes))"
KEY_A=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
KEY_B=0xf1f2f3f4f5f6f7f8f9fafbfcfdfeff00b1b2b3b4
KEY_I=0x2122232425262728292a2b2c2d2e2f30c1c2c3c4
sas=/sys/kernel/debug/umigame/esp_sas
tracing=/sys/kernel/tracing
# Each namespace pins its program and maps in its own directory under this
# (the CLI's default would be /sys/fs/bpf/umigame/netns-<inode>).
pins=/sys/fs/bpf/umigame-netns-$$ # bpffs refuses dots in names
plan=21

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || [ ! -x "$umigame" ]; then
	for _ in $(seq $plan); do
		tap_skip esp_namespaces "needs root, module support and the CLI (selftests/vm/run.sh)"
	done
	tap_finish
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
mountpoint -q $tracing || mount -t tracefs tracefs $tracing

# Cleanup hooks run last-registered first: detach, unpin, unload. Expanded
# when they run.
# shellcheck disable=SC2016
on_cleanup 'rmmod umigame 2>/dev/null; true'
on_cleanup 'rm -rf "$pins"; echo 0 >$tracing/events/umigame/enable'
on_cleanup 'in_ns a "$umigame" esp detach a0; in_ns b "$umigame" esp detach b0'

in_ns() { # NS CMD...: in NS's network stack ("" = the initial one), host mounts kept
	local ns=$1
	shift
	if [ -n "$ns" ]; then
		UMIGAME_PIN_DIR=$pins/$ns ns_nsenter "$ns" "$@"
	else
		UMIGAME_PIN_DIR=$pins/init "$@"
	fi
}
sa_json() { in_ns "$1" "$umigame" sa show --json; }
sa_field() { # NS JQ: a field of the namespace's one SA
	sa_json "$1" | jq -r ".sas[0].$2"
}
esp_reason() { # NS REASON
	in_ns "$1" "$umigame" esp stats --json | jq -r ".reasons.$2.packets"
}
inum() { stat -L -c %i "$1"; }
trace_count() { # EVENT NETNS: lines of EVENT from that namespace
	grep -c " $1: netns=$2 " $tracing/trace
}

rmmod umigame 2>/dev/null
kmsg_mark esp_namespaces
tap_check "insmod ${ko##*/}" insmod "$ko"

# 2: the two tenants, each behind its own sender with the kernel's xfrm
tenant_up() { # T: namespaces txT and T, their veth, addresses, routes, txT's SA
	local t=$1 key=KEY_${1^^} n
	ns_create "tx$t" && ns_create "$t" || return 1
	for n in "tx$t" "$t"; do
		ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	veth_pair "tx$t" tx0 "$t" "${t}0" &&
		in_ns "tx$t" ip addr add 2001:db8:ffff::1/64 dev tx0 &&
		in_ns "tx$t" ip addr add 2001:db8:1::1/128 dev lo &&
		in_ns "tx$t" ip route add 2001:db8:2::/64 via 2001:db8:ffff::2 &&
		in_ns "$t" ip addr add 2001:db8:ffff::2/64 dev "${t}0" &&
		in_ns "$t" ip addr add 2001:db8:2::1/128 dev lo &&
		in_ns "$t" ip route add 2001:db8:1::/64 via 2001:db8:ffff::1 &&
		in_ns "tx$t" ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp \
			spi 0x100 reqid 1 mode tunnel aead "$GCM" "${!key}" 128 &&
		in_ns "tx$t" ip xfrm policy add src 2001:db8:1::1/128 dst 2001:db8:2::1/128 dir out \
			tmpl src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp reqid 1 mode tunnel
}
lab_log=$(umi_tmp lab.log)
if tenant_up a 2>>"$lab_log" && tenant_up b 2>>"$lab_log"; then
	tap_ok "two tenants with the same addresses, each with an xfrm sender (key A, key B)"
else
	tap_fail "two tenants with the same addresses, each with an xfrm sender" "$(cat "$lab_log")"
fi
ns_a=$(inum "/run/netns/$(ns_name a)")
ns_b=$(inum "/run/netns/$(ns_name b)")
ns_init=$(inum /proc/self/ns/net)
tap_diag "netns inodes: a $ns_a, b $ns_b, initial $ns_init"

# 3-6: the same SPI and destination in a and b, a duplicate refused within
# a, another SA in the initial namespace
add() { # NS KEY SPI: sa add, prints the id
	in_ns "$1" "$umigame" sa add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 spi "$3" \
		mode tunnel aead "$GCM" "$2" 128 replay-window 64
}
if id_a=$(add a $KEY_A 0x100 2>&1) && [[ $id_a =~ ^[0-9]+$ ]]; then
	tap_ok "a: sa add SPI 0x100 with key A (id $id_a)"
else
	tap_fail "a: sa add SPI 0x100 with key A" "$id_a"
fi
if id_b=$(add b $KEY_B 0x100 2>&1) && [[ $id_b =~ ^[0-9]+$ ]] && [ "$id_b" = "$id_a" ]; then
	tap_ok "b: sa add the same SPI and destination with key B is accepted (id $id_b: ids are per namespace too)"
else
	tap_fail "b: sa add the same SPI and destination with key B" "a's id $id_a; b: $id_b"
fi
if out=$(add a $KEY_B 0x100 2>&1); then
	tap_fail "a: a second SA with SPI 0x100 is refused in the same namespace" "accepted: $out"
elif [[ $out == *"an SA with this SPI, destination and encap port exists"* ]]; then
	tap_ok "a: a second SA with SPI 0x100 is refused in the same namespace"
else
	tap_fail "a: a second SA with SPI 0x100 is refused in the same namespace" "$out"
fi
tap_check "initial namespace: sa add SPI 0x999" add "" $KEY_I 0x999

# 7-9: each namespace lists its own SA, and only it
shows() { # NS WANT_SPI
	local got
	got=$(sa_json "$1" | jq -r '[.sas[] | .spi_hex] | join(" ")' 2>&1)
	if [ "$got" = "$2" ]; then
		tap_ok "${1:-initial namespace}: sa show lists only its own SA ($2)"
	else
		tap_fail "${1:-initial namespace}: sa show lists only its own SA" "want '$2', got '$got'"
	fi
}
shows a 0x00000100
shows b 0x00000100
shows "" 0x00000999

# 10: the module's global view
want="allocated 3
netns $ns_init sas 1
netns $ns_a sas 1
netns $ns_b sas 1"
got=$(sort <"$sas" 2>&1)
if [ "$got" = "$(sort <<<"$want")" ]; then
	tap_ok "debugfs umigame/esp_sas: 3 SAs, one in each namespace"
else
	tap_fail "debugfs umigame/esp_sas: 3 SAs, one in each namespace" "want:
$want
got:
$got"
fi

# 11: the XDP program in each tenant
if out=$(in_ns a "$umigame" esp attach a0 --drop-unknown-spi 2>&1 &&
	in_ns b "$umigame" esp attach b0 --drop-unknown-spi 2>&1) &&
	[ -z "$(in_ns a ip xfrm state)$(in_ns b ip xfrm state)" ]; then
	tap_ok "esp attach in a and b (neither has an xfrm state: decryption can only be ours)"
else
	tap_fail "esp attach in a and b" "$out"
fi

echo >$tracing/trace
for ev in esp_decrypt_ok esp_auth_fail; do echo 1 >$tracing/events/umigame/$ev/enable; done

# 12-13: RFC 4303 §3.4.2: each receiver's kfunc finds the SA of its own
# namespace, so each key decrypts in its own tenant
ping_through() { # T: 5 pings from txT to T's inner address
	in_ns "tx$1" ping -6 -c 5 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:2::1
}
tap_check "a: ping through the tunnel, decrypted in XDP with key A" ping_through a
tap_check "b: ping through the tunnel, decrypted in XDP with key B" ping_through b

# 14: per-namespace counters and tracepoints agree: each SA counted its own
# packets, each decrypt_ok names the namespace it happened in
pk_a=$(sa_field a counters.packets) pk_b=$(sa_field b counters.packets)
tr_a=$(trace_count esp_decrypt_ok "$ns_a") tr_b=$(trace_count esp_decrypt_ok "$ns_b")
dec_a=$(esp_reason a decrypted) dec_b=$(esp_reason b decrypted)
tr_all=$(grep -c ' esp_decrypt_ok: ' $tracing/trace)
if [ "${pk_a:-0}" -ge 5 ] && [ "${pk_b:-0}" -ge 5 ] && [ "$tr_a" = "$pk_a" ] &&
	[ "$tr_b" = "$pk_b" ] && [ "$dec_a" = "$pk_a" ] && [ "$dec_b" = "$pk_b" ] &&
	[ "$tr_all" = $((pk_a + pk_b)) ] && [ "$(sa_field "" counters.packets)" = 0 ]; then
	tap_ok "counters per namespace: a $pk_a, b $pk_b decrypted; esp_decrypt_ok tracepoints name each namespace"
else
	tap_fail "counters per namespace agree with the tracepoints" \
		"SA packets a=$pk_a b=$pk_b; esp stats decrypted a=$dec_a b=$dec_b; tracepoints a=$tr_a b=$tr_b all=$tr_all
$(tail -5 $tracing/trace)"
fi

# 15: key B sent to a: a's SA 0x100 must not verify it (RFC 4303 §3.4.4).
# The sender starts past a's window, so the packets reach the ICV check.
failed_before=$(esp_reason a auth_failed)
failed_since() { [ "$(($(esp_reason a auth_failed) - failed_before))" -ge "$1" ]; }
rekey_log=$(
	exec 2>&1
	in_ns txa ip xfrm state deleteall &&
		in_ns txa ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp \
			spi 0x100 reqid 1 mode tunnel replay-oseq 1000 aead "$GCM" $KEY_B 128
)
if ! out=$(in_ns txa ping -6 -c 3 -i 0.2 -W 1 -I 2001:db8:1::1 2001:db8:2::1 2>&1) &&
	wait_for 5 "a counts 3 ICV failures" failed_since 3 &&
	[ "$(sa_field a counters.auth_failures)" = 3 ] &&
	[ "$(sa_field a counters.packets)" = "$pk_a" ] &&
	[ "$(sa_field b counters.auth_failures)" = 0 ] &&
	[ "$(trace_count esp_auth_fail "$ns_a")" = 3 ] &&
	[ "$(grep -c ' esp_auth_fail: ' $tracing/trace)" = 3 ]; then
	tap_ok "key B sent to a: 3 ICV failures on a's SA (auth_failed, esp_auth_fail in a's netns), none delivered"
else
	tap_fail "key B sent to a fails a's ICV check" \
		"$rekey_log; ping: ${out##*---}
a: $(sa_json a | jq -c '.sas[0].counters'); b: $(sa_json b | jq -c '.sas[0].counters')
$(grep esp_auth_fail $tracing/trace | tail -3)"
fi

# 16-17: ip netns del frees the namespace's SAs (the XDP program was still
# attached there): gone from debugfs after the namespace's exit and a grace
# period, the module says so
ip netns del "$(ns_name a)"
ip netns del "$(ns_name txa)"
a_freed() {
	local s
	s=$(<"$sas")
	[[ $s == *"allocated 2"* && $s != *"netns $ns_a "* ]]
}
if wait_for 30 "a's SA freed" a_freed; then
	tap_ok "ip netns del a: a's SA freed (debugfs: allocated 2, no table for $ns_a)"
else
	tap_fail "ip netns del a: a's SA freed" "$(cat $sas)"
fi
if [[ $(kmsg_since) == *"umigame: esp: freed 1 SAs of netns $ns_a"* ]]; then
	tap_ok "kernel log: esp: freed 1 SAs of netns $ns_a"
else
	tap_fail "kernel log: esp: freed 1 SAs of netns $ns_a" "$(kmsg_since | tail -5)"
fi

# 18: b goes on with its own SA
if ping_through b >/dev/null && [ "$(sa_field b counters.packets)" -ge $((pk_b + 5)) ]; then
	tap_ok "b still decrypts with its SA after a is gone"
else
	tap_fail "b still decrypts with its SA after a is gone" "$(sa_json b)"
fi

# 19: b goes too; the initial namespace's SA stays
ip netns del "$(ns_name b)"
ip netns del "$(ns_name txb)"
only_init() { [ "$(<"$sas")" = "allocated 1
netns $ns_init sas 1" ]; }
if wait_for 30 "only the initial namespace's SA left" only_init; then
	tap_ok "ip netns del b: only the initial namespace's SA is left"
else
	tap_fail "ip netns del b: only the initial namespace's SA is left" "$(cat $sas)"
fi

# 20: unload. The namespaces' pinned programs outlived their devices and
# hold the module through the kfunc until unpinned; their last reference
# goes after a grace period.
rm -rf "$pins"
if wait_for 10 "rmmod umigame succeeds" rmmod umigame && [ ! -e /sys/kernel/debug/umigame ]; then
	tap_ok "rmmod with the initial namespace's SA present; debugfs umigame/ gone"
else
	tap_fail "rmmod after the namespaces are gone" "$(ls /sys/module/umigame /sys/kernel/debug/umigame 2>&1)"
fi

# 21: the kernel log
log=$(kmsg_since)
bad=$(kmsg_trouble leak)
if [ -z "$bad" ] && [[ $log == *"umigame: esp: freed 1 SAs of netns $ns_init"* ]] &&
	[[ $log == *"umigame: version "*" unloaded"* ]]; then
	tap_ok "kernel log: the initial namespace's SA freed at unload, no WARNING/BUG/Oops/leak"
else
	tap_fail "kernel log: clean unload" "${bad:+trouble: $bad
}$log"
fi

tap_finish
