#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh xfrm_lib.sh): the
# kernel's own IPsec driven by libumigame-ipsec (userspace/ipsec, xfrm.h)
# through selftests/ipsec/xfrm_probe. Every SA and policy here is installed
# by the library; iproute2 only reads the result back.
#
#   a                                            b
#   lo  10.1.0.1 .3 .4 .5                        lo  10.2.0.1 .3 .4 .5
#   a0  192.0.2.1  2001:db8:ffff::1  <--veth-->  b0  192.0.2.2  2001:db8:ffff::2
#
# SPIs: 0x1001/0x1002 GCM-128 ESN IPv4 tunnel; 0x2001/0x2002 CBC+HMAC-SHA256
# transport over IPv6 (echo only); 0x3001/0x3002 ESP in UDP/4500; the SPI
# alloc_spi picks, with 0x4002 back; 0x5001 a lifetime of 1 s soft, 2 s hard.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
PROBE=${XFRM_PROBE:-$repo/build/release/selftests/ipsec/xfrm_probe}
PLAN=17

umi_require ip ping
if [ ! -x "$PROBE" ]; then
	echo "1..0 # SKIP $PROBE not built (cmake --build build/release --target xfrm_probe)"
	exit 4
fi
if ! modprobe -q xfrm_user 2>/dev/null || ! modprobe -q esp4 2>/dev/null ||
	! modprobe -q esp6 2>/dev/null; then
	echo "1..0 # SKIP no ESP in this kernel (run it in the guest: selftests/vm/run.sh xfrm_lib.sh)"
	exit 4
fi
tap_plan $PLAN

GCM="rfc4106(gcm(aes))"
KEY128=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4 # AES-128 key || 4-byte salt
KEY_AB=0x1112131415161718191a1b1c1d1e1f20b1b2b3b4
ENC=0x303132333435363738393a3b3c3d3e3f
AUTH=0x404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f

a() { ns_nsenter a "$@"; }
b() { ns_nsenter b "$@"; }
probe() { local ns=$1; shift; ns_nsenter "$ns" "$PROBE" "$@"; }

ns_create a
ns_create b
for n in a b; do
	ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
veth_pair a a0 b b0
a ip addr add 192.0.2.1/24 dev a0
b ip addr add 192.0.2.2/24 dev b0
a ip addr add 2001:db8:ffff::1/64 dev a0
b ip addr add 2001:db8:ffff::2/64 dev b0
for i in 1 3 4 5; do
	a ip addr add 10.1.0.$i/32 dev lo
	b ip addr add 10.2.0.$i/32 dev lo
done
a ip route add 10.2.0.0/24 via 192.0.2.2
b ip route add 10.1.0.0/24 via 192.0.2.1

# `ip -s xfrm state`'s packet counter of one SA in NS ("" when absent).
ip_packets() { # NS SRC DST SPI
	ns_nsenter "$1" ip -s xfrm state get src "$2" dst "$3" proto esp spi "$4" 2>/dev/null |
		grep -oE '[0-9]+\(packets\)' | head -1 | tr -dc 0-9
}
# The library's GETSA reply for the same SA: "packets N bytes N oseq N seq N ...".
lib_stat() { # NS DST SPI FIELD
	probe "$1" sa stats dst "$2" spi "$3" | awk -v f="$4" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'
}

# tunnel SPI_AB SPI_BA OUTER_A OUTER_B INNER_A INNER_B REQID SA_ARGS...: both
# SAs on both sides, out and in policies on both sides (RFC 4301 §4.4.1: an
# in policy, or the kernel drops what it decapsulated).
tunnel() {
	local ab=$1 ba=$2 oa=$3 ob=$4 ia=$5 ib=$6 reqid=$7 ns
	shift 7
	for ns in a b; do
		probe $ns sa add src "$oa" dst "$ob" spi "$ab" reqid "$reqid" mode tunnel "$@" || return 1
		probe $ns sa add src "$ob" dst "$oa" spi "$ba" reqid "$reqid" mode tunnel "$@" || return 1
	done
	probe a policy add sel "$ia" "$ib" dir out tmpl "$oa" "$ob" esp tunnel "$reqid" &&
		probe a policy add sel "$ib" "$ia" dir in tmpl "$ob" "$oa" esp tunnel "$reqid" &&
		probe b policy add sel "$ib" "$ia" dir out tmpl "$ob" "$oa" esp tunnel "$reqid" &&
		probe b policy add sel "$ia" "$ib" dir in tmpl "$oa" "$ob" esp tunnel "$reqid"
}

# ---- AES-GCM-128 with ESN, IPv4 tunnel (RFC 4106, RFC 4303 §2.2.1) -------
if out=$(tunnel 0x1001 0x1002 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 1 \
	aead "$GCM" $KEY128 128 esn replay-window 4096 2>&1); then
	tap_ok "GCM-128 ESN tunnel: SAs and policies installed by the library on both sides"
else
	tap_fail "GCM-128 ESN tunnel: SAs and policies installed by the library on both sides" "$out"
fi
if out=$(a ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 2>&1); then
	tap_ok "GCM-128 ESN tunnel: ping 10.1.0.1 -> 10.2.0.1"
else
	tap_fail "GCM-128 ESN tunnel: ping 10.1.0.1 -> 10.2.0.1" "$out"
fi
state=$(a ip -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 2>&1)
sent=$(ip_packets a 192.0.2.1 192.0.2.2 0x1001)
recv=$(ip_packets b 192.0.2.1 192.0.2.2 0x1001)
lib_sent=$(lib_stat a 192.0.2.2 0x1001 packets)
oseq=$(lib_stat a 192.0.2.2 0x1001 oseq)
# The kernel took our ESN_VAL: flag esn and a 4096-packet window.
if [ "${sent:-0}" -ge 3 ] && [ "${recv:-0}" -ge 3 ] && [ "$lib_sent" = "$sent" ] &&
	[ "${oseq:-0}" -ge 3 ] && grep -q 'flag.*esn' <<<"$state" && grep -q 'replay_window 4096' <<<"$state"; then
	tap_ok "GCM-128 ESN tunnel: ip -s xfrm state counts $sent out on a, $recv in on b; the library's GETSA agrees (oseq $oseq)"
else
	tap_fail "GCM-128 ESN tunnel: counters moved" \
		"a out $sent, b in $recv, library $lib_sent, oseq $oseq; $state"
fi

# ---- AES-CBC + HMAC-SHA-256-128 transport over IPv6 (RFC 3602, RFC 4868) -
# Only echo request (ICMPv6 type 128) a->b and reply (129) b->a: neighbour
# discovery stays in the clear. Selector ports of ICMP are type and code.
transport6() {
	local ns
	for ns in a b; do
		probe $ns sa add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 spi 0x2001 reqid 2 mode transport \
			enc "cbc(aes)" $ENC auth "hmac(sha256)" $AUTH 128 || return 1
		probe $ns sa add src 2001:db8:ffff::2 dst 2001:db8:ffff::1 spi 0x2002 reqid 2 mode transport \
			enc "cbc(aes)" $ENC auth "hmac(sha256)" $AUTH 128 || return 1
	done
	local req="2001:db8:ffff::1/128 2001:db8:ffff::2/128 58 128" rep="2001:db8:ffff::2/128 2001:db8:ffff::1/128 58 129"
	# shellcheck disable=SC2086 # selectors are word lists
	probe a policy add sel $req dir out tmpl - - esp transport 2 &&
		probe a policy add sel $rep dir in tmpl - - esp transport 2 &&
		probe b policy add sel $rep dir out tmpl - - esp transport 2 &&
		probe b policy add sel $req dir in tmpl - - esp transport 2
}
if out=$(transport6 2>&1) && out=$(a ping -6 -c 3 -i 0.2 -W 2 2001:db8:ffff::2 2>&1); then
	tap_ok "CBC+HMAC-SHA256-128 transport over IPv6: ping"
else
	tap_fail "CBC+HMAC-SHA256-128 transport over IPv6: ping" "$out"
fi
state=$(b ip -s xfrm state get src 2001:db8:ffff::1 dst 2001:db8:ffff::2 proto esp spi 0x2001 2>&1)
recv=$(ip_packets b 2001:db8:ffff::1 2001:db8:ffff::2 0x2001)
back=$(ip_packets a 2001:db8:ffff::2 2001:db8:ffff::1 0x2002)
if [ "${recv:-0}" -ge 3 ] && [ "${back:-0}" -ge 3 ] && grep -q 'mode transport' <<<"$state" &&
	grep -q 'auth-trunc hmac(sha256) .* 128' <<<"$state" && grep -q 'enc cbc(aes)' <<<"$state"; then
	tap_ok "CBC+HMAC-SHA256-128 transport: $recv requests in on b, $back replies in on a, auth-trunc 128"
else
	tap_fail "CBC+HMAC-SHA256-128 transport: counters moved" "b in $recv, a in $back; $state"
fi

# ---- ESP in UDP/4500 (RFC 3948) ------------------------------------------
# The receiver decapsulates only on a UDP_ENCAP socket, as an IKE daemon holds.
bg_start a encap "$PROBE" encap-socket 4500 300
bg_start b encap "$PROBE" encap-socket 4500 300
enc_ready() { grep -q ready "$(bg_log encap)"; }
wait_for 10 "UDP_ENCAP sockets" enc_ready
if out=$(tunnel 0x3001 0x3002 192.0.2.1 192.0.2.2 10.1.0.3/32 10.2.0.3/32 3 \
	aead "$GCM" $KEY_AB 128 encap 4500 4500 2>&1) &&
	out=$(a ping -c 3 -i 0.2 -W 2 -I 10.1.0.3 10.2.0.3 2>&1); then
	tap_ok "ESP in UDP/4500: ping through the encapsulated tunnel"
else
	tap_fail "ESP in UDP/4500: ping through the encapsulated tunnel" "$out"
fi
state=$(b ip -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x3001 2>&1)
recv=$(ip_packets b 192.0.2.1 192.0.2.2 0x3001)
if [ "${recv:-0}" -ge 3 ] && grep -q 'encap type espinudp sport 4500 dport 4500' <<<"$state"; then
	tap_ok "ESP in UDP/4500: b decapsulated $recv packets (encap espinudp 4500 4500)"
else
	tap_fail "ESP in UDP/4500: b decapsulated" "b in $recv; $state"
fi

# ---- alloc_spi, then update_sa (RFC 7296 §2.17: the responder's SPI first) -
spi=$(probe b spi src 192.0.2.1 dst 192.0.2.2 reqid 4 0x4000 0x4fff 2>&1)
larval=$(b ip xfrm state list spi "$spi" 2>&1)
if [[ $spi =~ ^0x00004[0-9a-f]{3}$ ]] && [ "$(probe b sa stats dst 192.0.2.2 spi "$spi")" != absent ] &&
	grep -q "spi $spi" <<<"$larval" && ! grep -q aead <<<"$larval"; then
	tap_ok "alloc_spi: larval SA $spi in [0x4000, 0x4fff], no keys yet"
else
	tap_fail "alloc_spi: a larval SA in [0x4000, 0x4fff]" "spi '$spi'; $larval"
fi
complete() {
	probe b sa update src 192.0.2.1 dst 192.0.2.2 spi "$spi" reqid 4 mode tunnel aead "$GCM" $KEY_AB 128 &&
		probe a sa add src 192.0.2.1 dst 192.0.2.2 spi "$spi" reqid 4 mode tunnel aead "$GCM" $KEY_AB 128 &&
		probe a sa add src 192.0.2.2 dst 192.0.2.1 spi 0x4002 reqid 4 mode tunnel aead "$GCM" $KEY_AB 128 &&
		probe b sa add src 192.0.2.2 dst 192.0.2.1 spi 0x4002 reqid 4 mode tunnel aead "$GCM" $KEY_AB 128 &&
		probe a policy add sel 10.1.0.4/32 10.2.0.4/32 dir out tmpl 192.0.2.1 192.0.2.2 esp tunnel 4 &&
		probe a policy add sel 10.2.0.4/32 10.1.0.4/32 dir in tmpl 192.0.2.2 192.0.2.1 esp tunnel 4 &&
		probe b policy add sel 10.2.0.4/32 10.1.0.4/32 dir out tmpl 192.0.2.2 192.0.2.1 esp tunnel 4 &&
		probe b policy add sel 10.1.0.4/32 10.2.0.4/32 dir in tmpl 192.0.2.1 192.0.2.2 esp tunnel 4
}
if out=$(complete 2>&1) && out=$(a ping -c 3 -i 0.2 -W 2 -I 10.1.0.4 10.2.0.4 2>&1) &&
	[ "$(ip_packets b 192.0.2.1 192.0.2.2 "$spi")" -ge 3 ]; then
	tap_ok "update_sa completes the larval SA $spi: ping over it, b counts it"
else
	tap_fail "update_sa completes the larval SA $spi" "$out; $(b ip -s xfrm state list spi "$spi")"
fi

# ---- a trap policy raises ACQUIRE (RFC 4301 §4.4.1: no SA yet) -----------
bg_start a acquire "$PROBE" monitor 30 1 acquire
mon_ready() { grep -q ready "$(bg_log "$1")"; }
wait_for 10 "the ACQUIRE monitor" mon_ready acquire
probe a policy add sel 10.1.0.5/32 10.2.0.5/32 dir out tmpl 192.0.2.1 192.0.2.2 esp tunnel 5
a ping -c 1 -W 1 -I 10.1.0.5 10.2.0.5 >/dev/null 2>&1 # no SA: it cannot pass, it only triggers
acquired() { grep -q '^acquire' "$(bg_log acquire)"; }
if wait_for 10 "an ACQUIRE event" acquired &&
	grep -q '^acquire dir out .* src 192.0.2.1 dst 192.0.2.2 tmpl proto 50 mode tunnel reqid 5 sel 10.1.0.5/32 -> 10.2.0.5/32 proto 1$' "$(bg_log acquire)"; then
	tap_ok "trap policy: XfrmAcquire ($(grep '^acquire' "$(bg_log acquire)"))"
else
	tap_fail "trap policy: XfrmAcquire" "$(cat "$(bg_log acquire)")"
fi
if a ping -c 1 -W 1 -I 10.1.0.5 10.2.0.5 >/dev/null 2>&1; then
	tap_fail "trap policy: nothing passes without an SA" "a ping got through"
else
	tap_ok "trap policy: nothing passes without an SA"
fi

# ---- lifetimes: soft then hard EXPIRE (RFC 4301 §4.4.2.1) ----------------
bg_start a expire "$PROBE" monitor 30 2 expire
wait_for 10 "the EXPIRE monitor" mon_ready expire
probe a sa add src 192.0.2.1 dst 192.0.2.2 spi 0x5001 reqid 6 mode tunnel aead "$GCM" $KEY_AB 128 \
	soft-add 1 hard-add 2
hard_seen() { grep -q '^expire hard' "$(bg_log expire)"; }
if wait_for 15 "soft and hard EXPIRE of SA 0x5001" hard_seen &&
	[ "$(grep -c '^expire' "$(bg_log expire)")" = 2 ] &&
	head -2 "$(bg_log expire)" | tail -1 | grep -q '^expire soft dst 192.0.2.2 spi 0x00005001 proto 50 src 192.0.2.1 reqid 6$' &&
	tail -1 "$(bg_log expire)" | grep -q '^expire hard dst 192.0.2.2 spi 0x00005001 proto 50 src 192.0.2.1 reqid 6$'; then
	tap_ok "lifetime 1 s / 2 s: XfrmExpire soft, then hard"
else
	tap_fail "lifetime 1 s / 2 s: XfrmExpire soft, then hard" "$(cat "$(bg_log expire)")"
fi
if [ "$(probe a sa stats dst 192.0.2.2 spi 0x5001)" = absent ]; then
	tap_ok "after the hard expiry the kernel holds no SA 0x5001"
else
	tap_fail "after the hard expiry the kernel holds no SA 0x5001" "$(a ip xfrm state list spi 0x5001)"
fi

# ---- del_sa, del_policy --------------------------------------------------
first=$(probe a sa del dst 192.0.2.2 spi 0x1001 2>&1)
again=$(probe a sa del dst 192.0.2.2 spi 0x1001 2>&1)
if [ "$first" = deleted ] && [ "$again" = absent ] && [ -z "$(a ip xfrm state list spi 0x1001)" ]; then
	tap_ok "del_sa: SA 0x1001 gone; a second delete returns false"
else
	tap_fail "del_sa: SA 0x1001 gone; a second delete returns false" \
		"$first / $again; $(a ip xfrm state list spi 0x1001)"
fi
first=$(probe a policy del sel 10.1.0.1/32 10.2.0.1/32 dir out 2>&1)
again=$(probe a policy del sel 10.1.0.1/32 10.2.0.1/32 dir out 2>&1)
left=$(a ip xfrm policy list src 10.1.0.1/32 dst 10.2.0.1/32 dir out)
if [ "$first" = deleted ] && [ "$again" = absent ] && [ -z "$left" ] &&
	[ -n "$(a ip xfrm policy list src 10.2.0.1/32 dst 10.1.0.1/32 dir in)" ]; then
	tap_ok "del_policy: the out policy gone, its in policy kept; a second delete returns false"
else
	tap_fail "del_policy: the out policy gone" "$first / $again; left: $left"
fi
# With the policy gone the same ping leaves in the clear: the SA's counter stays.
before=$(ip_packets b 192.0.2.1 192.0.2.2 0x1001)
a ping -c 1 -W 1 -I 10.1.0.1 10.2.0.1 >/dev/null 2>&1
if [ "$(ip_packets b 192.0.2.1 192.0.2.2 0x1001)" = "$before" ] &&
	[ -z "$(a ip xfrm policy list dir out src 10.1.0.1/32)" ]; then
	tap_ok "no policy, no ESP: b's SA 0x1001 still counts $before"
else
	tap_fail "no policy, no ESP" "before $before, now $(ip_packets b 192.0.2.1 192.0.2.2 0x1001)"
fi
if probe a flush && probe b flush && [ -z "$(a ip xfrm state list)$(a ip xfrm policy list)" ]; then
	tap_ok "flush_sas and flush_policies leave a empty"
else
	tap_fail "flush_sas and flush_policies leave a empty" "$(a ip xfrm state list; a ip xfrm policy list)"
fi

tap_finish
