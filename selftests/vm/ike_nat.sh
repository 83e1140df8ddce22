#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_nat.sh):
# NAT traversal (RFC 7296 §2.23, RFC 3948) between umigame-iked and
# strongSwan, with a masquerading router between them, once with each of
# them behind the NAT.
#
#   <p>lan                      <p>rt (nftables)                 <p>wan
#   lo 10.1.0.1                                                    lo 10.2.0.1
#   l0 172.16.0.2/24 ------ r0 172.16.0.1/24                       
#                           r1 192.0.2.1/24 ------------------- w0 192.0.2.2/24
#                           masquerade out of r1
#
#   phase a: umigame-iked in alan initiates to charon in awan; plain
#            masquerade (the NAT keeps port 4500 when it can)
#   phase b: charon in blan initiates to umigame-iked in bwan; the NAT maps
#            every UDP source port into 40000-40999, so the peer's NAT-T
#            port is not 4500 and our SAs must carry the mapped one
#
# The router's nft counters tell what crossed the wire: ESP-in-UDP (UDP
# 4500 whose first four octets, the SPI, are not zero), IKE on 4500 (the
# zero non-ESP marker), NAT keepalives (a single 0xFF octet) and raw ESP,
# which must stay at zero. xdp = false: umigame.ko's encap-port handling is
# tested elsewhere; here the kernel's xfrm does all the ESP.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"

plan=17
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null ||
	! command -v nft >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_nat" "needs the 6.1 guest, strongSwan and nft (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 xfrm4_tunnel nf_tables nft_masq nf_nat nft_chain_nat; do modprobe -q "$m" 2>/dev/null; done

PSK="umigame NAT-T test secret, long enough"
SW_CHARON_EXTRA="keep_alive = 2s"

topology() { # PHASE NAT-RULE
	local p=$1 masq=$2
	ns_create "${p}lan" >/dev/null
	ns_create "${p}rt" >/dev/null
	ns_create "${p}wan" >/dev/null
	veth_pair "${p}lan" l0 "${p}rt" r0
	veth_pair "${p}rt" r1 "${p}wan" w0
	ns_exec "${p}lan" ip addr add 172.16.0.2/24 dev l0
	ns_exec "${p}lan" ip addr add 10.1.0.1/32 dev lo
	ns_exec "${p}lan" ip route add default via 172.16.0.1
	ns_exec "${p}rt" ip addr add 172.16.0.1/24 dev r0
	ns_exec "${p}rt" ip addr add 192.0.2.1/24 dev r1
	ns_sysctl "${p}rt" net.ipv4.ip_forward=1
	ns_exec "${p}wan" ip addr add 192.0.2.2/24 dev w0
	ns_exec "${p}wan" ip addr add 10.2.0.1/32 dev lo
	# The public side knows no route to 172.16.0.0/24: only the NAT
	# address is reachable, as on the Internet.
	ns_exec "${p}wan" ip route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
	ns_exec "${p}rt" nft -f - <<-EOF || umi_die "nft rules in ${p}rt"
	table ip nat {
		chain postrouting {
			type nat hook postrouting priority srcnat;
			$masq
		}
	}
	table ip wire {
		counter esp_raw {}
		counter espudp_out {}
		counter espudp_in {}
		counter ike4500 {}
		counter keepalive_out {}
		counter keepalive_in {}
		chain seen {
			type filter hook forward priority filter; policy accept;
			meta l4proto esp counter name esp_raw
			iifname "r0" udp sport 4500 udp dport 4500 udp length 9 @th,64,8 0xff counter name keepalive_out
			iifname "r1" udp length 9 @th,64,8 0xff counter name keepalive_in
			iifname "r0" udp dport 4500 udp length > 12 @th,64,32 != 0 counter name espudp_out
			iifname "r1" udp sport 4500 udp length > 12 @th,64,32 != 0 counter name espudp_in
			udp length > 12 @th,64,32 0 counter name ike4500
		}
	}
	EOF
}
wire() { # PHASE COUNTER: packets the router counted
	ns_exec "${1}rt" nft -j list counter ip wire "$2" | jq '.nftables[1].counter.packets'
}
wire_ge() { [ "$(wire "$1" "$2")" -ge "$3" ]; }
sw_gone() { [ -z "$(sw_ike_state "$1" "$2")" ]; }
wire_all() { # PHASE: every counter, for diagnostics
	local c out=""
	for c in esp_raw espudp_out espudp_in ike4500 keepalive_out keepalive_in; do
		out+="$c=$(wire "$1" $c) "
	done
	echo "$out"
}
sas_field() { iked "$1" sas --json | jq -r --arg f "$2" '[.ike_sas[] | select(.connection == "nat")][0][$f]'; }
encap_line() { xfrm_state_of "$1" "$2" | grep -o 'encap type espinudp sport [0-9]* dport [0-9]*'; }

# --- phase a: umigame-iked behind the NAT, initiator -------------------------
topology a 'oifname "r1" masquerade'
cat >"$(umi_tmp a-iked.toml)" <<EOF
[daemon]
control_socket = "$(iked_sock a)"

[[connection]]
name = "nat"
local_addr = "172.16.0.2"
remote_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
nat_keepalive = 2
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
xdp = false
EOF
cat >"$(umi_tmp a-swanctl.conf)" <<EOF
connections {
  nat {
    local_addrs = 192.0.2.2
    remote_addrs = %any
    proposals = aes256gcm16-prfsha384-ecp384
    local { auth = psk
      id = sw.example }
    remote { auth = psk
      id = umi.example }
    children {
      net { local_ts = 10.2.0.0/24
        remote_ts = 10.1.0.0/24
        esp_proposals = aes128gcm16-esn }
    }
  }
}
secrets {
  ike-1 { id-1 = umi.example
    id-2 = sw.example
    secret = "$PSK" }
}
EOF
sw_start awan a
sw_load a "$(umi_tmp a-swanctl.conf)"
iked_start alan a "$(umi_tmp a-iked.toml)"
ping_a() { ns_exec alan ping -c "${1:-3}" -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 >/dev/null; }

iked a up nat
if wait_for 30 "nat established on both sides" both_up a a nat; then
	tap_ok "a: our initiator behind the NAT gets its IKE SA and CHILD_SA up (RFC 7296 §1.2)"
else
	tap_fail "a: IKE SA and CHILD_SA up through the NAT" "$(tail -20 "$(bg_log iked-a)")"
fi

# RFC 7296 §2.23: our NAT_DETECTION_SOURCE_IP hash no longer matches once
# the NAT rewrote it; the peer's DESTINATION hash tells us we are behind it.
if [ "$(sas_field a nat_local)" = true ] && [ "$(sas_field a nat_remote)" = false ]; then
	tap_ok "a: NAT detected in front of us, not in front of the peer (RFC 7296 §2.23)"
else
	tap_fail "a: NAT detected in front of us" "$(iked a sas --json | jq -c '.ike_sas[0] | {nat_local, nat_remote, local, remote}')"
fi

# RFC 7296 §2.23: "the initiator MUST ... switch to port 4500"; after that
# IKE carries the four-octet non-ESP marker (RFC 3948 §2.2).
if [ "$(sas_field a local)" = 172.16.0.2:4500 ] && [ "$(sas_field a remote)" = 192.0.2.2:4500 ] &&
	[ "$(wire a ike4500)" -ge 2 ]; then
	tap_ok "a: IKE moved to UDP 4500 with the non-ESP marker ($(wire a ike4500) IKE datagrams on 4500; RFC 7296 §2.23, RFC 3948 §2.2)"
else
	tap_fail "a: IKE moved to UDP 4500" "local $(sas_field a local) remote $(sas_field a remote); $(wire_all a)"
fi

spi_in=$(iked_child a nat spi_in)
spi_out=$(iked_child a nat spi_out)
# RFC 3948 §2.1 via XFRM: both SAs UDP-encapsulated between the NAT-T ports.
if [ "$(encap_line alan "$spi_in")" = "encap type espinudp sport 4500 dport 4500" ] &&
	[ "$(encap_line alan "$spi_out")" = "encap type espinudp sport 4500 dport 4500" ] &&
	[ "$(iked_child a nat encap)" = true ]; then
	tap_ok "a: both xfrm states carry encap espinudp 4500 -> 4500 (RFC 3948 §2.1)"
else
	tap_fail "a: both xfrm states carry encap espinudp 4500 -> 4500" "$(xfrm_brief alan)"
fi

tap_check "a: ping 10.1.0.1 -> 10.2.0.1 through the tunnel across the NAT" ping_a 5
# RFC 3948 §2.1: every ESP packet crossed the NAT inside UDP; the negative
# (no raw ESP) stands on the positive counts.
out=$(wire a espudp_out) in=$(wire a espudp_in) raw=$(wire a esp_raw)
if [ "$out" -ge 5 ] && [ "$in" -ge 5 ] && [ "$raw" = 0 ]; then
	tap_ok "a: the router saw ESP-in-UDP/4500 both ways ($out out, $in in) and no raw ESP (RFC 3948 §2.1)"
else
	tap_fail "a: ESP-in-UDP on the wire, no raw ESP" "$(wire_all a)"
fi
# RFC 3948 §3.2: the UDP_ENCAP socket on 4500 hands ESP to xfrm, which
# decrypts it on our inbound SA (without the socket option it would reach
# the daemon and be dropped there).
n=$(xfrm_sa_packets alan "$spi_in")
if [ "${n:-0}" -ge 5 ]; then
	tap_ok "a: the kernel decapsulated and decrypted the replies on SA $spi_in ($n packets; RFC 3948 §3.2)"
else
	tap_fail "a: the kernel decapsulated the replies" "SA $spi_in counted ${n:-nothing}; $(xfrm_state_of alan "$spi_in")"
fi

# RFC 3948 §4: the side behind the NAT keeps the mapping with one 0xFF
# octet from its NAT-T port (nat_keepalive = 2 s here).
k0=$(wire a keepalive_out)
if wait_for 12 "two more keepalives from behind the NAT" wire_ge a keepalive_out $((k0 + 2)); then
	tap_ok "a: NAT keepalives (one 0xFF octet, 4500 -> 4500) every 2 s from our side ($(wire a keepalive_out) seen; RFC 3948 §4)"
else
	tap_fail "a: NAT keepalives from our side" "$(wire_all a); $(grep -i keepalive "$(bg_log iked-a)" | tail -3)"
fi

# RFC 7296 §1.3.3 across the NAT: the new CHILD_SA is encapsulated too.
iked a rekey nat net
rekeyed_a() { local s; s=$(iked_child a nat spi_in); [ -n "$s" ] && [ "$s" != "$spi_in" ] && both_up a a nat; }
if wait_for 20 "CHILD_SA rekeyed" rekeyed_a; then
	new_in=$(iked_child a nat spi_in)
	new_out=$(iked_child a nat spi_out)
	raw0=$(wire a esp_raw) out0=$(wire a espudp_out)
	if [ "$(encap_line alan "$new_in")" = "encap type espinudp sport 4500 dport 4500" ] &&
		[ "$(encap_line alan "$new_out")" = "encap type espinudp sport 4500 dport 4500" ] &&
		ping_a 3 && [ "$(wire a espudp_out)" -ge $((out0 + 3)) ] && [ "$(wire a esp_raw)" = "$raw0" ] &&
		[ "$(xfrm_sa_packets alan "$new_in")" -ge 3 ]; then
		tap_ok "a: CHILD_SA rekey $spi_in -> $new_in keeps UDP encapsulation and traffic flows (RFC 7296 §1.3.3, RFC 3948)"
	else
		tap_fail "a: CHILD_SA rekey keeps UDP encapsulation" "$(xfrm_brief alan); $(wire_all a)"
	fi
else
	tap_fail "a: CHILD_SA rekey keeps UDP encapsulation" "no rekey: $(tail -10 "$(bg_log iked-a)")"
fi
bg_stop iked-a 8
bg_stop charon-a

# --- phase b: strongSwan behind the NAT, our daemon responds ------------------
topology b 'oifname "r1" meta l4proto udp masquerade to :40000-40999
			oifname "r1" masquerade'
cat >"$(umi_tmp b-iked.toml)" <<EOF
[daemon]
control_socket = "$(iked_sock b)"

[[connection]]
name = "nat"
local_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
nat_keepalive = 2
[[connection.child]]
name = "net"
local_ts = ["10.2.0.0/24"]
remote_ts = ["10.1.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
xdp = false
EOF
cat >"$(umi_tmp b-swanctl.conf)" <<EOF
connections {
  nat {
    local_addrs = 172.16.0.2
    remote_addrs = 192.0.2.2
    proposals = aes256gcm16-prfsha384-ecp384
    local { auth = psk
      id = sw.example }
    remote { auth = psk
      id = umi.example }
    children {
      net { local_ts = 10.1.0.0/24
        remote_ts = 10.2.0.0/24
        esp_proposals = aes128gcm16-esn }
    }
  }
}
secrets {
  ike-1 { id-1 = umi.example
    id-2 = sw.example
    secret = "$PSK" }
}
EOF
sw_start blan b
sw_load b "$(umi_tmp b-swanctl.conf)"
iked_start bwan b "$(umi_tmp b-iked.toml)"
ping_b() { ns_exec bwan ping -c "${1:-3}" -i 0.2 -W 2 -I 10.2.0.1 10.1.0.1 >/dev/null; }

swanctl_ b --initiate --child net >/dev/null 2>&1
if wait_for 30 "nat established by strongSwan from behind the NAT" both_up b b nat; then
	tap_ok "b: strongSwan behind the NAT brings the IKE SA and CHILD_SA up with our responder (RFC 7296 §1.2)"
else
	tap_fail "b: strongSwan behind the NAT brings the tunnel up" "$(tail -20 "$(bg_log iked-b)")"
fi

# RFC 7296 §2.23: the peer's SOURCE hash names 172.16.0.2:500, which is not
# where its datagrams came from; the responder follows the port the peer
# moved to (the NAT's mapping of its 4500, not 4500 itself).
peer=$(sas_field b remote)
pport=${peer##*:}
if [ "$(sas_field b nat_remote)" = true ] && [ "$(sas_field b nat_local)" = false ] &&
	[ "${peer%:*}" = 192.0.2.1 ] && [ "$pport" -ge 40000 ] && [ "$pport" -le 40999 ] &&
	[ "$(sas_field b local)" = 192.0.2.2:4500 ]; then
	tap_ok "b: NAT detected in front of the peer; IKE follows it to its mapped port $peer (RFC 7296 §2.23)"
else
	tap_fail "b: NAT detected in front of the peer" "$(iked b sas --json | jq -c '.ike_sas[0] | {nat_local, nat_remote, local, remote}')"
fi

spi_in=$(iked_child b nat spi_in)
spi_out=$(iked_child b nat spi_out)
# RFC 3948 §2.1: outbound to the NAT's mapped port, inbound from it.
if [ "$(encap_line bwan "$spi_out")" = "encap type espinudp sport 4500 dport $pport" ] &&
	[ "$(encap_line bwan "$spi_in")" = "encap type espinudp sport $pport dport 4500" ]; then
	tap_ok "b: xfrm states carry encap espinudp with the mapped port $pport (RFC 3948 §2.1)"
else
	tap_fail "b: xfrm states carry the mapped encap port $pport" "$(xfrm_brief bwan)"
fi

tap_check "b: ping 10.2.0.1 -> 10.1.0.1 from our side through the NAT" ping_b 5
out=$(wire b espudp_out) in=$(wire b espudp_in) raw=$(wire b esp_raw)
n=$(xfrm_sa_packets bwan "$spi_in")
if [ "$out" -ge 5 ] && [ "$in" -ge 5 ] && [ "$raw" = 0 ] && [ "${n:-0}" -ge 5 ]; then
	tap_ok "b: ESP-in-UDP both ways ($out from the peer, $in to it), no raw ESP, our inbound SA decrypted $n (RFC 3948 §2.1, §3.2)"
else
	tap_fail "b: ESP-in-UDP on the wire, decrypted by our inbound SA" "$(wire_all b); SA $spi_in counted ${n:-nothing}"
fi

# RFC 3948 §4: keepalives are the job of the side behind the NAT: the
# peer's arrive, and we send none (asserted once the peer's were seen).
if wait_for 12 "two keepalives from strongSwan" wire_ge b keepalive_out 2 &&
	[ "$(wire b keepalive_in)" = 0 ]; then
	tap_ok "b: keepalives only from the peer behind the NAT ($(wire b keepalive_out)), none from us (RFC 3948 §4)"
else
	tap_fail "b: keepalives only from the side behind the NAT" "$(wire_all b)"
fi

# Our responder rekeys; the new SAs keep the mapped port.
iked b rekey nat net
rekeyed_b() { local s; s=$(iked_child b nat spi_in); [ -n "$s" ] && [ "$s" != "$spi_in" ] && both_up b b nat; }
if wait_for 20 "CHILD_SA rekeyed" rekeyed_b; then
	new_in=$(iked_child b nat spi_in)
	new_out=$(iked_child b nat spi_out)
	if [ "$(encap_line bwan "$new_out")" = "encap type espinudp sport 4500 dport $pport" ] &&
		[ "$(encap_line bwan "$new_in")" = "encap type espinudp sport $pport dport 4500" ] &&
		ping_b 3 && [ "$(xfrm_sa_packets bwan "$new_in")" -ge 3 ] && [ "$(wire b esp_raw)" = 0 ]; then
		tap_ok "b: CHILD_SA rekey $spi_in -> $new_in keeps the mapped encap port (RFC 7296 §1.3.3, RFC 3948)"
	else
		tap_fail "b: CHILD_SA rekey keeps the mapped encap port" "$(xfrm_brief bwan); $(wire_all b)"
	fi
else
	tap_fail "b: CHILD_SA rekey keeps the mapped encap port" "no rekey: $(tail -10 "$(bg_log iked-b)")"
fi

# SIGTERM: Delete through the NAT, nothing left in the kernel.
bg_stop iked-b 8
if [ -z "$(ns_exec bwan ip xfrm state)" ] && [ -z "$(ns_exec bwan ip xfrm policy)" ] &&
	wait_for 10 "strongSwan saw our Delete" sw_gone b nat; then
	tap_ok "b: our Delete reaches the peer through the NAT, no xfrm state or policy left (RFC 7296 §1.4.1)"
else
	tap_fail "b: Delete through the NAT" "$(ns_exec bwan ip xfrm state | head -4); $(swanctl_ b --list-sas | head -3)"
fi
tap_finish
