#!/usr/bin/env bash
# dhcp6_loadgen_kea_netns.sh — the load generator is checked against Kea
# before it is trusted to judge our server: 200 simulated requesting routers
# ask Kea for prefixes, and what the load generator says it was granted must
# be exactly what Kea's own lease file holds.
#
#   isp ns                         lab ns
#   eth0 (veth)  <------------->   eth0 (veth)
#   kea-dhcp6: pool                umigame-dhcp6-load: 200 DUID-LL clients,
#   2001:db8:100::/40 in /56s      IA_PD each, Solicit/Advertise/Request/Reply
#
# Output is KTAP. Needs root, kea-dhcp6 and the release build.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=kea.sh
source "$HERE/kea.sh"
LOAD=${UMIGAME_DHCP6_LOAD:-$TOP/build/release/tools/loadgen/umigame-dhcp6-load}

umi_require ip ss kea-dhcp6 jq
tap_plan 5

[ -x "$LOAD" ] || umi_die "no load generator at $LOAD (make userspace)"
ns_create isp
ns_create lab
for ns in isp lab; do ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0; done
veth_pair isp eth0 lab eth0
kea_start isp eth0 2001:db8:100::/40 56 || umi_die "Kea did not start: $(tail -5 "$(bg_log kea-isp)")"

wait_for 10 "lab:eth0 link-local address" link_local_ready lab eth0 || umi_die "no link-local address on lab:eth0"

GRANTED=$(umi_tmp granted.txt)
OUT=$(ip netns exec "$(ns_name lab)" "$LOAD" -i eth0 -n 200 -w 16 --json --leases "$GRANTED")
rc=$?
tap_diag "load generator: $OUT"

# RFC 8415 §18.2.1, §18.2.2, §18.3.1, §18.3.2: the four-message exchange.
all_granted() { [ "$rc" = 0 ] && [ "$(jq -r .granted <<<"$OUT")" = 200 ]; }
tap_check "Kea granted all 200 requesting routers a prefix" all_granted
distinct_56s() {
	[ "$(wc -l <"$GRANTED")" = 200 ] && [ "$(awk '{print $3}' "$GRANTED" | sort -u | wc -l)" = 200 ] &&
		! awk '{print $3}' "$GRANTED" | grep -qv '/56$'
}
tap_check "the load generator recorded 200 leases with 200 distinct /56 prefixes" distinct_56s

# Kea's memfile: address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,
# lease_type,iaid,prefix_len,... — lease_type 2 is a delegated prefix.
KEA_VIEW=$(umi_tmp kea_view.txt)
kea_leases isp | awk -F, 'NR > 1 && $7 == 2 && $3 > 0 {
	gsub(":", "", $2); print $2, $8, $1 "/" $9 }' | sort -u >"$KEA_VIEW"
sort -u "$GRANTED" >"$GRANTED.sorted"
only_in() { comm "$1" "$GRANTED.sorted" "$KEA_VIEW" | head -5; [ -z "$(comm "$1" "$GRANTED.sorted" "$KEA_VIEW")" ]; }
tap_check "every lease the load generator recorded is in Kea's lease file, same DUID, IAID and prefix" only_in -23
tap_check "Kea's lease file holds no delegated prefix the load generator did not record" only_in -13

# RFC 8415 §18.2.1 with Rapid Commit (§21.14): two messages, new DUIDs.
OUT=$(ip netns exec "$(ns_name lab)" "$LOAD" -i eth0 -n 50 --seed 2 --rapid-commit --json)
tap_diag "rapid commit: $OUT"
rapid_ok() { [ "$(jq -r .granted <<<"$OUT")" = 50 ] && [ "$(jq -r .duplicates <<<"$OUT")" = 0 ] &&
	[ "$(jq -r .messages_sent <<<"$OUT")" -lt 100 ]; }
tap_check "with Rapid Commit Kea grants 50 more, each Solicit answered by a Reply" rapid_ok
tap_finish
