#!/usr/bin/env bash
# The demo's CE router scene, run by tools/demo.sh on the host: the ISP's
# IPv6 breaks (its router leaves, the Internet's IPv6 goes dark) and a
# laptop that knows nothing of Happy Eyeballs tries to reach a dual-stack
# web server. Behind umigame-dhcp6d it falls back to IPv4 at once (RFC 7084
# G-5: router lifetime 0 on the LAN the moment the WAN's default router is
# gone); behind a router running radvd with a static configuration the
# same laptop waits for its TCP SYNs to time out. The lab is
# selftests/ce/lab.sh (drawn there):
#
#   inet --- isp (Kea, radvd) ---+--- home (umigame-dhcp6d) --- laptop
#                                +--- home2 (radvd, static)  --- laptop2
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=scene.sh
source "$repo/tools/demo/scene.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/ce/lab.sh
source "$repo/selftests/ce/lab.sh"
die() { echo "${R}CE scene: $*${N}"; exit 1; }
[ -x "$DHCP6D" ] || die "no $DHCP6D (make userspace)"

echo "Building the lab: an ISP (Kea delegating, radvd announcing), our CE router"
echo "and, beside it, a router with a static radvd configuration, a laptop behind each."
lab_up >/dev/null

title "the laptop behind umigame-dhcp6d"
run "ip -6 addr show dev eth0 scope global"
ip -n "$(ns_name host)" -6 addr show dev eth0 scope global | grep inet6 | indent
run "ip -6 route show default"
ip -n "$(ns_name host)" -6 route show default | indent
run "umigame dhcp6 show --json | jq '.client | {...}'   (on the CE router)"
lab_show | jq '.client | {delegated: .ias[0].leases[0].prefix, ula, upstream_default, captive_portal,
	ra: (.ra[0] | {router_lifetime, routes})}' | indent

title "the ISP's IPv6 breaks: its router leaves, the Internet's IPv6 goes dark"
lab_break
wait_for 5 "the laptop loses its default route" sh -c "! ip -n $(ns_name host) -6 route show default | grep -q via" &&
	echo "    the laptop behind umigame-dhcp6d has no IPv6 default route any more"
run "a client in getaddrinfo order (no Happy Eyeballs) connects to www.example (AAAA + A)"
ours=$(umi_tmp ours) base=$(umi_tmp base)
lab_connect host >"$ours" &
p1=$!
echo "    ... behind the static radvd router the laptop is still trying IPv6 (${LAB_SYN_RETRIES} SYN retries)"
lab_connect host2 >"$base" &
p2=$!
wait $p1 $p2
read -r ours_s ours_f <"$ours"
read -r base_s base_f <"$base"
printf '    %-32s %8s s  over %s\n' "behind umigame-dhcp6d" "$ours_s" "$ours_f" \
	"behind radvd, static config" "$base_s" "$base_f"
if [ "$ours_f" = IPv4 ] && awk -v t="$ours_s" 'BEGIN { exit !(t < 1) }'; then
	printf '%sBehind our router the laptop fell back to IPv4 at once.%s\n' "$G" "$N"
else
	printf '%sThe laptop did not fall back quickly behind our router.%s\n' "$R" "$N"
fi

title "the ISP's IPv6 comes back"
lab_restore
wait_for 20 "the default route is back" lab_has_default host &&
	echo "    the laptop has its default route again: $(ip -n "$(ns_name host)" -6 route show default | head -1)"
