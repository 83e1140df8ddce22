#!/usr/bin/env bash
# The demo's IKE scene, run INSIDE the Debian 6.1 guest by tools/demo.sh
# (tools/vm/vm-run): umigame-iked negotiates a tunnel with strongSwan, the
# kernel's xfrm and umigame.ko both get the SA, and the replies are
# decrypted in XDP, across a rekey. The lab is selftests/vm/ike_xdp.sh's:
#
#   ns umi (umigame-iked, umigame esp on u0)      ns sw (strongSwan)
#   lo 10.1.0.1   u0 192.0.2.1 ---- veth ---- s0 192.0.2.2   lo 10.2.0.1
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/ike/peers.sh
source "$repo/selftests/ike/peers.sh"
# shellcheck source-path=SCRIPTDIR source=scene.sh
source "$repo/tools/demo/scene.sh"
ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}

for m in esp4 xfrm4_tunnel; do modprobe -q "$m" 2>/dev/null; done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
insmod "$ko" || { echo "cannot load $ko"; exit 1; }

PSK="demo secret, long and random enough"
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
name = "branch"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "hq.example"
remote_id = "branch.example"
psk = "$PSK"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
[[connection.child]]
name = "lan"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
EOT
cat >"$(umi_tmp swanctl.conf)" <<EOT
connections {
  hq {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes128gcm16-prfsha256-ecp256
    local { auth = psk
      id = branch.example }
    remote { auth = psk
      id = hq.example }
    children {
      lan { local_ts = 10.2.0.0/24
        remote_ts = 10.1.0.0/24
        esp_proposals = aes128gcm16-esn }
    }
  }
}
secrets {
  ike-1 { id-1 = hq.example
    id-2 = branch.example
    secret = "$PSK" }
}
EOT
sw_start sw sw
sw_load sw "$(umi_tmp swanctl.conf)"
IKED_KEEP_MOUNTS=1 iked_start umi umi "$conf"

title "umigame-iked's configuration (one connection, one child)"
sed -n '/\[\[connection\]\]/,$p' "$conf" | grep -v psk | indent
run "umigame esp attach u0"
umi esp attach u0 | indent
run "umigame ike up branch"
iked umi up branch
both() { [ "$(iked_children umi branch)" = 1 ] && [ "$(sw_child_count sw hq)" = 1 ]; }
wait_for 30 "the tunnel" both || { echo "    ${R}the tunnel did not come up${N}"; tail -5 "$(bg_log iked-umi)" | indent; exit 1; }
run "umigame ike sas"
iked umi sas | indent
run "swanctl --list-sas   (strongSwan's side)"
swanctl_ sw --list-sas | grep -E "hq:|lan:|ESTABLISHED|INSTALLED|in |out " | indent
run "umigame sa show   (the inbound SA, in umigame.ko too)"
umi sa show | indent

title "traffic through the tunnel, decrypted in XDP"
run "ping -c 5 -I 10.1.0.1 10.2.0.1"
ns_exec umi ping -c 5 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 | tail -2 | indent
run "umigame esp stats"
umi esp stats | head -4 | indent

title "a CHILD_SA rekey (make before break) under a 20/s ping"
old=$(iked umi sas --json | jq -r '.ike_sas[0].children[0].spi_in')
ns_exec umi ping -c 60 -i 0.05 -W 1 -I 10.1.0.1 10.2.0.1 >"$(umi_tmp ping)" 2>&1 &
ping_pid=$!
run "umigame ike rekey branch lan"
iked umi rekey branch lan
rekeyed() { local now; now=$(iked umi sas --json | jq -r '.ike_sas[0].children[] | select(.state == "installed") | .spi_in' | head -1); [ -n "$now" ] && [ "$now" != "$old" ] && both; }
wait_for 20 "the rekey" rekeyed
wait $ping_pid
echo "    SA $old -> $(iked umi sas --json | jq -r '.ike_sas[0].children[0].spi_in'); ping: $(grep -o '[0-9]*% packet loss' "$(umi_tmp ping)")"
run "umigame esp stats"
umi esp stats | head -4 | indent
umi esp detach u0
bg_stop iked-umi
