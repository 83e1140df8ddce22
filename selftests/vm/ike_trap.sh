#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_trap.sh):
# umigame-iked's start actions against strongSwan as responder. "trap"
# installs an outbound policy whose template has no SA: the first packet
# makes the kernel send XFRM_MSG_ACQUIRE (RFC 4301 §5.2's "no SA yet"
# case, Linux's larval state) and the daemon negotiates the CHILD_SA;
# "start" brings its tunnel up as soon as the daemon runs.
#
#   ns umi (umigame-iked)                        ns sw (charon-systemd)
#   lo 10.1.0.1, 10.11.0.1                       lo 10.2.0.1, 10.12.0.1
#   u0 192.0.2.1/24 ------------- veth ------------- s0 192.0.2.2/24
#      192.0.2.11/24                                    192.0.2.12/24
#
#   trap  192.0.2.1 <-> 192.0.2.2, tunnel 10.1.0.0/24 <-> 10.2.0.0/24,
#         start_action = "trap"
#   auto  192.0.2.11 <-> 192.0.2.12, tunnel 10.11.0.0/24 <-> 10.12.0.0/24,
#         start_action = "start"
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"

plan=11
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_trap" "needs the 6.1 guest and strongSwan (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 xfrm4_tunnel; do modprobe -q "$m" 2>/dev/null; done

PSK="umigame trap test secret, long enough"
ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair umi u0 sw s0
ns_exec umi ip addr add 192.0.2.1/24 dev u0
ns_exec umi ip addr add 192.0.2.11/24 dev u0
ns_exec sw ip addr add 192.0.2.2/24 dev s0
ns_exec sw ip addr add 192.0.2.12/24 dev s0
ns_exec umi ip addr add 10.1.0.1/32 dev lo
ns_exec umi ip addr add 10.11.0.1/32 dev lo
ns_exec sw ip addr add 10.2.0.1/32 dev lo
ns_exec sw ip addr add 10.12.0.1/32 dev lo
ns_exec umi ip route add 10.2.0.0/24 via 192.0.2.2 src 10.1.0.1
ns_exec umi ip route add 10.12.0.0/24 via 192.0.2.12 src 10.11.0.1
ns_exec sw ip route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
ns_exec sw ip route add 10.11.0.0/24 via 192.0.2.11 src 10.12.0.1

conf=$(umi_tmp iked.toml)
cat >"$conf" <<EOF
[daemon]
control_socket = "$(iked_sock umi)"

[[connection]]
name = "trap"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
start_action = "trap"
xdp = false

[[connection]]
name = "auto"
local_addr = "192.0.2.11"
remote_addr = "192.0.2.12"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
[[connection.child]]
name = "net"
local_ts = ["10.11.0.0/24"]
remote_ts = ["10.12.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
start_action = "start"
xdp = false
EOF

swconf=$(umi_tmp swanctl.conf)
cat >"$swconf" <<EOF
connections {
  trap {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
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
  auto {
    local_addrs = 192.0.2.12
    remote_addrs = 192.0.2.11
    proposals = aes256gcm16-prfsha384-ecp384
    local { auth = psk
      id = sw.example }
    remote { auth = psk
      id = umi.example }
    children {
      net { local_ts = 10.12.0.0/24
        remote_ts = 10.11.0.0/24
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

sw_start sw sw
sw_load sw "$swconf"
iked_start umi umi "$conf"

pol() { # DIR SRC DST: the policy for those selectors, "" if none
	ns_exec umi ip xfrm policy list dir "$1" src "$2" dst "$3"
}
trap_states() { ns_exec umi ip xfrm state list src 192.0.2.1 dst 192.0.2.2; ns_exec umi ip xfrm state list src 192.0.2.2 dst 192.0.2.1; }
# A trap: only the outbound policy, its template naming the peer, no SA
# and no inbound/forward policy yet. REQID, when given, must be the one.
# shellcheck disable=SC2120 # wait_for passes it
trap_armed() {
	local out
	out=$(pol out 10.1.0.0/24 10.2.0.0/24)
	grep -q "tmpl src 192.0.2.1 dst 192.0.2.2" <<<"$out" &&
		grep -Eq "proto esp reqid ${1:-[0-9]+} mode tunnel" <<<"$out" &&
		[ -z "$(pol in 10.2.0.0/24 10.1.0.0/24)" ] && [ -z "$(pol fwd 10.2.0.0/24 10.1.0.0/24)" ] &&
		! trap_states | grep -q '^src' && [ -z "$(iked_state umi trap)" ]
}
ping_trap() { ns_exec umi ping -c "${1:-3}" -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 >/dev/null; }
acquires() { grep -c "trap/net: acquire for 10.1.0.1 -> 10.2.0.1" "$(bg_log iked-umi)"; }

# --- start_action = "start" -----------------------------------------------------
# Nobody asks: the daemon initiates at start (RFC 7296 §1.2 exchanges).
if wait_for 30 "auto established without an up command" both_up umi sw auto; then
	tap_ok "start: the auto connection comes up by itself at daemon start"
else
	tap_fail "start: the auto connection comes up by itself" "$(tail -20 "$(bg_log iked-umi)")"
fi
tap_check "start: ping 10.11.0.1 -> 10.12.0.1 through it" \
	ns_exec umi ping -c 3 -i 0.2 -W 2 -I 10.11.0.1 10.12.0.1

# --- start_action = "trap" --------------------------------------------------------
# The daemon is up (the auto tunnel proved it read its configuration) and
# nothing was sent towards 10.2.0.0/24: the trap is armed, no SA exists.
if trap_armed; then
	tap_ok "trap: at start only the outbound trap policy, no SA and no IKE SA (RFC 4301 §5.2)"
else
	tap_fail "trap: at start only the outbound trap policy" "$(ns_exec umi ip xfrm policy); states: $(trap_states); ike '$(iked_state umi trap)'"
fi

# The first packet hits the trap: the kernel queues an ACQUIRE (and drops
# the packet, xfrm_larval_drop), the daemon negotiates.
ping_trap 1
if wait_for 30 "the trap's tunnel up after the first packet" both_up umi sw trap && [ "$(acquires)" -ge 1 ]; then
	tap_ok "trap: the first ping makes the kernel send ACQUIRE and the IKE SA + CHILD_SA come up (RFC 7296 §1.2)"
else
	tap_fail "trap: ACQUIRE brings the tunnel up" "acquires logged: $(acquires); $(tail -15 "$(bg_log iked-umi)")"
fi
spi=$(iked_child umi trap spi_in)
reqid=$(iked_child umi trap reqid)
tap_check "trap: a later ping passes through the negotiated tunnel" ping_trap 3
n=$(xfrm_sa_packets umi "$spi")
pols=$(ns_exec umi ip xfrm policy | grep -c '^src 10\.[12]\.0\.0/24')
if [ "${n:-0}" -ge 3 ] && [ "$pols" = 3 ] && grep -q "reqid $reqid mode tunnel" <<<"$(pol in 10.2.0.0/24 10.1.0.0/24)"; then
	tap_ok "trap: the replies came through SA $spi ($n packets); the trap became the out/in/fwd policies of reqid $reqid"
else
	tap_fail "trap: replies through the SA, policies complete" "SA $spi counted ${n:-nothing}; $pols policies: $(ns_exec umi ip xfrm policy)"
fi

# RFC 7296 §1.4.1: after a Delete the trap must be back, or the next
# packet would find no policy and leave in clear.
iked umi down trap
if wait_for 20 "the trap re-armed after our Delete" trap_armed "$reqid"; then
	tap_ok "trap: after down the trap policy (reqid $reqid) is back and no SA is left"
else
	tap_fail "trap: after down the trap policy is back" "$(ns_exec umi ip xfrm policy); states: $(trap_states)"
fi
before=$(acquires)
ping_trap 1
if wait_for 30 "the trap's tunnel up again" both_up umi sw trap && [ "$(acquires)" -gt "$before" ] && ping_trap 3; then
	tap_ok "trap: a packet after down triggers a new ACQUIRE and traffic flows again"
else
	tap_fail "trap: a new ACQUIRE after down" "acquires $before -> $(acquires); $(tail -10 "$(bg_log iked-umi)")"
fi

# The peer ends it (RFC 7296 §1.4.1 from the other side): the trap again.
swanctl_ sw --terminate --ike trap >/dev/null 2>&1
if wait_for 20 "the trap re-armed after the peer's Delete" trap_armed "$reqid"; then
	tap_ok "trap: after strongSwan's Delete the trap policy is back"
else
	tap_fail "trap: after strongSwan's Delete the trap policy is back" "$(ns_exec umi ip xfrm policy); ike '$(iked_state umi trap)'"
fi
if [ "$(iked_state umi auto)" = established ] && ns_exec umi ping -c 2 -i 0.2 -W 2 -I 10.11.0.1 10.12.0.1 >/dev/null; then
	tap_ok "start: the auto tunnel was not touched by the trap's comings and goings"
else
	tap_fail "start: the auto tunnel untouched" "$(iked umi sas)"
fi

# SIGTERM: Delete for auto, trap policies withdrawn, nothing left.
bg_stop iked-umi 8
if [ -z "$(ns_exec umi ip xfrm policy)" ] && [ -z "$(ns_exec umi ip xfrm state)" ] &&
	wait_for 10 "strongSwan saw the Delete" sh -c "! swanctl --list-sas --uri unix://$UMI_TMPDIR/sw-sw/charon.vici 2>/dev/null | grep -q ESTABLISHED"; then
	tap_ok "stop: SIGTERM withdraws the trap policy and deletes the auto tunnel; no xfrm policy or state left"
else
	tap_fail "stop: nothing left after SIGTERM" "$(ns_exec umi ip xfrm policy); $(ns_exec umi ip xfrm state | head -3)"
fi
tap_finish
