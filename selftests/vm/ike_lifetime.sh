#!/usr/bin/env bash
# vm-timeout: 450 (more than the default 300 s: under TCG on a busy machine it runs long)
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_lifetime.sh):
# SA lifetimes. umigame-iked puts its rekey and life times into the xfrm
# states as soft and hard limits; the kernel's soft expire
# (XFRM_MSG_EXPIRE on XFRMNLGRP_EXPIRE) makes it rekey the CHILD_SA
# before the hard limit removes it. The IKE SA is rekeyed on its own timer.
# strongSwan (default lifetimes of an hour) is the peer.
#
#   ns umi (umigame-iked)                        ns sw (charon-systemd)
#   lo 10.1.0.1, 10.11.0.1, 10.21.0.1            lo 10.2.0.1, 10.12.0.1, 10.22.0.1
#   u0 192.0.2.1/24 ------------- veth ------------- s0 192.0.2.2/24
#      192.0.2.11/24, 192.0.2.21/24                     192.0.2.12/24, 192.0.2.22/24
#
#   life     .1 <-> .2    child rekey_time 8, rand_time 2, life_time 20
#   ikelife  .11 <-> .12  IKE SA rekey_time 10, rand_time 2
#   pkts     .21 <-> .22  child rekey_packets 40, no time limit
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"

plan=10
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_lifetime" "needs the 6.1 guest and strongSwan (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 xfrm4_tunnel; do modprobe -q "$m" 2>/dev/null; done

PSK="umigame lifetime test secret, long enough"
ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair umi u0 sw s0
conf=$(umi_tmp iked.toml)
swconf=$(umi_tmp swanctl.conf)
printf '[daemon]\ncontrol_socket = "%s"\n' "$(iked_sock umi)" >"$conf"
echo "connections {" >"$swconf"
for n in 1 11 21; do
	ours=192.0.2.$n theirs=192.0.2.$((n + 1))
	ns_exec umi ip addr add "$ours/24" dev u0
	ns_exec sw ip addr add "$theirs/24" dev s0
	ns_exec umi ip addr add "10.$n.0.1/32" dev lo
	ns_exec sw ip addr add "10.$((n + 1)).0.1/32" dev lo
	ns_exec umi ip route add "10.$((n + 1)).0.0/24" via "$theirs" src "10.$n.0.1"
	ns_exec sw ip route add "10.$n.0.0/24" via "$ours" src "10.$((n + 1)).0.1"
	case $n in
	1) name=life ike_extra="" child_extra=$'rekey_time = 8\nrand_time = 2\nlife_time = 20' ;;
	11) name=ikelife ike_extra=$'rekey_time = 10\nrand_time = 2' child_extra="" ;;
	21) name=pkts ike_extra="" child_extra=$'rekey_time = 0\nrekey_packets = 40' ;;
	esac
	cat >>"$conf" <<-EOF

	[[connection]]
	name = "$name"
	local_addr = "$ours"
	remote_addr = "$theirs"
	local_id = "umi.example"
	remote_id = "sw.example"
	psk = "$PSK"
	ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
	$ike_extra
	[[connection.child]]
	name = "net"
	local_ts = ["10.$n.0.0/24"]
	remote_ts = ["10.$((n + 1)).0.0/24"]
	esp_proposals = ["aes128gcm16-esn"]
	xdp = false
	$child_extra
	EOF
	cat >>"$swconf" <<-EOF
	  $name {
	    local_addrs = $theirs
	    remote_addrs = $ours
	    proposals = aes256gcm16-prfsha384-ecp384
	    local { auth = psk
	      id = sw.example }
	    remote { auth = psk
	      id = umi.example }
	    children {
	      net { local_ts = 10.$((n + 1)).0.0/24
	        remote_ts = 10.$n.0.0/24
	        esp_proposals = aes128gcm16-esn }
	    }
	  }
	EOF
done
cat >>"$swconf" <<EOF
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
log=$(bg_log iked-umi)

all_up() { both_up umi sw life && both_up umi sw ikelife && both_up umi sw pkts; }
soft_logged() { grep -c "SA $1 reached its soft lifetime" "$log"; }
expire_add() { xfrm_state_of umi "$1" | grep -o 'expire add: soft [0-9]*(sec), hard [0-9]*(sec)'; }

for c in life ikelife pkts; do iked umi up $c; done
if wait_for 30 "life, ikelife and pkts up" all_up; then
	tap_ok "three IKE SAs with one CHILD_SA each up with strongSwan (RFC 7296 §1.2)"
else
	tap_fail "three IKE SAs up" "$(tail -20 "$log")"
fi

# --- CHILD_SA lifetime by time ----------------------------------------------------
# RFC 4301 §4.4.2.1: soft and hard lifetimes per SA; the soft one is
# rekey_time less up to rand_time (6-8 s), the hard one life_time.
first_in=$(iked_child umi life spi_in)
first_out=$(iked_child umi life spi_out)
# One snapshot of the life pair's states (a rekey may come at any moment):
# every one has soft 6-8 s and hard 20 s, and there are both directions.
life_limits() {
	{ ns_exec umi ip -s xfrm state list src 192.0.2.1 dst 192.0.2.2
	  ns_exec umi ip -s xfrm state list src 192.0.2.2 dst 192.0.2.1; } |
		grep -o 'expire add: soft [0-9]*(sec), hard [0-9]*(sec)'
}
limits_ok() {
	local l n
	l=$(life_limits)
	n=$(grep -c . <<<"$l")
	[ "$n" -ge 2 ] && ! grep -Ev 'soft [678]\(sec\), hard 20\(sec\)' <<<"$l" | grep -q .
}
if limits_ok; then
	tap_ok "life: the xfrm states carry $(life_limits | sort -u | tr '\n' ' ')(RFC 4301 §4.4.2.1)"
else
	tap_fail "life: xfrm states carry the soft/hard add-time limits" "$(life_limits)"
fi

# A ping at 5/s for 24 s runs across the rekeys; meanwhile note every
# inbound SPI the child has (RFC 7296 §2.8: make before break, no loss).
ping_log=$(umi_tmp life-ping)
ns_exec umi ping -i 0.2 -c 120 -W 2 -I 10.1.0.1 10.2.0.1 >"$ping_log" 2>&1 &
ping_pid=$!
spis=("$first_in")
seen_three() {
	local s
	s=$(iked_child umi life spi_in)
	if [ -n "$s" ] && [ "$s" != "${spis[-1]}" ]; then spis+=("$s"); fi
	[ "${#spis[@]}" -ge 3 ]
}
wait_for 30 "two rekeys of the life CHILD_SA" seen_three
wait "$ping_pid"
loss=$(grep -o '[0-9.]*% packet loss' "$ping_log" | cut -d% -f1)
if [ "${#spis[@]}" -ge 3 ]; then
	tap_ok "life: rekeyed twice before the hard limit: ${spis[*]} (RFC 7296 §2.8)"
else
	tap_fail "life: rekeyed twice before the hard limit" "SPIs seen: ${spis[*]}; $(grep -E 'rekey|lifetime|CHILD_SA' "$log" | tail -8)"
fi
# The kernel's soft expire started each rekey, not the daemon's fallback
# timer (which runs a second later).
if [ "$(soft_logged "${spis[0]}")" -ge 1 ] && [ "$(soft_logged "${spis[1]:-none}")" -ge 1 ]; then
	tap_ok "life: each rekey followed the kernel's soft expire for the old SA (XFRM_MSG_EXPIRE, hard=0)"
else
	tap_fail "life: the kernel's soft expire started the rekeys" "$(grep -E 'lifetime|rekey' "$log" | tail -8)"
fi
if [ "$loss" = 0 ]; then
	tap_ok "life: 0% loss over 120 pings across the rekeys"
else
	tap_fail "life: 0% loss across the rekeys" "$(tail -3 "$ping_log")"
fi
# The old SAs went with their Delete (RFC 7296 §1.4.1), none by the hard
# limit; the current pair carries fresh limits.
old_gone() {
	[ -z "$(xfrm_state_of umi "${spis[0]}")" ] && [ -z "$(xfrm_state_of umi "$first_out")" ] &&
		[ -z "$(xfrm_state_of umi "${spis[1]}")" ] &&
		[ "$(ns_exec umi ip xfrm state list src 192.0.2.1 dst 192.0.2.2 | grep -c '^src')" -le 1 ]
}
if wait_for 10 "the old life SAs gone" old_gone && ! grep -q "reached its hard lifetime" "$log" &&
	limits_ok; then
	tap_ok "life: the old SAs are gone, none reached its hard limit, the current pair has its own limits"
else
	tap_fail "life: old SAs gone, new ones limited" "$(ns_exec umi ip -s xfrm state | grep -E '^src|spi|expire add'); $(grep hard "$log" | tail -3)"
fi

# --- CHILD_SA lifetime by volume ---------------------------------------------------
# RFC 4301 §4.4.2.1 (packet count): no timer stands in for the kernel here.
pk_in=$(iked_child umi pkts spi_in)
pk_out=$(iked_child umi pkts spi_out)
if xfrm_state_of umi "$pk_in" | grep -q "limit: soft 40(packets), hard (INF)(packets)"; then
	tap_ok "pkts: the inbound xfrm state carries soft 40 packets, no hard limit"
else
	tap_fail "pkts: soft packet limit on the xfrm state" "$(xfrm_state_of umi "$pk_in")"
fi
ns_exec umi ping -i 0.05 -c 60 -W 2 -I 10.21.0.1 10.22.0.1 >"$(umi_tmp pkts-ping)" 2>&1
pk_rekeyed() { local s; s=$(iked_child umi pkts spi_in); [ -n "$s" ] && [ "$s" != "$pk_in" ] && both_up umi sw pkts; }
# The outbound SA counts the requests and usually reaches 40 first: the
# expire may name either half of the old pair.
if wait_for 20 "pkts rekeyed after 40 packets" pk_rekeyed &&
	[ $(($(soft_logged "$pk_in") + $(soft_logged "$pk_out"))) -ge 1 ] &&
	grep -q " 0% packet loss" "$(umi_tmp pkts-ping)"; then
	tap_ok "pkts: 60 pings crossed the soft packet limit; the kernel's expire rekeyed $pk_in -> $(iked_child umi pkts spi_in), 0% loss"
else
	tap_fail "pkts: the soft packet limit rekeys" "spi $(iked_child umi pkts spi_in), ours $(iked_children umi pkts), theirs $(sw_child_count sw pkts); $(tail -2 "$(umi_tmp pkts-ping)"); $(grep -E 'pkts.*(lifetime|rekey)' "$log" | tail -3)"
fi

# --- IKE SA rekey by time -------------------------------------------------------------
# RFC 7296 §2.18: a new IKE SA every 8-10 s, the CHILD_SA moving along.
ike_spis() { iked umi sas --json | jq -r '[.ike_sas[] | select(.connection == "ikelife" and .state == "established")][0] | "\(.spi_i)/\(.spi_r)"'; }
ike_count() { iked umi sas --json | jq '[.ike_sas[] | select(.connection == "ikelife")] | length'; }
ike_seen=("$(ike_spis)")
ike_child=$(iked_child umi ikelife spi_in)
two_ike_rekeys() {
	local s
	s=$(ike_spis)
	if [ "$s" != "null/null" ] && [ "$s" != "${ike_seen[-1]}" ]; then ike_seen+=("$s"); fi
	[ "${#ike_seen[@]}" -ge 3 ] && [ "$(ike_count)" = 1 ] && both_up umi sw ikelife
}
if wait_for 30 "two IKE SA rekeys of ikelife" two_ike_rekeys; then
	tap_ok "ikelife: the IKE SA rekeyed itself twice: ${ike_seen[*]}, one IKE SA each side afterwards (RFC 7296 §2.18)"
else
	tap_fail "ikelife: IKE SA rekeyed by time" "seen ${ike_seen[*]}; $(iked umi sas --json | jq -c '[.ike_sas[] | select(.connection == "ikelife") | {state, spi_i, spi_r}]')"
fi
if [ "$(iked_child umi ikelife spi_in)" = "$ike_child" ] &&
	ns_exec umi ping -c 3 -i 0.2 -W 2 -I 10.11.0.1 10.12.0.1 >/dev/null; then
	tap_ok "ikelife: the CHILD_SA $ike_child moved to the new IKE SAs and carries traffic (RFC 7296 §2.18)"
else
	tap_fail "ikelife: the CHILD_SA survives the IKE rekeys" "child now $(iked_child umi ikelife spi_in), was $ike_child"
fi
tap_finish
