#!/usr/bin/env bash
# dhcp6_server_rfc8415_netns.sh — umigame-dhcp6d as the delegating router:
# Reconfigure against real requesting routers, and the RFC 8415 rules that
# no real client exercises on demand, checked on the wire.
#
#   Reconfigure (RFC 8415 §18.3.11, §20.4): our own requesting router
#   (cpe1, directly; cpe3, behind ISC dhcrelay -6) and dhcpcd 9 with
#   `option reconfigure_accept` (cpe2) send Reconfigure Accept and are given
#   a Reconfigure Key. T1 is 1000 s, so nothing Renews by itself during the
#   test; a reload then renumbers every pool and each client must Renew at
#   once and number its LAN from the new pool.
#
#   On the wire, from dhcp6_probe.py: an Advertise that offers nothing
#   carries each IA with its status inside (§18.3.9, RFC 3633 erratum
#   2470); a unicast Information-request is dropped and counted (§16); a
#   Confirm is answered from the interface's own addresses, kept current
#   over rtnetlink, or from a relayed link's relay_link (§18.3.3); a
#   Relay-Forward from an address outside relay_allow is dropped and
#   counted, visible in `umigame dhcp6 show`.
#
#   cpe1 ns (our client)  eth0 ---- eth0  srv ns (umigame-dhcp6d)
#   cpe2 ns (dhcpcd)      eth0 ---- eth1    pools 2001:db8:100::/48, :110::/48
#   relay ns (dhcrelay)   eth0 ---- eth2    2001:db8:ee::1/64 (relay ::2)
#     eth1 2001:db8:200::1/64 ---- eth0 cpe3 ns (our client)
#                                            relay_link 2001:db8:200::/64:
#                                            pool 2001:db8:300::/48
#   probe ns              eth0 ---- eth3    2001:db8:c0::1/64, no pool
#   relay2 ns             eth0 ---- eth4    2001:db8:ef::1/64; relay2 has
#                                           ef::2 (allowed) and ef::66 (not)
#
# Every wait is a condition with a deadline; every negative is asserted
# after a counter proved the message arrived. Output is KTAP.
# Environment: UMIGAME_DHCP6D (default build/release/...), UMIGAME (the
# CLI), UMI_KEEP_TMP=1.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=ours.sh
source "$HERE/ours.sh"
PY=/usr/bin/python3
PROTO=214

umi_require ip jq socat dhcpcd dhcrelay tcpdump unshare "$PY"
tap_plan 22
[ -x "$DHCP6D" ] || umi_die "no umigame-dhcp6d at $DHCP6D (make userspace)"
[ -x "$UMIGAME" ] || umi_die "no umigame CLI at $UMIGAME (make userspace)"

# ---- topology -----------------------------------------------------------------
for ns in srv cpe1 cpe2 cpe3 relay probe relay2; do
	ns_create "$ns"
	ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
for ns in cpe1 cpe2 cpe3 relay; do ns_sysctl "$ns" net.ipv6.conf.all.forwarding=1; done
veth_pair srv eth0 cpe1 eth0
veth_pair srv eth1 cpe2 eth0
veth_pair srv eth2 relay eth0
veth_pair relay eth1 cpe3 eth0
veth_pair srv eth3 probe eth0
veth_pair srv eth4 relay2 eth0
for ns in cpe1 cpe2 cpe3; do veth_pair "$ns" lan0 "$ns" lan0p; done
ip -n "$(ns_name srv)" addr add 2001:db8:ee::1/64 dev eth2
ip -n "$(ns_name srv)" addr add 2001:db8:c0::1/64 dev eth3
ip -n "$(ns_name srv)" addr add 2001:db8:ef::1/64 dev eth4
ip -n "$(ns_name relay)" addr add 2001:db8:ee::2/64 dev eth0
ip -n "$(ns_name relay)" addr add 2001:db8:200::1/64 dev eth1
ip -n "$(ns_name probe)" addr add 2001:db8:c0::2/64 dev eth0
ip -n "$(ns_name relay2)" addr add 2001:db8:ef::2/64 dev eth0
ip -n "$(ns_name relay2)" addr add 2001:db8:ef::66/64 dev eth0

# ---- the server -----------------------------------------------------------------
SRV_DIR=$(umi_tmp srv)
mkdir -p "$SRV_DIR/state"
# server_config P0 P1 P3 ALLOW: the pools of eth0, eth1 and the relay link,
# and the relay_allow line ("" for none: any relay).
server_config() {
	cat >"$SRV_DIR/dhcp6d.toml" <<TOML
[daemon]
control_socket = "$SRV_DIR/control.sock"
state_dir = "$SRV_DIR/state"

[server]
interfaces = ["eth0", "eth1", "eth3"]
preferred_lifetime = 2000
valid_lifetime = 4000
t1 = 1000
t2 = 1600
dns_servers = ["2001:db8::53"]
$4

[[server.pool]]
interface = "eth0"
prefix = "$1"
delegated_length = 56

[[server.pool]]
interface = "eth1"
prefix = "$2"
delegated_length = 56

[[server.pool]]
relay_link = "2001:db8:200::/64"
prefix = "$3"
delegated_length = 56
TOML
}
ALLOW='relay_allow = ["2001:db8:ee::2", "2001:db8:ef::2"]'
server_config 2001:db8:100::/48 2001:db8:110::/48 2001:db8:300::/48 "$ALLOW"

show() { printf '{"cmd":"show"}\n' | socat -t 5 - "UNIX-CONNECT:$SRV_DIR/control.sock"; }
server_json() { show | jq -c "$1"; }
counter() { server_json "$1 // 0"; }
reload() { printf '{"cmd":"reload"}\n' | socat -t 5 - "UNIX-CONNECT:$SRV_DIR/control.sock"; }
listening() { ip netns exec "$(ns_name srv)" ss -uln | grep -q ':547 '; }
for dev in eth0 eth1 eth3; do
	wait_for 10 "srv:$dev link-local past DAD" link_local_ready srv "$dev" || umi_die "srv $dev has no link-local address"
done
PCAP=$(umi_tmp srv.pcap)
bg_start srv tcpdump tcpdump -i any --immediate-mode -n -U -w "$PCAP" udp port 546 or udp port 547
wait_for 10 "tcpdump capturing in srv" sh -c "[ -s '$PCAP' ]" || umi_die "tcpdump did not start"
bg_start srv dhcp6d "$DHCP6D" -v -c "$SRV_DIR/dhcp6d.toml"
wait_for 15 "umigame-dhcp6d answers on its control socket" show || umi_die "umigame-dhcp6d did not start: $(tail -5 "$(bg_log dhcp6d)")"
wait_for 5 "umigame-dhcp6d listens on 547" listening || umi_die "umigame-dhcp6d does not listen"

state_diag() {
	echo "server leases: $(server_json '[.server.leases[] | {duid, prefix, address, reconfigure_key}]' 2>&1)"
	echo "server counters: $(server_json .server.counters 2>&1)"
	echo "server routes (proto $PROTO):"
	ip -n "$(ns_name srv)" -6 route show proto $PROTO | sed 's/^/  /'
	for ns in cpe1 cpe2 cpe3; do echo "$ns lan0: $(lan_address "$ns")"; done
	echo "server log:"
	tail -6 "$(bg_log dhcp6d)" | sed 's/^/  /'
}
check_state() {
	local name=$1
	shift
	if wait_for 30 "$name" "$@"; then tap_ok "$name"; else tap_fail "$name" "$(state_diag)"; fi
}
# lan_in NS PREFIX: lan0 of NS has a global address inside PREFIX.
lan_in() {
	local x
	for x in $(ip -n "$(ns_name "$1")" -6 addr show dev lan0 scope global | awk '/inet6/ {split($2, a, "/"); print a[1]}'); do
		in_prefix "$x" "$2" && return 0
	done
	return 1
}
# keyed PREFIX: the server holds a live lease inside PREFIX with a Reconfigure Key.
keyed() { json_holds "[.server.leases[] | select(.reconfigure_key and .prefix != null) | .prefix | select(startswith(\"$1\"))] | length == 1" show; }

# probe_in NS ARGS...: dhcp6_probe.py in NS (one message, the answer as JSON).
probe_in() {
	local ns=$1
	shift
	ip netns exec "$(ns_name "$ns")" "$PY" "$HERE/dhcp6_probe.py" "$@"
}

# ---- requesting routers ------------------------------------------------------------
# ours_client NS: our own requesting router on eth0, downstream lan0.
ours_client() {
	local ns=$1 dir
	dir=$(umi_tmp "client-$ns")
	mkdir -p "$dir/state"
	cat >"$dir/dhcp6d.toml" <<TOML
[daemon]
control_socket = "$dir/control.sock"
state_dir = "$dir/state"

[client]
interface = "eth0"
accept_ra = false
reconfigure_accept = true

[[client.prefix]]
iaid = 1

[[client.downstream]]
interface = "lan0"
TOML
	wait_for 10 "$ns eth0 link-local" link_local_ready "$ns" eth0
	bg_start "$ns" "client-$ns" "$DHCP6D" -v -c "$dir/dhcp6d.toml"
}
client_show() { printf '{"cmd":"show"}\n' | socat -t 5 - "UNIX-CONNECT:$(umi_tmp "client-$1")/control.sock"; }

ours_client cpe1
# RFC 8415 §18.2.1–§18.2.10 with §20.4.1 and §21.20: the client asked with
# Reconfigure Accept and holds the key the server gave it.
ours_keyed() { lan_in cpe1 2001:db8:100::/48 && json_holds '.client.reconfigure_key' client_show cpe1 && keyed 2001:db8:100:; }
check_state "our client is delegated from eth0's pool with a Reconfigure Key (RFC 8415 §20.4.1, §21.20)" ours_keyed

DHCPCD_CONF=$(umi_tmp dhcpcd.conf)
cat >"$DHCPCD_CONF" <<CONF
# A requesting router, DHCPv6 only, no hooks; it announces that it takes
# Reconfigure (option 20, RFC 8415 §21.20): dhcpcd sends it only when asked,
# and a DHCPv6 option name needs its dhcp6_ prefix here (without it dhcpcd
# looks the name up among the DHCPv4 options and refuses it).
script /bin/true
nodev
noipv4
noipv6rs
ipv6only
option dhcp6_reconfigure_accept
allowinterfaces eth0 lan0
interface eth0
	ia_pd 7 lan0/1/64
interface lan0
	noipv6rs
CONF
wait_for 10 "cpe2 eth0 link-local" link_local_ready cpe2 eth0
dhcpcd_start cpe2 "$DHCPCD_CONF" -d
# RFC 8415 §20.4.1, §21.20: the server kept a key for dhcpcd, so dhcpcd
# sent Reconfigure Accept; dhcpcd says it took the key.
dhcpcd_keyed() { lan_in cpe2 2001:db8:110::/48 && keyed 2001:db8:110: && grep -q 'accepted reconfigure key' "$(bg_log dhcpcd)"; }
check_state "dhcpcd is delegated from eth1's pool and accepts the Reconfigure Key (RFC 8415 §20.4.1, §21.20)" dhcpcd_keyed

wait_for 10 "relay link-locals" link_local_ready relay eth1
bg_start relay dhcrelay dhcrelay -6 -d -pf "$(umi_tmp dhcrelay.pid)" -l eth1 -u 2001:db8:ee::1%eth0
ours_client cpe3
# RFC 8415 §19.1–§19.3, §13.1: through an allowed relay.
relayed_keyed() { lan_in cpe3 2001:db8:300::/48 && json_holds '.client.reconfigure_key' client_show cpe3 && keyed 2001:db8:300:; }
check_state "our client behind dhcrelay (an allowed relay) is delegated from the relay link's pool with a key" relayed_keyed

# ---- Reconfigure ------------------------------------------------------------------------
# Nothing has Renewed so far (T1 1000 s); a reload renumbers every pool.
renews_before=$(counter '.server.counters.received.Renew')
tap_diag "Renews before the reload: $renews_before"
server_config 2001:db8:400::/48 2001:db8:410::/48 2001:db8:700::/48 "$ALLOW"
RELOAD=$(reload)
if jq -e .ok <<<"$RELOAD" >/dev/null; then tap_ok "the renumbering reload is taken"; else tap_fail "the renumbering reload is taken" "$RELOAD"; fi
# RFC 8415 §18.3.11: each client is told to Renew at once, and the Renew's
# Reply (§18.3.4) takes the old prefix away and gives one of the new pool.
check_state "our client Renews at once after the Reconfigure and numbers lan0 from the new pool (RFC 8415 §18.3.11, §18.3.4)" \
	lan_in cpe1 2001:db8:400::/48
check_state "dhcpcd Renews at once after the Reconfigure and numbers lan0 from the new pool (RFC 8415 §18.3.11, §20.4.2)" \
	lan_in cpe2 2001:db8:410::/48
check_state "our client behind dhcrelay is reached through the relay and moves to the new pool (RFC 8415 §18.3.11, §19.3)" \
	lan_in cpe3 2001:db8:700::/48
answered() { [ "$(counter '.server.counters.reconfigure.answered')" = 3 ]; }
reconfigure_counted() {
	answered && [ "$(counter .server.counters.reconfigure.unanswered)" = 0 ] &&
		[ "$(counter .server.counters.sent.Reconfigure)" -ge 3 ]
}
tap_check "the server counts three Reconfigures answered, none given up (RFC 8415 §18.3.11)" reconfigure_counted
tap_diag "reconfigure counters: $(server_json .server.counters.reconfigure) sent: $(counter .server.counters.sent.Reconfigure)"
tap_diag "dhcpcd: $(grep -a -E 'RECONFIGURE6|reconfigure key|authentication' "$(bg_log dhcpcd)" | tail -3 | tr '\n' '|')"
# Our client checked the HMAC (§20.4.3) and the replay counter (§20.3).
accepted() { [ "$(client_show "$1" | jq '.client.counters.reconfigure_accepted')" -ge 1 ]; }
tap_check "our clients accepted the Reconfigure as authentic (RFC 8415 §20.4.3)" eval 'accepted cpe1 && accepted cpe3'
routes_moved() {
	local r
	r=$(ip -n "$(ns_name srv)" -6 route show proto $PROTO)
	! grep -qE '^2001:db8:(100|110|300):' <<<"$r" && grep -q '^2001:db8:400:' <<<"$r" &&
		grep -q '^2001:db8:410:' <<<"$r" && grep -q '^2001:db8:700:.* via 2001:db8:ee::2 ' <<<"$r"
}
check_state "the server's routes follow: old prefixes gone, new ones via the same next hops" routes_moved
# The capture: each Reconfigure carries the Reconfigure Key HMAC (protocol
# 3, algorithm 1, type 2) and transaction-id 0 (§18.3.11, §20.4.2).
reconf_on_wire() {
	"$PY" - "$PCAP" <<'PY'
import struct, subprocess, sys
out = subprocess.run(["tcpdump", "-r", sys.argv[1], "-n", "-x", "udp dst port 546 or udp dst port 547"],
                     capture_output=True, text=True).stdout
packets, cur = [], None
for line in out.splitlines():
    if not line.startswith("\t"):
        cur = bytearray(); packets.append(cur); continue
    cur += bytes.fromhex("".join(line.split(":", 1)[1].split()))
seen = 0
for p in packets:
    # tcpdump -x starts at the network layer: IPv6 (40), UDP (8)
    msg = bytes(p[48:])
    while msg and msg[0] == 13 and len(msg) > 34:   # Relay-reply: unwrap
        pos, inner = 34, b""
        while pos + 4 <= len(msg):
            c, l = struct.unpack_from("!HH", msg, pos)
            if c == 9: inner = msg[pos + 4:pos + 4 + l]
            pos += 4 + l
        msg = inner
    if not msg or msg[0] != 10:
        continue
    pos, ok = 4, False
    while pos + 4 <= len(msg):
        c, l = struct.unpack_from("!HH", msg, pos)
        d = msg[pos + 4:pos + 4 + l]
        if c == 11 and l == 28 and d[0] == 3 and d[1] == 1 and d[2] == 0 and d[11] == 2:
            ok = True
        pos += 4 + l
    if ok and msg[1:4] == b"\0\0\0":
        seen += 1
print(seen)
sys.exit(0 if seen >= 3 else 1)
PY
}
# The capture is read once tcpdump has written what it saw (it can trail
# the state checks above by a moment).
RECONF_POINT="the capture holds the Reconfigures, each with xid 0 and an HMAC-MD5 Authentication option (RFC 8415 §20.4.2)"
if wait_for 10 "three Reconfigures in the capture" reconf_on_wire; then
	tap_ok "$RECONF_POINT"
else
	tap_fail "$RECONF_POINT" "$(echo "Reconfigures with xid 0 and the HMAC: $(reconf_on_wire)"
		tcpdump -r "$PCAP" -n 2>/dev/null | tail -20)"
fi

# ---- §18.3.9: an Advertise of nothing ---------------------------------------------------
wait_for 10 "probe eth0 link-local" link_local_ready probe eth0
ADV=$(probe_in probe solicit --iface eth0 --ia-pd 7 --ia-na 3 --oro 23)
tap_diag "Advertise on eth3 (no pool): $ADV"
# RFC 8415 §18.3.9, RFC 3633 §11.2 (erratum 2470): each IA comes back
# without leases and with its status inside; the top-level status stays
# for RFC 3315 clients; the DNS option asked for comes along.
if jq -e '.type == "Advertise" and .status == "NoPrefixAvail"
	and (.ia_pd | length == 1 and .[0].iaid == 7 and .[0].status == "NoPrefixAvail" and (.[0].prefixes | length == 0))
	and (.ia_na | length == 1 and .[0].iaid == 3 and .[0].status == "NoAddrsAvail" and (.[0].addresses | length == 0))
	and (.options | index(23))' <<<"$ADV" >/dev/null; then
	tap_ok "an Advertise that offers nothing carries the IA_PD with NoPrefixAvail and the IA_NA with NoAddrsAvail inside (RFC 8415 §18.3.9)"
else
	tap_fail "an Advertise that offers nothing carries each IA with its status (RFC 8415 §18.3.9)" "got: $ADV"
fi

# ---- §16: unicast Information-request -----------------------------------------------------
SRV_LL3=$(link_local_of srv eth3)
before=$(counter '.server.counters.dropped["unicast Information-request"]')
UNI=$(probe_in probe info --iface eth0 --dst "$SRV_LL3" --oro 23)
UNI_G=$(probe_in probe info --iface eth0 --dst 2001:db8:c0::1 --oro 23)
# RFC 8415 §16: dropped, and counted (the counter proves both arrived).
unicast_dropped() { [ "$(counter '.server.counters.dropped["unicast Information-request"]')" -eq $((before + 2)) ]; }
if [ "$UNI" = null ] && [ "$UNI_G" = null ] && wait_for 5 "two unicast Information-requests counted" unicast_dropped; then
	tap_ok "an Information-request to a unicast address is dropped and counted (RFC 8415 §16)"
else
	tap_fail "an Information-request to a unicast address is dropped and counted (RFC 8415 §16)" \
		"link-local: $UNI global: $UNI_G dropped: $(server_json .server.counters.dropped)"
fi
MULTI=$(probe_in probe info --iface eth0 --oro 23)
tap_check "the same Information-request to ff02::1:2 gets its Reply (RFC 8415 §18.3.6)" \
	jq -e '.type == "Reply" and (.options | index(23))' <<<"$MULTI"

# ---- §18.3.3: Confirm without an address pool ---------------------------------------------
confirm() { probe_in probe confirm --iface eth0 --address "$1" | jq -r '.status // "none"'; }
confirm_is() { [ "$(confirm "$1")" = "$2" ]; }
c_on=$(confirm 2001:db8:c0::99)
c_off=$(confirm 2001:db8:dead::1)
if [ "$c_on" = Success ] && [ "$c_off" = NotOnLink ]; then
	tap_ok "Confirm on eth3 is judged by eth3's own address 2001:db8:c0::1/64 (RFC 8415 §18.3.3)"
else
	tap_fail "Confirm on eth3 is judged by eth3's own address (RFC 8415 §18.3.3)" "c0::99: $c_on, dead::1: $c_off"
fi
# Renumber eth3: the answers follow the interface over rtnetlink.
ip -n "$(ns_name srv)" addr add 2001:db8:c1::1/64 dev eth3
ip -n "$(ns_name srv)" addr del 2001:db8:c0::1/64 dev eth3
check_state "after eth3 is renumbered, Confirm follows its addresses (rtnetlink; RFC 8415 §18.3.3)" \
	eval 'confirm_is 2001:db8:c1::5 Success && confirm_is 2001:db8:c0::99 NotOnLink'

# ---- relays: relay_allow, and Confirm behind a relay ---------------------------------------
wait_for 10 "relay2 eth0 link-local" link_local_ready relay2 eth0
relay2_probe() { probe_in relay2 "$@" --iface eth0 --dst 2001:db8:ef::1; }
RC_ON=$(relay2_probe confirm --src 2001:db8:ef::2 --relay 2001:db8:200::1 --address 2001:db8:200::55)
RC_OFF=$(relay2_probe confirm --src 2001:db8:ef::2 --relay 2001:db8:200::1 --address 2001:db8:1::55)
# RFC 8415 §18.3.3, §13.1: the relayed link's prefix is its pool's relay_link.
if jq -e '.type == "Reply" and .status == "Success" and (.relay | length == 1)' <<<"$RC_ON" >/dev/null &&
	jq -e '.status == "NotOnLink"' <<<"$RC_OFF" >/dev/null; then
	tap_ok "a relayed Confirm is judged by the relay link's relay_link prefix (RFC 8415 §18.3.3, §13.1)"
else
	tap_fail "a relayed Confirm is judged by the relay link's relay_link prefix (RFC 8415 §18.3.3)" "on: $RC_ON off: $RC_OFF"
fi
before=$(counter '.server.counters.dropped["relay not allowed"]')
ROGUE=$(relay2_probe solicit --src 2001:db8:ef::66 --relay 2001:db8:200::1 --ia-pd 1)
refused() { [ "$(counter '.server.counters.dropped["relay not allowed"]')" -eq $((before + 1)) ]; }
# The counter proves the Relay-Forward arrived; it was not answered.
if [ "$ROGUE" = null ] && wait_for 5 "the refusal counted" refused; then
	tap_ok "a Relay-Forward from an address outside relay_allow is dropped and counted"
else
	tap_fail "a Relay-Forward from an address outside relay_allow is dropped and counted" "got: $ROGUE dropped: $(server_json .server.counters.dropped)"
fi
CLI_SHOW=$(UMIGAME_DHCP6D_SOCKET="$SRV_DIR/control.sock" "$UMIGAME" dhcp6 show 2>&1)
if grep -q "relay not allowed.*1" <<<"$CLI_SHOW" && grep -q "2001:db8:ef::2/128" <<<"$CLI_SHOW"; then
	tap_ok "umigame dhcp6 show lists the refusals and the allow-list"
else
	tap_fail "umigame dhcp6 show lists the refusals and the allow-list" "$(grep -E 'relay|dropped' <<<"$CLI_SHOW")"
fi
# Default: any relay, as Kea does.
server_config 2001:db8:400::/48 2001:db8:410::/48 2001:db8:700::/48 ""
RELOAD=$(reload)
ANY=$(relay2_probe solicit --src 2001:db8:ef::66 --relay 2001:db8:200::1 --ia-pd 1)
tap_check "without relay_allow (the default) the same Relay-Forward is answered" \
	jq -e '.type == "Advertise" and (.ia_pd[0].prefixes | length == 1)' <<<"$ANY"

# ---- what a malformed file does --------------------------------------------------------------
server_config 2001:db8:400::/48 2001:db8:410::/48 2001:db8:700::/48 'relay_allow = ["2001:db8::1/32"]'
BAD=$(reload)
kept() { [ "$(server_json .server.relay_allow)" = '"any"' ] && lan_in cpe1 2001:db8:400::/48; }
if ! jq -e .ok <<<"$BAD" >/dev/null 2>&1 && grep -q 'dhcp6d.toml:[0-9]*:[0-9]*' <<<"$BAD" && kept; then
	tap_ok "a relay_allow with host bits is refused with file:line:column and the running state is kept"
else
	tap_fail "a bad relay_allow is refused with file:line:column, state kept" "reload said: $BAD"
fi
tap_check "the server is still running and answering" eval 'bg_running dhcp6d && show >/dev/null'
tap_finish
