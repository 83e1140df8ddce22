#!/usr/bin/env bash
# tools/demo.sh — what `make demo` shows. Scene 1: a victim host, a legit
# router and an attacker on one segment, first without and then with
# umigame's XDP RA guard. Scene 2 (tools/demo/dhcp6_scene.sh): an ISP's Kea
# delegates a prefix to umigame-dhcp6d on a home router, a laptop behind it
# autoconfigures. Scene 3 (tools/demo/ce_scene.sh): the ISP's IPv6 breaks;
# the laptop behind umigame-dhcp6d falls back to IPv4 at once, the one
# behind a statically configured radvd router waits. Scene 4
# (tools/demo/esp_scene.sh, in the 6.1 guest): the kernel's xfrm sends ESP,
# umigame decrypts it in XDP. Scene 5 (tools/demo/ike_scene.sh, in the
# guest too): umigame-iked negotiates with strongSwan and keys that path.
# The lab is the one selftests/raguard/raguard_netns.sh tests (shared in
# selftests/raguard/topology.sh); everything lives in network namespaces
# named umi-<run id>-* and is removed on exit, however the demo ends.
#
#   sudo tools/demo.sh            (UMIGAME=path overrides the CLI)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../selftests/lib/netns.sh
source "$ROOT/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../selftests/raguard/topology.sh
source "$ROOT/selftests/raguard/topology.sh"

if [ -t 1 ]; then
	B=$'\e[1m' R=$'\e[31m' G=$'\e[32m' Y=$'\e[33m' N=$'\e[0m'
else
	B='' R='' G='' Y='' N=''
fi

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP)"
for c in ip nsenter tcpdump jq radvd atk6-fake_router26 atk6-flood_router26; do
	command -v "$c" >/dev/null || die "missing $c (make deps)"
done
rag_have_cli || die "no umigame CLI at $UMIGAME (make userspace)"

title() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*"; }
attacker() { printf '\n%s> the attacker %s%s\n' "$Y" "$*" "$N"; }
indent() { sed 's/^/    /'; }

# The victim's routes, attacker's lines in red.
show_victim() {
	say "  victim's routes:"
	ip -n "$(ns_name victim)" -6 route show | indent |
		sed "s/.*\\(via $ATTACKER_LL\\|${ATK_PREFIXES%%::*}\\).*/$R&$N/"
	say "  victim's global addresses:"
	rag_victim_addrs | sed "s/.*${ATK_PREFIXES%%::*}.*/$R&$N/"
	say "  DNS servers the victim was told about:"
	rag_rdnss_lines |
		awk '{ for (i = 5; i <= NF; i++) print $i " (from " $3 ")" }' |
		sort -u | indent | sed "s/.*${ATK_PREFIXES%%::*}.*/$R&$N/"
}

show_router_neigh() {
	local n
	n=$(ip -n "$(ns_name victim)" -6 neigh show "$ROUTER_LL" dev "$VICTIM_IF")
	say "  victim's neighbor entry for the router $ROUTER_LL:"
	[ -n "$n" ] || n="(none: the victim has not talked to it since)"
	indent <<<"$n" | sed "s/.*$ATTACKER_MAC.*/$R& (the attacker's MAC!)$N/"
}

DROPS="ra_untrusted_source ra_block_all ra_prefix ra_preference ra_managed_flag
ra_other_flag ra_lladdr_mismatch nd_fragment incomplete_chain chain_too_long
malformed dhcp6_server_untrusted"

guard_json() { rag_guard show "$VICTIM_IF" --json 2>/dev/null; }

drops_total() {
	guard_json | jq --arg r "$DROPS" \
		'[.ports[0].counters as $c | ($r | split("\\s+"; null))[] |
		  select(. != "") | $c[.].packets // 0] | add'
}

# guarded_try DESC CMD...: run an attack with the guard on, wait until the
# guard has counted it, print what it counted.
guarded_try() {
	local desc=$1 before total0
	shift
	attacker "$desc"
	before=$(guard_json)
	total0=$(drops_total)
	"$@" || say "  (attack tool failed: see $(umi_tmp attack.log))"
	drops_grew() { [ "$(drops_total)" -gt "$total0" ]; }
	wait_for 10 "the guard counts the attack" drops_grew || return 0
	jq -rn --argjson a "$before" --argjson b "$(guard_json)" --arg drops "$DROPS" \
		--arg g "$G" --arg n "$N" '
		($drops | split("\\s+"; null)) as $dl
		| $b.ports[0].counters | to_entries[]
		| (.value.packets - ($a.ports[0].counters[.key].packets // 0)) as $d
		| select($d > 0 and .key != "ra_trusted")
		| if (.key | IN($dl[])) then "  \($g)guard dropped \($d): \(.key)\($n)"
		  else "  guard passed \($d): \(.key)" end'
}

fr26() { rag_attack 10 atk6-fake_router26 "$@" -n 2 -i 1 eth0; }

cat <<EOF
${B}umigame RA guard demo${N}

  router ns                      attacker ns
  eth0 $ROUTER_MAC         eth0 $ATTACKER_MAC
  $ROUTER_LL, radvd:            $ATTACKER_LL, thc-ipv6
  $LEGIT_PREFIX, DNS $LEGIT_DNS
          \\                        /
           +------- segment -------+   (macvlan in bridge mode on a veth)
                       |
  victim ns            |
  $VICTIM_IF $VICTIM_MAC   <- the guard: XDP on this port, ingress
  takes every RA it hears (accept_ra=2, route options up to /64)
EOF

title "setting up"
rag_topology_up || die "cannot build the topology"
rag_rdnss_watch_start || die "RDNSS listener did not start"
rag_router_start
wait_for 20 "victim configured by the legit router" rag_victim_legit_ok ||
	die "the victim never heard the router"
wait_for 10 "victim told about $LEGIT_DNS" rag_victim_saw_dns "$LEGIT_DNS"
say "the victim is configured by the legit router:"
show_victim

title "act 1: no guard"
attacker "announces itself as a high-preference default router, prefix
  2001:db8:bad:1::/64, route 2001:db8:dead:1::/64, DNS 2001:db8:bad:ffff::1
  (atk6-fake_router26)"
fr26 -A 2001:db8:bad:1::/64 -R 2001:db8:dead:1::/64 -D 2001:db8:bad:ffff::1
wait_for 10 "the victim takes the attacker's prefix" \
	rag_victim_addr_in 2001:db8:bad:1::/64
attacker "pretends to be the router: source $ROUTER_LL and the router's
  MAC, but its own MAC in the source link-layer option"
fr26 -s "$ROUTER_LL" -f "$ROUTER_MAC" -A "$LEGIT_PREFIX" -p medium
wait_for 10 "the victim's neighbor entry for the router points at the attacker" \
	rag_router_neigh_poisoned && show_router_neigh
say "  (the router's next RA repairs the entry, the attacker's next one breaks"
say "  it again: whoever sends more often wins)"
show_victim
say ""
say "${R}The victim now routes through the attacker and asks it for DNS.${N}"

title "act 2: the RA guard"
say "(the victim forgets what the attacker told it)"
rag_victim_forget
rag_policy "$(umi_tmp policy.toml)"
say "policy $(umi_tmp policy.toml):"
indent <"$(umi_tmp policy.toml)"
say "\$ umigame raguard attach $VICTIM_IF --policy policy.toml"
on_cleanup "rag_guard detach $VICTIM_IF"
rag_guard attach "$VICTIM_IF" --policy "$(umi_tmp policy.toml)" | indent ||
	die "attach failed"

guarded_try "repeats the fake router" \
	fr26 -A 2001:db8:bad:2::/64 -R 2001:db8:dead:2::/64 -D 2001:db8:bad:ffff::2
guarded_try "hides the RA behind a hop-by-hop header (-E H)" \
	fr26 -E H -A 2001:db8:bad:3::/64
guarded_try "splits it so the first fragment has no ICMPv6 header (-E D)" \
	fr26 -E D -A 2001:db8:bad:4::/64
guarded_try "sends it as an atomic fragment" \
	rag_craft --atomic-fragment --prefix 2001:db8:bad:5::/64 --count 2
guarded_try "impersonates the router again (its own MAC in the SLLA option)" \
	fr26 -s "$ROUTER_LL" -f "$ROUTER_MAC" -A "$LEGIT_PREFIX" -p medium
guarded_try "impersonates the router perfectly, but with its own prefix" \
	fr26 -s "$ROUTER_LL" -S "$ROUTER_MAC" -f "$ROUTER_MAC" \
	-A 2001:db8:bad:6::/64 -p medium
guarded_try "floods RAs from random addresses for one second" \
	rag_attack 1 atk6-flood_router26 eth0

title "the victim, after all that"
# radvd's next RA (every 3-4 s) refreshes the neighbor entry; wait for it
# so the table shows the steady state.
wait_for 10 "victim keeps the legit router" rag_victim_legit_ok
show_victim
show_router_neigh
if rag_victim_clean; then
	say "${G}Nothing from the attacker reached the victim.${N}"
else
	say "${R}The victim took something from the attacker.${N}"
fi

title "\$ umigame raguard show $VICTIM_IF"
rag_guard show "$VICTIM_IF"
title "\$ umigame raguard events $VICTIM_IF   (the first 8)"
timeout 10 nsenter --net="/run/netns/$(ns_name victim)" "$UMIGAME" raguard events \
	"$VICTIM_IF" --count 8 --timeout 3 | head -n 8

rag_guard detach "$VICTIM_IF"

title "scene 2: DHCPv6 prefix delegation, from the ISP to a laptop"
DEMO_COLOR=$([ -n "$B" ] && echo 1 || echo 0) "$ROOT/tools/demo/dhcp6_scene.sh" || say "${R}the DHCPv6 scene failed (see above)${N}"

title "scene 3: a CE router when the ISP's IPv6 breaks"
DEMO_COLOR=$([ -n "$B" ] && echo 1 || echo 0) "$ROOT/tools/demo/ce_scene.sh" || say "${R}the CE router scene failed (see above)${N}"

title "scene 4: IPsec ESP decrypted in XDP"
say "The host kernel has no ESP and no module loading, so this scene runs in a"
say "Debian 6.1 guest (QEMU without KVM: about a minute)."
if [ -f "$ROOT/build/kmod/umigame.ko" ]; then
	"$ROOT/tools/vm/vm-run" --timeout 300 --env "DEMO_COLOR=$([ -n "$B" ] && echo 1 || echo 0)" \
		-- tools/demo/esp_scene.sh ||
		say "${R}the ESP scene failed (see above)${N}"
else
	say "${Y}skipped: build/kmod/umigame.ko is missing (make kmod)${N}"
fi

title "scene 5: IKEv2 keys the fast path"
say "umigame-iked and strongSwan negotiate a tunnel; its SA is decrypted in XDP"
say "(in the Debian 6.1 guest as well)."
if [ -f "$ROOT/build/kmod/umigame.ko" ]; then
	"$ROOT/tools/vm/vm-run" --timeout 300 --env "DEMO_COLOR=$([ -n "$B" ] && echo 1 || echo 0)" \
		-- tools/demo/ike_scene.sh ||
		say "${R}the IKE scene failed (see above)${N}"
else
	say "${Y}skipped: build/kmod/umigame.ko is missing (make kmod)${N}"
fi

title "done"
say "namespaces umi-$UMI_RUN_ID-* are removed on exit."
