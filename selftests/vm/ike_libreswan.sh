#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_libreswan.sh):
# umigame-iked against libreswan 4.10 (pluto), each keying the kernel's xfrm
# of its own namespace, our daemon as initiator and as responder.
# ike_libreswan.prepare unpacks Debian's libreswan package into
# $UMIGAME_FIXTURES on the host (it conflicts with strongSwan's, so it is
# never installed); selftests/ike/libreswan.sh runs pluto from there.
#
#   ns umi (umigame-iked)                        ns ls (libreswan pluto)
#   lo 10.1.0.1, 2001:db8:1::1                   lo 10.2.0.1, 2001:db8:2::1
#   u0 192.0.2.1/24 ------------- veth ------------- l0 192.0.2.2/24
#      2001:db8:ffff::1/64                              2001:db8:ffff::2/64
#      2001:db8:fffe::1/64                              2001:db8:fffe::2/64
#
# Connections (the same names on both sides; both files below are the worked
# example for docs/ike-libreswan.md):
#   v4     IPv4 outer, tunnel 10.1.0.0/24 <-> 10.2.0.0/24, PSK,
#          IKE aes256gcm16-prfsha384-ecp384 / ESP aes128gcm16-esn, no PFS
#   v6tr   IPv6 outer (2001:db8:fffe::/64), transport mode for ICMPv6, PSK,
#          IKE aes128-sha256-prfsha256-modp2048 / ESP aes128-sha256, no PFS
#   v6tun  IPv6 outer, tunnel 2001:db8:1::/64 <-> 2001:db8:2::/64, PSK,
#          IKE aes128gcm16-prfsha256-ecp256 / ESP aes256gcm16-ecp256-esn
#          (PFS on CREATE_CHILD_SA)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# vm-run started by hand (not through run.sh) gets no fixtures variable:
# use what the last ike_libreswan.prepare left in the usual place.
export UMIGAME_FIXTURES=${UMIGAME_FIXTURES:-$repo/build/vmtest/ike_libreswan}
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/libreswan.sh
source "$repo/selftests/ike/libreswan.sh"

plan=20
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! ls_available; then
	for _ in $(seq $plan); do
		tap_skip "ike_libreswan" "needs the 6.1 guest and libreswan unpacked by ike_libreswan.prepare (selftests/vm/run.sh ike_libreswan.sh)"
	done
	tap_finish
fi
for m in esp4 esp6 xfrm4_tunnel xfrm6_tunnel; do modprobe -q "$m" 2>/dev/null; done

PSK="umigame libreswan interop secret, long enough"
ns_create umi >/dev/null
ns_create ls >/dev/null
veth_pair umi u0 ls l0
ns_exec umi ip -batch - <<-EOF
	addr add 192.0.2.1/24 dev u0
	addr add 2001:db8:ffff::1/64 dev u0 nodad
	addr add 2001:db8:fffe::1/64 dev u0 nodad
	addr add 10.1.0.1/32 dev lo
	addr add 2001:db8:1::1/128 dev lo
	route add 10.2.0.0/24 via 192.0.2.2 src 10.1.0.1
	route add 2001:db8:2::/64 via 2001:db8:ffff::2 src 2001:db8:1::1
EOF
ns_exec ls ip -batch - <<-EOF
	addr add 192.0.2.2/24 dev l0
	addr add 2001:db8:ffff::2/64 dev l0 nodad
	addr add 2001:db8:fffe::2/64 dev l0 nodad
	addr add 10.2.0.1/32 dev lo
	addr add 2001:db8:2::1/128 dev lo
	route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
	route add 2001:db8:1::/64 via 2001:db8:ffff::1 src 2001:db8:2::1
EOF

conf=$(umi_tmp iked.toml)
cat >"$conf" <<EOF
[daemon]
control_socket = "$(iked_sock umi)"

[[connection]]
name = "v4"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "ls.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
dpd_delay = 2
retransmit_timeout_ms = 500
retransmit_tries = 3
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]

[[connection]]
name = "v6tr"
local_addr = "2001:db8:fffe::1"
remote_addr = "2001:db8:fffe::2"
local_id = "umi.example"
remote_id = "ls.example"
psk = "$PSK"
ike_proposals = ["aes128-sha256-prfsha256-modp2048"]
[[connection.child]]
name = "host"
mode = "transport"
ip_protocol = 58
esp_proposals = ["aes128-sha256"]

[[connection]]
name = "v6tun"
local_addr = "2001:db8:ffff::1"
remote_addr = "2001:db8:ffff::2"
local_id = "umi6.example"
remote_id = "ls6.example"
psk = "$PSK"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
[[connection.child]]
name = "net6"
local_ts = ["2001:db8:1::/64"]
remote_ts = ["2001:db8:2::/64"]
esp_proposals = ["aes256gcm16-ecp256-esn"]
EOF

# libreswan's side. ikev2=yes: IKEv2 only, never IKEv1. leftupdown=%disabled:
# pluto installs the xfrm states and policies itself; the updown script would
# add routes and firewall rules, which this topology sets up by hand.
# `ike=` is encryption-PRF;DH (for AEAD the PRF is named, there is no
# integrity transform: RFC 5282 §8), `esp=` encryption-integrity[;DH], where
# the DH group after `;` is the PFS group of CREATE_CHILD_SA (RFC 7296
# §1.3.1); pfs=no where the child has no group, or pluto would send a KE
# payload on rekey that our proposal does not offer. In IKEv2 pluto's
# liveness check gives up after retransmit-timeout; dpdtimeout= is ignored
# (pluto says so), hence the short retransmit-timeout.
# v6tr has outer addresses of its own: pluto picks a connection by address at
# IKE_SA_INIT (NO_PROPOSAL_CHOSEN when the offer does not fit that one) and at
# IKE_AUTH does not move from a tunnel to a transport connection
# (AUTHENTICATION_FAILED), so the two cannot share an address pair with
# libreswan (docs/ike-libreswan.md).
lsconf=$(umi_tmp ipsec.conf)
cat >"$lsconf" <<EOF
config setup
	dnssec-enable=no
	uniqueids=no
	dumpdir=$UMI_TMPDIR
	plutodebug=none

conn %default
	ikev2=yes
	authby=secret
	leftupdown=%disabled
	dpddelay=2s
	retransmit-timeout=10s
	auto=add

conn v4
	left=192.0.2.2
	leftid=@ls.example
	leftsubnet=10.2.0.0/24
	right=192.0.2.1
	rightid=@umi.example
	rightsubnet=10.1.0.0/24
	ike=aes_gcm256-sha384;dh20
	esp=aes_gcm128
	esn=yes
	pfs=no

conn v6tr
	type=transport
	left=2001:db8:fffe::2
	leftid=@ls.example
	right=2001:db8:fffe::1
	rightid=@umi.example
	leftprotoport=ipv6-icmp
	rightprotoport=ipv6-icmp
	ike=aes128-sha2_256;dh14
	esp=aes128-sha2_256
	pfs=no

conn v6tun
	left=2001:db8:ffff::2
	leftid=@ls6.example
	leftsubnet=2001:db8:2::/64
	right=2001:db8:ffff::1
	rightid=@umi6.example
	rightsubnet=2001:db8:1::/64
	ike=aes_gcm128-sha2_256;dh19
	esp=aes_gcm256;dh19
	esn=yes
EOF
lssecrets=$(umi_tmp ipsec.secrets)
cat >"$lssecrets" <<EOF
@ls.example @umi.example : PSK "$PSK"
@ls6.example @umi6.example : PSK "$PSK"
EOF

# pluto listens on the addresses present when it starts: links come first.
if ! ls_start ls ls "$lsconf" "$lssecrets"; then
	tap_diag "$(tail -30 "$(ls_log ls)")"
	umi_die "pluto did not start"
fi
iked_start umi umi "$conf"

xfrm_packets() { # NS SPI(hex, no 0x): packets counted on that SA
	ns_exec "$1" ip -s xfrm state | awk -v spi="0x$2" '
		index($0, "spi "spi"(") {f=1}
		f && /lifetime current:/ {c=1}
		c && /\(packets\)/ {sub(/\(packets\).*/, ""); sub(/.* /, ""); print; exit}'
}
child_json() { iked umi sas --json | jq -c --arg c "$1" '[.ike_sas[] | select(.connection == $c and .state == "established") | .children[] | select(.state == "installed")]'; }
spi_in() { child_json "$1" | jq -r '.[0].spi_in // ""'; }
ike_spis() { iked umi sas --json | jq -r --arg c "$1" '[.ike_sas[] | select(.connection == $c and .state == "established")][0] | "\(.spi_i)/\(.spi_r)"'; }
ike_count() { iked umi sas --json | jq --arg c "$1" '[.ike_sas[] | select(.connection == $c)] | length'; }
# One IKE SA and one CHILD_SA on each side: after a rekey the old ones must
# be gone too (RFC 7296 §2.8: the rekey initiator deletes the old SA).
established_both() { # CONN
	[ "$(iked_state umi "$1")" = established ] && [ "$(ls_ike_count ls "$1")" = 1 ] &&
		[ "$(iked_children umi "$1")" = 1 ] && [ "$(ls_child_count ls "$1")" = 1 ]
}
ping_ok() { ns_exec umi ping -c 3 -i 0.2 -W 2 "$@" >/dev/null; }
# shellcheck disable=SC2016 # awk programs
why() { # CONN: what both sides think, for a failure's diagnostics
	echo "ours: $(iked umi sas 2>&1 | head -20)"
	echo "libreswan: $(ls_whack ls --showstates 2>&1 | grep "\"$1\"" | head -10)"
	# Which side dropped ESP: XfrmInNoStates counts packets for an SPI
	# the receiver does not (yet, or any more) have.
	echo "xfrm_stat (non-zero) umi: $(ns_exec umi awk '$2 != 0' /proc/net/xfrm_stat | tr '\n' ' ')"
	echo "xfrm_stat (non-zero) ls: $(ns_exec ls awk '$2 != 0' /proc/net/xfrm_stat | tr '\n' ' ')"
	echo "iked log:"; tail -8 "$(bg_log iked-umi)"
	echo "pluto log:"; tail -8 "$(ls_log ls)"
}

# loss_during CMD...: a 4 s ping at 20/s from 10.1.0.1 while CMD runs; prints
# the loss in percent. CMD waits for its own outcome, so the ping covers the
# whole exchange whatever its length under TCG.
loss_during() {
	local log
	log=$(umi_tmp ping.last)
	ns_exec umi ping -i 0.05 -c 80 -W 1 -I 10.1.0.1 10.2.0.1 >"$log" 2>&1 &
	local pid=$!
	wait_for 5 "the ping has started" grep -q . "$log"
	"$@"
	wait $pid
	grep -o '[0-9.]*% packet loss' "$log" | cut -d% -f1
}
# new_child CONN OLD_SPI: a different inbound SPI, one CHILD_SA each side
new_child() { local now; now=$(spi_in "$1"); [ -n "$now" ] && [ "$now" != "$2" ] && established_both "$1"; }
ike_rekeyed() { # CONN OLD_SPIS
	local now
	now=$(ike_spis "$1")
	[ "$now" != "$2" ] && [ "$now" != "null/null" ] && [ "$(ike_count "$1")" = 1 ] && established_both "$1"
}
# our_rekey_point NAME OLD_SPI: the ping-loss point of a CHILD_SA rekey we
# initiate. libreswan 4.10 as responder installs its new outbound SA as it
# answers (pluto: "install_ipsec_sa() ... inbound and outbound"), and our
# new inbound SA can exist only once the answer is in (the keys need Nr,
# RFC 7296 §2.17): what libreswan sends on the new SA in between is lost
# whatever we do. So 0% loss, or every lost reply is one of those: ESP seen
# arriving on u0 with the new SPI that the new SA never accepted (the
# capture's count minus the SA's packet counter). A loss of ours (old SA
# deleted too soon, outbound switched before libreswan had the inbound)
# would not be in that count.
our_rekey_point() {
	local name=$1 old=$2 cap loss lost new seen accepted
	cap=$(umi_tmp "esp-$old.pcap")
	bg_start umi esp-cap tcpdump -i u0 --immediate-mode -Q in -n -U -w "$cap" "ip proto 50"
	wait_for 10 "tcpdump on u0" sh -c "[ -s '$cap' ]"
	loss=$(loss_during rekey_child_ours v4 net "$old")
	new=$(spi_in v4)
	lost=$(awk '/packets transmitted/ { print $1 - $4 }' "$(umi_tmp ping.last)")
	esp_seen() { tcpdump -r "$cap" -n 2>/dev/null | grep -c "ESP(spi=0x$new,"; }
	accepted=$(xfrm_packets umi "$new")
	# The capture catches up with what the SA counted before it is read.
	wait_for 5 "the capture holds the new SA's packets" sh -c "[ \$(tcpdump -r '$cap' -n 2>/dev/null | grep -c 'ESP(spi=0x$new,') -ge ${accepted:-0} ]"
	seen=$(esp_seen)
	bg_stop esp-cap
	if ! new_child v4 "$old"; then
		tap_fail "$name" "spi $old -> $new, loss ${loss:-?}%
$(why v4)"
	elif [ "$loss" = 0 ]; then
		tap_ok "$name $old -> $new, 0% loss at 20/s (RFC 7296 §1.3.3, §2.8)"
	elif [ -n "$lost" ] && [ -n "$accepted" ] && [ "$lost" -le $((seen - accepted)) ]; then
		tap_ok "$name $old -> $new, $lost replies lost, each one libreswan sent on the new SA before its answer reached us ($seen ESP packets with SPI $new arrived, the SA accepted $accepted): none lost by us (RFC 7296 §1.3.3, §2.8)"
	else
		tap_fail "$name" "spi $old -> $new, $lost lost (${loss:-?}%); ESP with the new SPI: $seen arrived, $accepted accepted
$(why v4)"
	fi
}
rekey_child_ours() { iked umi rekey "$1" "$2" >/dev/null && wait_for 20 "our CHILD_SA rekey" new_child "$1" "$3"; }
rekey_child_theirs() { ls_whack ls --name "$1" --rekey-ipsec --asynchronous >/dev/null && wait_for 20 "libreswan's CHILD_SA rekey" new_child "$1" "$2"; }
rekey_ike_ours() { iked umi rekey "$1" >/dev/null && wait_for 20 "our IKE SA rekey" ike_rekeyed "$1" "$2"; }
rekey_ike_theirs() { ls_whack ls --name "$1" --rekey-ike --asynchronous >/dev/null && wait_for 20 "libreswan's IKE SA rekey" ike_rekeyed "$1" "$2"; }

# The first ESP SA after boot costs seconds of crypto module loading; a
# throw-away SA pair takes that out of the first measured exchange.
ns_exec umi ip xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0x100 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128 2>/dev/null
ns_exec umi ip xfrm state flush

# --- our daemon as initiator -------------------------------------------------
# RFC 7296 §1.2: IKE_SA_INIT + IKE_AUTH with the first CHILD_SA.
iked umi up v4
if wait_for 30 "v4 established on both sides" established_both v4; then
	tap_ok "initiator: v4 IKE SA and CHILD_SA up with libreswan (RFC 7296 §1.2)"
else
	tap_fail "initiator: v4 IKE SA and CHILD_SA up with libreswan (RFC 7296 §1.2)" "$(why v4)"
fi
spi=$(spi_in v4)
tap_check "initiator: ping 10.1.0.1 -> 10.2.0.1 through the tunnel" ping_ok -I 10.1.0.1 10.2.0.1
n=$(xfrm_packets umi "$spi")
if [ "${n:-0}" -ge 3 ]; then
	tap_ok "initiator: the inbound SA $spi counted the replies ($n packets, AES-GCM-128 with ESN)"
else
	tap_fail "initiator: the inbound SA $spi counted the replies" "counted ${n:-nothing}; $(ns_exec umi ip -s xfrm state)"
fi

# RFC 7296 §1.3.3, §2.8: CHILD_SA rekey, make-before-break, under a ping.
our_rekey_point "initiator: our CHILD_SA rekey" "$spi"

spi=$(spi_in v4)
loss=$(loss_during rekey_child_theirs v4 "$spi")
if new_child v4 "$spi" && [ "$loss" = 0 ]; then
	tap_ok "initiator: libreswan's CHILD_SA rekey $spi -> $(spi_in v4), 0% loss at 20/s (RFC 7296 §1.3.3)"
else
	tap_fail "initiator: libreswan's CHILD_SA rekey" "spi $spi -> $(spi_in v4), loss ${loss:-?}%
$(why v4)"
fi

# RFC 7296 §1.3.2, §2.18: the IKE SA is rekeyed, its CHILD_SA moves over.
old_ike=$(ike_spis v4)
loss=$(loss_during rekey_ike_ours v4 "$old_ike")
if ike_rekeyed v4 "$old_ike" && [ "$loss" = 0 ]; then
	tap_ok "initiator: our IKE SA rekey $old_ike -> $(ike_spis v4), CHILD_SA kept, 0% loss (RFC 7296 §1.3.2, §2.18)"
else
	tap_fail "initiator: our IKE SA rekey" "now $(ike_spis v4), loss ${loss:-?}%
$(why v4)"
fi
old_ike=$(ike_spis v4)
loss=$(loss_during rekey_ike_theirs v4 "$old_ike")
if ike_rekeyed v4 "$old_ike" && [ "$loss" = 0 ]; then
	tap_ok "initiator: libreswan's IKE SA rekey $old_ike -> $(ike_spis v4), CHILD_SA kept, 0% loss (RFC 7296 §2.18)"
else
	tap_fail "initiator: libreswan's IKE SA rekey" "now $(ike_spis v4), loss ${loss:-?}%
$(why v4)"
fi
tap_check "initiator: traffic still flows after four rekeys" ping_ok -I 10.1.0.1 10.2.0.1

# RFC 7296 §1.4.1: Delete.
iked umi down v4
gone() { [ -z "$(iked_state umi v4)" ] && [ "$(ls_ike_count ls v4)" = 0 ] && [ -z "$(ns_exec umi ip xfrm state)" ]; }
if wait_for 20 "v4 deleted on both sides" gone && [ -z "$(ns_exec umi ip xfrm policy)" ]; then
	tap_ok "down: Delete removes the IKE SA on both sides, no xfrm state or policy left (RFC 7296 §1.4.1)"
else
	tap_fail "down: Delete" "$(why v4); xfrm: $(ns_exec umi ip xfrm state | head -3) $(ns_exec umi ip xfrm policy | head -3)"
fi

# --- libreswan as initiator, our daemon as responder ----------------------------
ls_whack ls --name v4 --initiate --asynchronous >/dev/null
if wait_for 30 "v4 established by libreswan" established_both v4; then
	tap_ok "responder: libreswan brings v4 up with us (RFC 7296 §1.2)"
else
	tap_fail "responder: libreswan brings v4 up" "$(why v4)"
fi
tap_check "responder: ping through the tunnel" ping_ok -I 10.1.0.1 10.2.0.1
spi=$(spi_in v4)
loss=$(loss_during rekey_child_theirs v4 "$spi")
if new_child v4 "$spi" && [ "$loss" = 0 ]; then
	tap_ok "responder: libreswan rekeys the CHILD_SA it set up, 0% loss (RFC 7296 §1.3.3)"
else
	tap_fail "responder: libreswan rekeys the CHILD_SA" "loss ${loss:-?}%
$(why v4)"
fi
spi=$(spi_in v4)
our_rekey_point "responder: we rekey a CHILD_SA libreswan set up," "$spi"
old_ike=$(ike_spis v4)
if rekey_ike_ours v4 "$old_ike"; then
	tap_ok "responder: we rekey an IKE SA libreswan set up (RFC 7296 §2.18)"
else
	tap_fail "responder: we rekey the IKE SA" "$(why v4)"
fi

# --- IPv6 outer: transport mode, and a tunnel with PFS -------------------------
iked umi up v6tr
if wait_for 30 "v6tr established" established_both v6tr; then
	tap_ok "IPv6 outer, transport mode: up with libreswan (RFC 7296 §1.3.1 USE_TRANSPORT_MODE)"
else
	tap_fail "IPv6 outer, transport mode" "$(why v6tr)"
fi
spi6=$(spi_in v6tr)
if ping_ok -6 2001:db8:fffe::2 && [ "$(xfrm_packets umi "$spi6")" -ge 3 ] 2>/dev/null; then
	tap_ok "IPv6 transport: echo replies came through ESP (SA $spi6, AES-CBC + HMAC-SHA-256-128)"
else
	tap_fail "IPv6 transport: echo replies through ESP" "SA $spi6 counted $(xfrm_packets umi "$spi6")"
fi
ls_whack ls --name v6tun --initiate --asynchronous >/dev/null
if wait_for 30 "v6tun established" established_both v6tun && ping_ok -I 2001:db8:1::1 2001:db8:2::1; then
	tap_ok "IPv6 tunnel: libreswan initiates, ECP-256 IKE SA, ping 2001:db8:1::1 -> 2001:db8:2::1 (RFC 7296 §1.2)"
else
	tap_fail "IPv6 tunnel: libreswan initiates" "$(why v6tun)"
fi
# RFC 7296 §1.3.3: the rekey carries a KE payload when the proposal has a
# DH group (PFS); both sides' proposals have ECP-256 only, so a rekey that
# succeeds has done the exchange.
spi=$(spi_in v6tun)
if rekey_child_ours v6tun net6 "$spi" && rekey_child_theirs v6tun "$(spi_in v6tun)" &&
	ping_ok -I 2001:db8:1::1 2001:db8:2::1; then
	tap_ok "IPv6 tunnel: CHILD_SA rekeys with PFS (ECP-256) from both sides, traffic after (RFC 7296 §1.3.3)"
else
	tap_fail "IPv6 tunnel: CHILD_SA rekeys with PFS" "$(why v6tun)"
fi

# --- dead peer detection --------------------------------------------------------
# RFC 7296 §2.4: pluto killed with SIGKILL sends nothing; our liveness
# check (dpd_delay 2 s, 3 retransmissions from 0.5 s) finds it dead. v6tr
# and v6tun have the default DPD delay; only v4 is asserted.
kill -9 "${BG_PID[pluto-ls]}"
dead() { [ -z "$(iked_state umi v4)" ]; }
if wait_for 40 "our daemon notices the dead peer" dead; then
	tap_ok "DPD: libreswan killed with SIGKILL is found dead and v4 removed (RFC 7296 §2.4)"
else
	tap_fail "DPD: libreswan killed with SIGKILL" "$(iked umi sas)"
fi
if [ "$(iked umi show --json | jq .counters.dead_peers)" -ge 1 ] &&
	! ns_exec umi ip xfrm state | grep -qF 192.0.2.2; then
	tap_ok "DPD: counted as a dead peer, no v4 xfrm state left"
else
	tap_fail "DPD: counted as a dead peer, no v4 xfrm state left" "$(iked umi show --json | jq -c .counters)"
fi
tap_finish
