#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_xdp.sh): a
# CHILD_SA that umigame-iked negotiates with strongSwan is decrypted by the
# XDP program and umigame.ko (docs/ike.md, "The XDP fast path"), across a
# rekey, and by xfrm again once the program is detached.
#
#   ns umi (umigame-iked, umigame esp on u0)      ns sw (charon-systemd)
#   lo 10.1.0.1                                    lo 10.2.0.1
#   u0 192.0.2.1/24 ------------- veth ------------- s0 192.0.2.2/24
#
# Connection v4: tunnel 10.1.0.0/24 <-> 10.2.0.0/24, PSK, ESP AES-GCM-128
# with ESN (the suite umigame.ko decrypts).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"
ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}

plan=10
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_xdp" "needs the 6.1 guest and strongSwan (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 xfrm4_tunnel; do modprobe -q "$m" 2>/dev/null; done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
tap_check "insmod umigame.ko" insmod "$ko"

PSK="umigame interop test secret, long enough"
ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair umi u0 sw s0
ns_exec umi ip addr add 192.0.2.1/24 dev u0
ns_exec sw ip addr add 192.0.2.2/24 dev s0
ns_exec umi ip addr add 10.1.0.1/32 dev lo
ns_exec sw ip addr add 10.2.0.1/32 dev lo
ns_exec umi ip route add 10.2.0.0/24 via 192.0.2.2 src 10.1.0.1
ns_exec sw ip route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
umi() { ns_nsenter umi "$UMIGAME_BIN" "$@"; }

conf=$(umi_tmp iked.toml)
cat >"$conf" <<EOT
[daemon]
control_socket = "$(iked_sock umi)"
[[connection]]
name = "v4"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "umi.example"
remote_id = "sw.example"
psk = "$PSK"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
# Rekey after 100 packets: the XDP program's packets count only in
# umigame.ko, which the daemon reads (xfrm's own soft limit never sees them).
rekey_packets = 100
EOT
swconf=$(umi_tmp swanctl.conf)
cat >"$swconf" <<EOT
connections {
  v4 {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes128gcm16-prfsha256-ecp256
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
EOT
sw_start sw sw
sw_load sw "$swconf"
IKED_KEEP_MOUNTS=1 iked_start umi umi "$conf"

xfrm_packets() { # SPI (hex, no 0x): packets xfrm decrypted on our inbound SA
	ns_exec umi ip -s xfrm state | awk -v spi="0x$1" '
		$0 ~ "spi "spi"([^0-9a-f]|$)" {f=1}
		f && /lifetime current/ {g=1}
		g && /\(packets\)/ {sub(/\(packets\).*/, ""); sub(/.* /, ""); print; exit}'
}
spi_in() { iked umi sas --json | jq -r '[.ike_sas[] | select(.state == "established") | .children[] | select(.state == "installed")][0].spi_in // ""'; }
decrypted() { umi esp stats --json | jq -r '.reasons.decrypted.packets'; }
module_has() { umi sa show --json | jq -e --argjson spi "$((16#$1))" 'any(.sas[]; .spi == $spi)' >/dev/null; }
ping20() { ns_exec umi ping -c 20 -i 0.05 -W 2 -I 10.1.0.1 10.2.0.1 >/dev/null; }
up() { [ "$(iked_children umi v4)" = 1 ] && [ "$(sw_child_count sw v4)" = 1 ]; }

if out=$(umi esp attach u0 2>&1); then
	tap_ok "umigame esp attach u0 ($out)"
else
	tap_fail "umigame esp attach u0" "$out"
fi
iked umi up v4
if wait_for 30 "v4 up" up; then
	tap_ok "umigame-iked brings v4 up with strongSwan while umigame.ko is loaded"
else
	tap_fail "umigame-iked brings v4 up" "$(tail -20 "$(bg_log iked-umi)")"
fi
spi=$(spi_in)
if module_has "$spi"; then
	tap_ok "the inbound SA $spi is also in umigame.ko's table"
else
	tap_fail "the inbound SA $spi is also in umigame.ko's table" "$(umi sa show 2>&1)"
fi
before=$(decrypted)
if ping20 && [ "$(($(decrypted) - before))" -ge 20 ] && [ "$(xfrm_packets "$spi")" = 0 ]; then
	tap_ok "20 replies decrypted in XDP ($(($(decrypted) - before)) counted), none by xfrm's state"
else
	tap_fail "replies decrypted in XDP" "XDP $before -> $(decrypted), xfrm $(xfrm_packets "$spi")"
fi

# A rekey: the new inbound SA reaches the module and the program's map.
iked umi rekey v4 net
rekeyed() { local now; now=$(spi_in); [ -n "$now" ] && [ "$now" != "$spi" ] && up && ! module_has "$spi" && module_has "$now"; }
if wait_for 20 "the rekeyed SA in umigame.ko" rekeyed; then
	tap_ok "CHILD_SA rekey $spi -> $(spi_in): the module holds the new SA, not the old"
else
	tap_fail "CHILD_SA rekey reaches the module" "$(umi sa show 2>&1)"
fi
spi=$(spi_in)
before=$(decrypted)
if ping20 && [ "$(($(decrypted) - before))" -ge 20 ] && [ "$(xfrm_packets "$spi")" = 0 ]; then
	tap_ok "after the rekey: decrypted in XDP, xfrm's state untouched"
else
	tap_fail "after the rekey: decrypted in XDP" "XDP $before -> $(decrypted), xfrm $(xfrm_packets "$spi")"
fi

# Volume-based rekey from the module's counters: 150 UDP datagrams from
# the peer, nothing back (so our outbound SA's xfrm limit stays far away).
spi=$(spi_in)
ns_exec sw bash -c 'for i in $(seq 150); do echo x >/dev/udp/10.1.0.1/9; done' 2>/dev/null
volume_rekeyed() { local now; now=$(spi_in); [ -n "$now" ] && [ "$now" != "$spi" ] && up; }
if wait_for 20 "a rekey after 100 packets decrypted in XDP" volume_rekeyed &&
	grep -q "passed its rekey volume" "$(bg_log iked-umi)" &&
	! grep -q "reached its soft lifetime" "$(bg_log iked-umi)"; then
	tap_ok "rekey_packets counted by umigame.ko: $spi -> $(spi_in) after 150 packets decrypted in XDP"
else
	tap_fail "rekey_packets counted by umigame.ko" "spi $(spi_in); $(grep -E 'volume|soft' "$(bg_log iked-umi)" | tail -3)"
fi
spi=$(spi_in)

# Without the program, xfrm decrypts the same SA (the optional "level use"
# templates of the in/fwd policies accept both paths, docs/ike.md).
tap_check "umigame esp detach u0" umi esp detach u0
if ping20 && [ "$(xfrm_packets "$spi")" -ge 20 ]; then
	tap_ok "XDP detached: xfrm decrypts the same SA ($(xfrm_packets "$spi") packets)"
else
	tap_fail "XDP detached: xfrm decrypts the same SA" "xfrm $(xfrm_packets "$spi")"
fi
bg_stop iked-umi 8
tap_finish
