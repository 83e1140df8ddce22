#!/usr/bin/env bash
# vm-timeout: 600 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_interop.sh):
# umigame-iked against strongSwan 5.9 (charon-systemd), each keying the
# kernel's xfrm of its own namespace, our daemon as initiator and as
# responder.
#
#   ns umi (umigame-iked)                        ns sw (charon-systemd)
#   lo 10.1.0.1, 2001:db8:1::1                   lo 10.2.0.1, 2001:db8:2::1
#   u0 192.0.2.1/24 ------------- veth ------------- s0 192.0.2.2/24
#      2001:db8:ffff::1/64                              2001:db8:ffff::2/64
#
# Connections (one file each side, the same names):
#   v4     IPv4 outer, tunnel 10.1.0.0/24 <-> 10.2.0.0/24, PSK,
#          aes256gcm16-prfsha384-ecp384 / ESP aes128gcm16-esn
#   v6tr   IPv6 outer, transport mode between the outer addresses, PSK,
#          ID_IPV6_ADDR identities, aes128-sha256-prfsha256-modp2048 /
#          ESP aes128-sha256 (CBC+HMAC), ICMPv6 only
#   v6tun  IPv6 outer, tunnel 2001:db8:1::/64 <-> 2001:db8:2::/64, PSK,
#          ID_RFC822_ADDR identities, curve25519 / ESP
#          aes256gcm16-ecp256-esn (PFS on CREATE_CHILD_SA)
# Our daemon runs as nobody with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"

plan=28
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_interop" "needs the 6.1 guest and strongSwan (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 esp6 xfrm4_tunnel xfrm6_tunnel; do modprobe -q "$m" 2>/dev/null; done

PSK="umigame interop test secret, long enough"
ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair umi u0 sw s0
ns_exec umi ip addr add 192.0.2.1/24 dev u0
ns_exec sw ip addr add 192.0.2.2/24 dev s0
ns_exec umi ip addr add 2001:db8:ffff::1/64 dev u0 nodad
ns_exec sw ip addr add 2001:db8:ffff::2/64 dev s0 nodad
ns_exec umi ip addr add 10.1.0.1/32 dev lo
ns_exec sw ip addr add 10.2.0.1/32 dev lo
ns_exec umi ip addr add 2001:db8:1::1/128 dev lo
ns_exec sw ip addr add 2001:db8:2::1/128 dev lo
ns_exec umi ip route add 10.2.0.0/24 via 192.0.2.2 src 10.1.0.1
ns_exec sw ip route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
ns_exec umi ip -6 route add 2001:db8:2::/64 via 2001:db8:ffff::2 src 2001:db8:1::1
ns_exec sw ip -6 route add 2001:db8:1::/64 via 2001:db8:ffff::1 src 2001:db8:2::1
# Only protected traffic counts: each side drops what should have come
# through ESP but did not (no secpath), so a ping cannot pass in the clear.
ns_exec umi nft -f - <<'NFT'
table inet only_esp {
	chain input {
		type filter hook input priority filter;
		ip saddr 10.2.0.0/24 meta ipsec missing counter drop
		ip6 saddr 2001:db8:2::/64 meta ipsec missing counter drop
		ip6 saddr 2001:db8:ffff::2 icmpv6 type echo-reply meta ipsec missing counter drop
	}
}
NFT
ns_exec sw nft -f - <<'NFT'
table inet only_esp {
	chain input {
		type filter hook input priority filter;
		ip saddr 10.1.0.0/24 meta ipsec missing counter drop
		ip6 saddr 2001:db8:1::/64 meta ipsec missing counter drop
		ip6 saddr 2001:db8:ffff::1 icmpv6 type echo-request meta ipsec missing counter drop
	}
}
NFT
# The first ESP SA after boot waits seconds for the crypto modules
# (ARCHITECTURE-NOTES): load them with a throw-away SA before timing.
for n in umi sw; do
	ns_exec $n ip xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0x9 mode tunnel \
		aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 2>/dev/null
	ns_exec $n ip xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0xa mode tunnel \
		enc 'cbc(aes)' 0x0102030405060708090a0b0c0d0e0f10 auth-trunc 'hmac(sha256)' \
		0x0102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f10 128 2>/dev/null
	ns_exec $n ip xfrm state flush
done

# The daemon runs as nobody and reads its file again on SIGHUP.
chmod 755 "$UMI_TMPDIR"
conf=$(umi_tmp iked.toml)
conf_v4=$(umi_tmp iked-v4.part) conf_v6tr=$(umi_tmp iked-v6tr.part) conf_v6tun=$(umi_tmp iked-v6tun.part)
cat >"$conf_v4" <<EOF
[daemon]
control_socket = "$(iked_sock umi)"
# Unprivileged but for CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, as the
# systemd unit runs it.
user = "nobody"

[[connection]]
name = "v4"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
dpd_delay = 2
retransmit_timeout_ms = 1000
retransmit_tries = 4
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
EOF
cat >"$conf_v6tr" <<EOF
[[connection]]
name = "v6tr"
local_addr = "2001:db8:ffff::1"
remote_addr = "2001:db8:ffff::2"
local_id = "ip:2001:db8:ffff::1"
remote_id = "ip:2001:db8:ffff::2"
psk = "$PSK"
ike_proposals = ["aes128-sha256-prfsha256-modp2048"]
[[connection.child]]
name = "host"
mode = "transport"
ip_protocol = 58
esp_proposals = ["aes128-sha256"]
EOF
cat >"$conf_v6tun" <<EOF
[[connection]]
name = "v6tun"
local_addr = "2001:db8:ffff::1"
remote_addr = "2001:db8:ffff::2"
local_id = "email:umi@example.net"
remote_id = "email:sw@example.net"
psk = "$PSK"
ike_proposals = ["aes128gcm16-prfsha256-curve25519"]
[[connection.child]]
name = "net6"
local_ts = ["2001:db8:1::/64"]
remote_ts = ["2001:db8:2::/64"]
esp_proposals = ["aes256gcm16-ecp256-esn"]
EOF
cat "$conf_v4" "$conf_v6tr" "$conf_v6tun" >"$conf"

swconf=$(umi_tmp swanctl.conf)
cat >"$swconf" <<EOF
connections {
  v4 {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes256gcm16-prfsha384-ecp384
    dpd_delay = 2s
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
  v6tr {
    local_addrs = 2001:db8:ffff::2
    remote_addrs = 2001:db8:ffff::1
    proposals = aes128-sha256-prfsha256-modp2048
    local { auth = psk
      id = 2001:db8:ffff::2 }
    remote { auth = psk
      id = 2001:db8:ffff::1 }
    children {
      host { mode = transport
        local_ts = dynamic[ipv6-icmp]
        remote_ts = dynamic[ipv6-icmp]
        esp_proposals = aes128-sha256 }
    }
  }
  v6tun {
    local_addrs = 2001:db8:ffff::2
    remote_addrs = 2001:db8:ffff::1
    proposals = aes128gcm16-prfsha256-curve25519
    local { auth = psk
      id = sw@example.net }
    remote { auth = psk
      id = umi@example.net }
    children {
      net6 { local_ts = 2001:db8:2::/64
        remote_ts = 2001:db8:1::/64
        esp_proposals = aes256gcm16-ecp256-esn }
    }
  }
}
secrets {
  ike-1 { id-1 = umi.example
    id-2 = sw.example
    id-3 = umi@example.net
    id-4 = sw@example.net
    id-5 = 2001:db8:ffff::1
    id-6 = 2001:db8:ffff::2
    secret = "$PSK" }
}
EOF

sw_start sw sw
sw_load sw "$swconf"
iked_start umi umi "$conf"

xfrm_packets() { # NS SPI(hex, no 0x): packets counted on that SA
	ns_exec "$1" ip -s xfrm state | awk -v spi="0x$2" '
		$0 ~ "spi "spi"([^0-9a-f]|$)" {f=1}
		f && /lifetime current/ {g=1}
		g && /\(packets\)/ {sub(/\(packets\).*/, ""); sub(/.* /, ""); print; exit}'
}
child_json() { iked umi sas --json | jq -c --arg c "$1" '[.ike_sas[] | select(.connection == $c and .state == "established") | .children[] | select(.state == "installed")]'; }
spi_in() { child_json "$1" | jq -r '.[0].spi_in // ""'; }
established_both() { # CONN
	[ "$(iked_state umi "$1")" = established ] && [ "$(sw_ike_state sw "$1")" = ESTABLISHED ] &&
		[ "$(iked_children umi "$1")" = 1 ] && [ "$(sw_child_count sw "$1")" = 1 ]
}
ping_ok() { ns_exec umi ping -c 3 -i 0.2 -W 2 "$@" >/dev/null; }

# --- our daemon as initiator -------------------------------------------------
# RFC 7296 §1.2: IKE_SA_INIT + IKE_AUTH with the first CHILD_SA.
iked umi up v4
if wait_for 30 "v4 established on both sides" established_both v4; then
	tap_ok "initiator: v4 IKE SA and CHILD_SA up with strongSwan (RFC 7296 §1.2)"
else
	tap_fail "initiator: v4 IKE SA and CHILD_SA up with strongSwan (RFC 7296 §1.2)" "$(tail -20 "$(bg_log iked-umi)")"
fi
spi=$(spi_in v4)
tap_check "initiator: ping 10.1.0.1 -> 10.2.0.1 through the tunnel" ping_ok -I 10.1.0.1 10.2.0.1
n=$(xfrm_packets umi "$spi")
if [ "${n:-0}" -ge 3 ]; then
	tap_ok "initiator: the inbound SA $spi counted the replies ($n packets)"
else
	tap_fail "initiator: the inbound SA $spi counted the replies" "counted ${n:-nothing}"
fi

# RFC 7296 §1.3.3, §2.8: CHILD_SA rekey, make-before-break, under a ping.
replies_since() { local n; n=$(xfrm_packets umi "$1"); [ "${n:-0}" -gt "$2" ]; }
loss_during() { # CMD...: run a 4 s ping at 20/s while CMD runs; print the loss
	local log spi0 n0
	log=$(umi_tmp ping.$RANDOM)
	spi0=$(spi_in v4)
	n0=$(xfrm_packets umi "$spi0")
	ns_exec umi ping -i 0.05 -c 80 -W 1 -I 10.1.0.1 10.2.0.1 >"$log" 2>&1 &
	local pid=$!
	# The rekey starts once replies are coming through the tunnel.
	wait_for 10 "the ping's replies on SA $spi0" replies_since "$spi0" "${n0:-0}"
	"$@"
	wait $pid
	grep -o '[0-9.]*% packet loss' "$log" | cut -d% -f1
}
rekey_and_wait() {
	iked umi rekey v4 net || return 1
	local t=$((SECONDS + 20))
	while [ $SECONDS -lt $t ]; do
		local now
		now=$(spi_in v4)
		if [ -n "$now" ] && [ "$now" != "$spi" ] && established_both v4; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
loss=$(loss_during rekey_and_wait)
new=$(spi_in v4)
if [ -n "$new" ] && [ "$new" != "$spi" ] && established_both v4 && [ "$loss" = 0 ]; then
	tap_ok "initiator: CHILD_SA rekey $spi -> $new, one CHILD_SA each side, 0% loss (RFC 7296 §1.3.3)"
else
	tap_fail "initiator: CHILD_SA rekey" "spi $spi -> ${new:-none}, loss ${loss:-?}%, ours $(iked_children umi v4), theirs $(sw_child_count sw v4)"
fi
spi=$new

ike_spis() { iked umi sas --json | jq -r --arg c "$1" '[.ike_sas[] | select(.connection == $c and .state == "established")][0] | "\(.spi_i)/\(.spi_r)"'; }
old_ike=$(ike_spis v4)
ike_rekeyed() { local now; now=$(ike_spis v4); [ "$now" != "$old_ike" ] && [ "$now" != "null/null" ] && established_both v4 && [ "$(iked umi sas --json | jq '[.ike_sas[] | select(.connection == "v4")] | length')" = 1 ]; }
loss=$(loss_during sh -c "$UMIGAME_BIN ike rekey v4 --socket $(iked_sock umi) && true")
if wait_for 20 "IKE SA rekeyed" ike_rekeyed && [ "$loss" = 0 ]; then
	tap_ok "initiator: IKE SA rekey $old_ike -> $(ike_spis v4), CHILD_SA kept, 0% loss (RFC 7296 §1.3.2, §2.18)"
else
	tap_fail "initiator: IKE SA rekey" "now $(ike_spis v4), loss ${loss:-?}%; $(iked umi sas)"
fi
tap_check "initiator: traffic still flows after both rekeys" ping_ok -I 10.1.0.1 10.2.0.1

# --- strongSwan rekeys what we set up -----------------------------------------
spi=$(spi_in v4)
sw_rekey_child() { swanctl_ sw --rekey --child "$1" >/dev/null; }
loss=$(loss_during sw_rekey_child net)
sw_rekeyed() { local now; now=$(spi_in v4); [ -n "$now" ] && [ "$now" != "$spi" ] && established_both v4; }
if wait_for 20 "strongSwan's CHILD_SA rekey" sw_rekeyed && [ "$loss" = 0 ]; then
	tap_ok "responder to a CHILD_SA rekey: $spi -> $(spi_in v4), 0% loss (RFC 7296 §1.3.3)"
else
	tap_fail "responder to a CHILD_SA rekey" "spi now $(spi_in v4), loss ${loss:-?}%, theirs $(sw_child_count sw v4)"
fi
old_ike=$(ike_spis v4)
swanctl_ sw --rekey --ike v4 >/dev/null
if wait_for 20 "strongSwan's IKE SA rekey" ike_rekeyed; then
	tap_ok "responder to an IKE SA rekey: $old_ike -> $(ike_spis v4) (RFC 7296 §2.18)"
else
	tap_fail "responder to an IKE SA rekey" "now $(ike_spis v4); $(iked umi sas)"
fi

# RFC 7296 §2.8.1: both ends rekey the same CHILD_SA at once.
spi=$(spi_in v4)
swanctl_ sw --rekey --child net >/dev/null &
sw_pid=$!
iked umi rekey v4 net
wait $sw_pid
settled() { established_both v4 && [ "$(spi_in v4)" != "$spi" ] && [ "$(ns_exec umi ip xfrm state | grep -c '^src')" = 2 ]; }
if wait_for 20 "one CHILD_SA pair after the collision" settled; then
	tap_ok "simultaneous CHILD_SA rekey: one new CHILD_SA each side, no SA leaked (RFC 7296 §2.8.1)"
else
	tap_fail "simultaneous CHILD_SA rekey" "ours $(iked_children umi v4), theirs $(sw_child_count sw v4), xfrm states $(ns_exec umi ip xfrm state | grep -c '^src')"
fi
tap_check "after the collision traffic flows" ping_ok -I 10.1.0.1 10.2.0.1

# RFC 7296 §1.4.1: Delete.
iked umi down v4
gone() { [ -z "$(iked_state umi v4)" ] && [ -z "$(sw_ike_state sw v4)" ] && [ -z "$(ns_exec umi ip xfrm state)" ]; }
if wait_for 20 "v4 deleted on both sides" gone; then
	tap_ok "down: Delete removes the IKE SA on both sides and every xfrm state (RFC 7296 §1.4.1)"
else
	tap_fail "down: Delete" "ours '$(iked_state umi v4)', theirs '$(sw_ike_state sw v4)'"
fi
if [ -z "$(ns_exec umi ip xfrm policy)" ]; then
	tap_ok "down: no xfrm policy left behind"
else
	tap_fail "down: no xfrm policy left behind" "$(ns_exec umi ip xfrm policy)"
fi

# --- our daemon as responder --------------------------------------------------
swanctl_ sw --initiate --child net >/dev/null 2>&1
if wait_for 30 "v4 established by strongSwan" established_both v4; then
	tap_ok "responder: strongSwan brings v4 up with us (RFC 7296 §1.2)"
else
	tap_fail "responder: strongSwan brings v4 up" "$(tail -20 "$(bg_log iked-umi)")"
fi
tap_check "responder: ping through the tunnel" ping_ok -I 10.1.0.1 10.2.0.1
spi=$(spi_in v4)
loss=$(loss_during rekey_and_wait)
if [ "$(spi_in v4)" != "$spi" ] && established_both v4 && [ "$loss" = 0 ]; then
	tap_ok "responder side rekeys its CHILD_SA: 0% loss (RFC 7296 §1.3.3)"
else
	tap_fail "responder side rekeys its CHILD_SA" "loss ${loss:-?}%"
fi

# --- IPv6 outer: transport mode, and a tunnel with PFS -------------------------
iked umi up v6tr
if wait_for 30 "v6tr established" established_both v6tr; then
	tap_ok "IPv6 outer, transport mode: up with strongSwan (RFC 7296 §1.3.1 USE_TRANSPORT_MODE)"
else
	tap_fail "IPv6 outer, transport mode" "$(tail -20 "$(bg_log iked-umi)")"
fi
spi6=$(spi_in v6tr)
tap_check "IPv6 transport: ping6 between the outer addresses" ping_ok -6 2001:db8:ffff::2
n=$(xfrm_packets umi "$spi6")
if [ "${n:-0}" -ge 3 ]; then
	tap_ok "IPv6 transport: echo replies came through ESP (SA $spi6, $n packets, AES-CBC + HMAC-SHA-256-128)"
else
	tap_fail "IPv6 transport: echo replies came through ESP" "SA $spi6 counted ${n:-nothing}"
fi
swanctl_ sw --initiate --child net6 >/dev/null 2>&1
if wait_for 30 "v6tun established" established_both v6tun; then
	tap_ok "IPv6 tunnel, strongSwan initiates, Curve25519 IKE SA (RFC 8031)"
else
	tap_fail "IPv6 tunnel" "$(tail -20 "$(bg_log iked-umi)")"
fi
tap_check "IPv6 tunnel: ping 2001:db8:1::1 -> 2001:db8:2::1" ping_ok -I 2001:db8:1::1 2001:db8:2::1
spi=$(spi_in v6tun)
iked umi rekey v6tun net6
pfs_rekeyed() { local now; now=$(spi_in v6tun); [ -n "$now" ] && [ "$now" != "$spi" ] && established_both v6tun; }
if wait_for 20 "v6tun CHILD_SA rekeyed with PFS" pfs_rekeyed &&
	grep -q "CREATE_CHILD_SA request.*KE" "$(sw_log sw)"; then
	tap_ok "IPv6 tunnel: CHILD_SA rekey with a KE payload (PFS, ECP-256; RFC 7296 §1.3.3)"
else
	tap_fail "IPv6 tunnel: CHILD_SA rekey with PFS" "spi $(spi_in v6tun); $(grep CREATE_CHILD_SA "$(sw_log sw)" | tail -3)"
fi
tap_check "IPv6 tunnel: traffic after the PFS rekey" ping_ok -I 2001:db8:1::1 2001:db8:2::1

# --- reload -------------------------------------------------------------------
# SIGHUP with a broken file: refused with file:line, SAs kept; with v6tr
# removed: its IKE SA is deleted at the peer, the others keep their SPIs.
v4_spis=$(ike_spis v4)
echo 'ike_proposals = ["aes999"]' >>"$conf"
if out=$(iked umi reload 2>&1); then
	tap_fail "reload: a broken file is refused" "accepted: $out"
elif grep -q "iked.toml:[0-9]*:[0-9]*" <<<"$out" && [ "$(ike_spis v4)" = "$v4_spis" ] && established_both v4; then
	tap_ok "reload: a broken file is refused with file:line:column, SAs kept ($(grep -o 'iked.toml:[0-9:]*' <<<"$out"))"
else
	tap_fail "reload: a broken file is refused with file:line:column, SAs kept" "$out; v4 now $(ike_spis v4)"
fi
cat "$conf_v4" "$conf_v6tun" >"$conf"
kill -HUP "${BG_PID[iked-umi]}"
v6tr_gone() { [ -z "$(sw_ike_state sw v6tr)" ] && [ -z "$(iked_state umi v6tr)" ]; }
if wait_for 20 "v6tr deleted by the reload" v6tr_gone && [ "$(ike_spis v4)" = "$v4_spis" ] && established_both v4 &&
	established_both v6tun; then
	tap_ok "reload (SIGHUP): the removed connection's IKE SA is deleted at the peer, unchanged ones keep their SAs"
else
	tap_fail "reload (SIGHUP): removed connection deleted, others kept" "v6tr '$(sw_ike_state sw v6tr)', v4 $v4_spis -> $(ike_spis v4)"
fi
cat "$conf_v4" "$conf_v6tr" "$conf_v6tun" >"$conf"

# --- our daemon restarted -----------------------------------------------------
# SIGTERM sends Delete for every IKE SA (RFC 7296 §1.4.1); nothing stays in
# the kernel.
bg_stop iked-umi 8
sw_empty() { [ -z "$(sw_ike_state sw v4)" ] && [ -z "$(sw_ike_state sw v6tr)" ] && [ -z "$(sw_ike_state sw v6tun)" ]; }
if wait_for 15 "strongSwan saw our Deletes" sw_empty && [ -z "$(ns_exec umi ip xfrm state)" ] &&
	[ -z "$(ns_exec umi ip xfrm policy)" ]; then
	tap_ok "restart: SIGTERM deletes every IKE SA at the peer and leaves no xfrm state or policy"
else
	tap_fail "restart: SIGTERM deletes every IKE SA" "strongSwan: $(swanctl_ sw --list-sas | head -5); xfrm: $(ns_exec umi ip xfrm state | head -3)"
fi
iked_start umi umi "$conf"
iked umi up v4
if wait_for 30 "v4 back after the restart" established_both v4 && ping_ok -I 10.1.0.1 10.2.0.1; then
	tap_ok "restart: the tunnel comes back with a new IKE SA and carries traffic"
else
	tap_fail "restart: the tunnel comes back" "$(tail -10 "$(bg_log iked-umi)")"
fi

# --- dead peer detection --------------------------------------------------------
# RFC 7296 §2.4: strongSwan killed with SIGKILL sends nothing; our liveness
# check (dpd_delay 2 s, 4 retransmissions from 1 s: 31 s) finds it dead.
kill -9 "${BG_PID[charon-sw]}"
dead() { [ -z "$(iked_state umi v4)" ]; }
if wait_for 60 "our daemon notices the dead peer" dead; then
	tap_ok "DPD: a peer killed with SIGKILL is found dead and its SAs removed (RFC 7296 §2.4)"
else
	tap_fail "DPD: a peer killed with SIGKILL" "$(iked umi sas)"
fi
if [ "$(iked umi show --json | jq .counters.dead_peers)" -ge 1 ] && [ -z "$(ns_exec umi ip xfrm state)" ]; then
	tap_ok "DPD: counted as a dead peer, no xfrm state left"
else
	tap_fail "DPD: counted as a dead peer, no xfrm state left" "$(iked umi show --json | jq -c .counters)"
fi
tap_finish
