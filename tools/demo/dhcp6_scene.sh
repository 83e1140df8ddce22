#!/usr/bin/env bash
# The demo's DHCPv6 scene, run by tools/demo.sh on the host: an ISP (Kea)
# delegates a /56 to the home router (umigame-dhcp6d as requesting router),
# which carves a /64 for its LAN and announces it in its own RAs; a laptop
# there autoconfigures with the kernel's SLAAC and learns the DNS server.
#
#   isp ns                  home ns (router)                   laptop ns
#   wan0 <------------>     wan0   umigame-dhcp6d   lan0 <-->  eth0
#   kea-dhcp6: /56s from    [client]: IA_PD, hint /56,         SLAAC, RDNSS
#   2001:db8:100::/40,      /64 for lan0, RAs with RDNSS
#   DNS 2001:db8:ffff::53
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/dhcp6/kea.sh
source "$repo/selftests/dhcp6/kea.sh"

# shellcheck source-path=SCRIPTDIR source=scene.sh
source "$repo/tools/demo/scene.sh"
die() { echo "${R}dhcp6 scene: $*${N}"; exit 1; }
DHCP6D=${UMIGAME_DHCP6D:-$repo/build/release/userspace/dhcp6d/umigame-dhcp6d}
UMIGAME=${UMIGAME:-$repo/build/release/tools/umigame/umigame}
[ -x "$DHCP6D" ] || die "no $DHCP6D (make userspace)"

for ns in isp home laptop; do
	ns_create "$ns"
	ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ns_sysctl home net.ipv6.conf.all.forwarding=1
veth_pair isp wan0 home wan0
veth_pair home lan0 laptop eth0
ip -n "$(ns_name isp)" -6 addr add 2001:db8:ffff::1/64 dev wan0

KEA_EXTRA_OPTIONS='{ "name": "dns-servers", "data": "2001:db8:ffff::53" },
                   { "name": "domain-search", "data": "home.example" }'
kea_start isp wan0 2001:db8:100::/40 56 30 48 300 600 || die "Kea did not start"
# This ISP sends no RAs: the home router's default route is static. Without
# one it would not offer itself as default router (RFC 7084 G-4, scene 4).
ip -n "$(ns_name home)" -6 route add default via "$(link_local_of isp wan0)" dev wan0

dir=$(umi_tmp home)
mkdir -p "$dir/state"
cat >"$dir/dhcp6d.toml" <<TOML
[daemon]
control_socket = "$dir/control.sock"
state_dir = "$dir/state"

[client]
interface = "wan0"          # upstream, towards the ISP

[[client.prefix]]
iaid = 1
length_hint = 56

[[client.downstream]]
interface = "lan0"          # one /64 of the /56 for the LAN
iaid = 1
length = 64

[client.ra]
min_interval = 3
max_interval = 4
TOML

title "the home router's configuration"
indent <"$dir/dhcp6d.toml"
run "umigame-dhcp6d -c dhcp6d.toml   (in the home router's namespace)"
bg_start home dhcp6d "$DHCP6D" -c "$dir/dhcp6d.toml"
show() { UMIGAME_DHCP6D_SOCKET="$dir/control.sock" "$UMIGAME" dhcp6 show "$@"; }
has_prefix() { json_holds '[.client.ias[]?.leases[]?.prefix] | length > 0' show --json; }
wait_for 30 "the ISP delegates a prefix" has_prefix || die "no prefix from the ISP: $(tail -5 "$(bg_log dhcp6d)")"

title "the ISP's lease (Kea's lease file)"
kea_leases isp | awk -F, 'NR > 1 && $7 == 2 { print "    prefix " $1 "/" $9 " to DUID " $2 }'

title "what the home router holds"
run "umigame dhcp6 show"
show | indent
run "ip -6 addr show dev lan0"
ip -n "$(ns_name home)" -6 addr show dev lan0 | indent

laptop_ready() {
	ip -n "$(ns_name laptop)" -6 addr show dev eth0 scope global | grep -q 'inet6 2001:db8:1' &&
		ip -n "$(ns_name laptop)" -6 route show default | grep -q 'via fe80'
}
wait_for 20 "the laptop autoconfigures" laptop_ready || die "the laptop got nothing"

title "the laptop (kernel SLAAC, no DHCPv6 client)"
run "ip -6 addr show dev eth0 scope global"
ip -n "$(ns_name laptop)" -6 addr show dev eth0 scope global | indent
run "ip -6 route show default"
ip -n "$(ns_name laptop)" -6 route show default | indent
run "rdisc6 -1 eth0   (what the home router announces)"
ip netns exec "$(ns_name laptop)" rdisc6 -1 -w 3000 eth0 2>&1 | grep -E 'Prefix|Recursive DNS|DNS search|preference|lifetime' | indent
printf '%sThe laptop has an address from the ISP'"'"'s prefix, a default route and DNS.%s\n' "$G" "$N"

title "the home router stops: it releases the prefix and withdraws it"
run "systemctl stop umigame-dhcp6d   (here: SIGTERM)"
bg_stop dhcp6d
# Kea marks a released lease with valid lifetime 0.
released() { kea_leases isp | awk -F, 'NR > 1 && $7 == 2 { last = $3 } END { exit !(NR > 1 && last == 0) }'; }
if wait_for 10 "Kea records the Release" released; then
	echo "    Kea's lease file: the prefix is released (valid lifetime 0)"
fi
deprecated() { ip -n "$(ns_name laptop)" -6 addr show dev eth0 scope global | grep -q deprecated; }
wait_for 5 "the laptop's address is deprecated" deprecated
run "ip -6 addr show dev eth0 scope global   (on the laptop, after the router's final RA)"
ip -n "$(ns_name laptop)" -6 addr show dev eth0 scope global | indent
