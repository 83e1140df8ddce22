#!/usr/bin/env bash
# dhcp6_server_netns.sh — umigame-dhcp6d as the delegating router, against
# real requesting routers: WIDE dhcp6c and dhcpcd on their own links, and
# dhcp6c again behind ISC dhcrelay -6. Each must put an address of its
# delegated prefix on its downstream interface (their own kernel state),
# and the server must route each prefix towards it. Then: the server
# restarts and leases and routes survive, the same prefix is delegated
# again; a Release takes the route away; thc-ipv6's fuzz_dhcps6 neither
# crashes the server nor keeps it from serving, and its garbage is counted.
#
#   cpe1 ns (dhcp6c)          srv ns (umigame-dhcp6d)          cpe2 ns (dhcpcd)
#   lan0 = downstream         eth0 ------------ eth0 cpe1       lan0 = downstream
#   (veth to lan0p)           pool 2001:db8:100::/48 in /56s    (veth to lan0p)
#   eth0 --------------------
#                             eth1 ------------ eth0 cpe2
#                             pool 2001:db8:110::/48 in /56s,
#                             addresses (IA_NA) 2001:db8:eeee:1::/64
#                             eth2 2001:db8:ee::1/64
#                               |
#                             relay ns: eth0 2001:db8:ee::2/64
#                               dhcrelay -6 -l eth1 -u 2001:db8:ee::1%eth0
#                               eth1 2001:db8:200::1/64 ---- eth0 cpe3 ns (dhcp6c)
#                             pool for relay link 2001:db8:200::/64:
#                             2001:db8:300::/48 in /56s
#
# Routes on srv carry rtm_protocol 214 (the server's own): each delegated
# prefix via the requesting router's link-local address (or, for cpe3, via
# the relay's address) on the interface its request came in on.
#
# Every wait is a condition with a deadline; every namespace and process is
# cleaned up by the trap in netns.sh, also on failure. Output is KTAP.
# Needs root, dhcp6c, dhcpcd, jq, socat; dhcrelay and atk6-fuzz_dhcps6
# points are skipped without them.
#
# Environment: UMIGAME_DHCP6D (default build/release/...), UMI_KEEP_TMP=1.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=ours.sh
source "$HERE/ours.sh"
DHCP6D=${UMIGAME_DHCP6D:-$TOP/build/release/userspace/dhcp6d/umigame-dhcp6d}
PY=/usr/bin/python3 # the interpreter Debian's packages are installed for
PROTO=214

umi_require ip jq socat dhcp6c dhcpcd unshare "$PY"
tap_plan 18
[ -x "$DHCP6D" ] || umi_die "no umigame-dhcp6d at $DHCP6D (make userspace)"

# ---- topology -----------------------------------------------------------------
for ns in srv cpe1 cpe2 cpe3 relay; do
	ns_create "$ns"
	ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
for ns in cpe1 cpe2 cpe3 relay; do ns_sysctl "$ns" net.ipv6.conf.all.forwarding=1; done
veth_pair srv eth0 cpe1 eth0
veth_pair srv eth1 cpe2 eth0
veth_pair srv eth2 relay eth0
veth_pair relay eth1 cpe3 eth0
for ns in cpe1 cpe2 cpe3; do veth_pair "$ns" lan0 "$ns" lan0p; done
ip -n "$(ns_name srv)" addr add 2001:db8:ee::1/64 dev eth2
ip -n "$(ns_name relay)" addr add 2001:db8:ee::2/64 dev eth0
ip -n "$(ns_name relay)" addr add 2001:db8:200::1/64 dev eth1

# ---- the server -------------------------------------------------------------------
SRV_DIR=$(umi_tmp srv)
mkdir -p "$SRV_DIR/state"
cat >"$SRV_DIR/dhcp6d.toml" <<TOML
[daemon]
control_socket = "$SRV_DIR/control.sock"
state_dir = "$SRV_DIR/state"

[server]
interfaces = ["eth0", "eth1"]
preferred_lifetime = 300
valid_lifetime = 600
t1 = 150
t2 = 240
dns_servers = ["2001:db8::53"]
domain_search = ["example.net"]

[[server.pool]]
interface = "eth0"
prefix = "2001:db8:100::/48"
delegated_length = 56

[[server.pool]]
interface = "eth1"
prefix = "2001:db8:110::/48"
delegated_length = 56

[[server.address_pool]]
interface = "eth1"
prefix = "2001:db8:eeee:1::/64"

[[server.pool]]
relay_link = "2001:db8:200::/64"
prefix = "2001:db8:300::/48"
delegated_length = 56
TOML

show() { printf '{"cmd":"show"}\n' | socat -t 5 - "UNIX-CONNECT:$SRV_DIR/control.sock"; }
server_json() { show | jq -c "$1"; }
listening() { ip netns exec "$(ns_name srv)" ss -uln | grep -q '\]:547 \|:547 '; }
start_server() {
	wait_for 10 "srv:eth0 link-local past DAD" link_local_ready srv eth0 || return 1
	wait_for 10 "srv:eth1 link-local past DAD" link_local_ready srv eth1 || return 1
	bg_start srv dhcp6d "$DHCP6D" -v -c "$SRV_DIR/dhcp6d.toml"
	wait_for 15 "umigame-dhcp6d answers on its control socket" show || return 1
	wait_for 5 "umigame-dhcp6d listens on 547" listening
}
start_server || umi_die "umigame-dhcp6d did not start: $(tail -5 "$(bg_log dhcp6d)")"

# srv_route_via DEV: the delegated prefix our server routes out of DEV.
srv_route_via() { ip -n "$(ns_name srv)" -6 route show proto $PROTO dev "$1" | awk '{print $1}'; }
# delegated NS DEV: lan0 of NS holds an address inside the prefix routed out
# of DEV on srv, and that route's next hop is NEXTHOP (optional).
delegated() {
	local ns=$1 dev=$2 nexthop=${3:-} prefix address
	prefix=$(srv_route_via "$dev")
	address=$(lan_address "$ns")
	[ -n "$prefix" ] && [ -n "$address" ] && in_prefix "$address" "$prefix" || return 1
	[ -z "$nexthop" ] || ip -n "$(ns_name srv)" -6 route show proto $PROTO dev "$dev" | grep -q "via $nexthop "
}
link_local_of() { ip -n "$(ns_name "$1")" -6 addr show dev "$2" scope link | awk '/inet6/ {split($2, a, "/"); print a[1]; exit}'; }
state_diag() {
	echo "server routes (proto $PROTO):"
	ip -n "$(ns_name srv)" -6 route show proto $PROTO | sed 's/^/  /'
	for ns in cpe1 cpe2 cpe3; do echo "$ns lan0: $(lan_address "$ns")"; done
	echo "server counters: $(server_json .server.counters 2>&1)"
	echo "server log:"
	tail -8 "$(bg_log dhcp6d)" | sed 's/^/  /'
}
check_state() {
	local name=$1
	shift
	if wait_for 30 "$name" "$@"; then tap_ok "$name"; else tap_fail "$name" "$(state_diag)"; fi
}

# ---- WIDE dhcp6c (cpe1) -------------------------------------------------------------
# Its DUID file lives at a fixed path: each instance gets a private one via
# a mount namespace, so the host's /var/lib/dhcpv6 is never written.
start_dhcp6c() {
	local ns=$1 iaid=$2 dir
	dir=$(umi_tmp "dhcp6c-$ns")
	mkdir -p "$dir/lib"
	cat >"$dir/dhcp6c.conf" <<CONF
interface eth0 {
	send ia-pd $iaid;
	request domain-name-servers;
	request domain-name;
};
id-assoc pd $iaid {
	prefix-interface lan0 {
		sla-id 1;
		sla-len 8;
	};
};
CONF
	bg_start "$ns" "dhcp6c-$ns" unshare --mount sh -c \
		"mount --bind '$dir/lib' /var/lib/dhcpv6 && exec dhcp6c -f -d -c '$dir/dhcp6c.conf' -p '$dir/pid' eth0"
}
wait_for 10 "cpe1 eth0 link-local" link_local_ready cpe1 eth0
start_dhcp6c cpe1 1
CPE1_LL=$(link_local_of cpe1 eth0)
# RFC 8415 §18.2.1, §18.3.1, §18.3.2, §6.3: Solicit/Advertise/Request/Reply,
# the prefix on the downstream link, our route towards the requesting router.
check_state "dhcp6c gets a /56 from eth0's pool, puts it on lan0; srv routes it via its link-local" \
	delegated cpe1 eth0 "$CPE1_LL"
CPE1_PREFIX=$(srv_route_via eth0)
tap_diag "cpe1: $CPE1_PREFIX via $CPE1_LL, lan0 $(lan_address cpe1)"

# ---- dhcpcd (cpe2) ------------------------------------------------------------------
DHCPCD_CONF=$(umi_tmp dhcpcd.conf)
cat >"$DHCPCD_CONF" <<CONF
# A requesting router: DHCPv6 only, no RA needed to start, no hooks (the
# host's resolv.conf is not ours to touch).
script /bin/true
nodev
noipv4
noipv6rs
ipv6only
option rapid_commit
option domain_name_servers
allowinterfaces eth0 lan0
interface eth0
	ia_na 1
	ia_pd 7 lan0/1/64
interface lan0
	noipv6rs
CONF
wait_for 10 "cpe2 eth0 link-local" link_local_ready cpe2 eth0
dhcpcd_start cpe2 "$DHCPCD_CONF"
CPE2_LL=$(link_local_of cpe2 eth0)
# RFC 8415 §18.3.1 with Rapid Commit (§21.14): dhcpcd asks for it.
check_state "dhcpcd gets a /56 from eth1's pool, puts it on lan0; srv routes it via its link-local" \
	delegated cpe2 eth1 "$CPE2_LL"
CPE2_PREFIX=$(srv_route_via eth1)
tap_diag "cpe2: $CPE2_PREFIX via $CPE2_LL, lan0 $(lan_address cpe2)"
# RFC 8415 §21.4: dhcpcd's IA_NA next to its IA_PD, from eth1's address pool.
wan_address() {
	ip -n "$(ns_name cpe2)" -6 addr show dev eth0 scope global | grep -q 'inet6 2001:db8:eeee:1:' &&
		json_holds '[.server.leases[] | select(.kind == "address" and (.address | startswith("2001:db8:eeee:1:")))] | length == 1' show
}
check_state "dhcpcd also gets an IA_NA address from eth1's address pool" wan_address
# dhcp6c asked with a Request; dhcpcd's Solicit with Rapid Commit got the
# Reply at once, so still one Request in all.
rapid() { [ "$(server_json '.server.counters.received.Request // 0')" = 1 ]; }
tap_check "dhcpcd was served with Rapid Commit (Solicit answered by a Reply, no Request)" rapid

# ---- dhcp6c behind dhcrelay -6 (cpe3) ------------------------------------------------
if command -v dhcrelay >/dev/null; then
	wait_for 10 "relay link-locals" link_local_ready relay eth1
	bg_start relay dhcrelay dhcrelay -6 -d -pf "$(umi_tmp dhcrelay.pid)" -l eth1 -u 2001:db8:ee::1%eth0
	wait_for 10 "cpe3 eth0 link-local" link_local_ready cpe3 eth0
	start_dhcp6c cpe3 3
	# RFC 8415 §19.1–§19.3, §13.1: the relay's link-address picks the pool,
	# the Relay-Reply finds its way back, the route goes via the relay.
	check_state "dhcp6c behind dhcrelay gets a /56 from the relay link's pool; srv routes it via the relay" \
		delegated cpe3 eth2 2001:db8:ee::2
else
	tap_skip "dhcp6c behind dhcrelay gets a /56 from the relay link's pool" "no dhcrelay"
fi

# ---- status -------------------------------------------------------------------------
status_ok() {
	local j
	j=$(show) || return 1
	jq -e --arg p1 "$CPE1_PREFIX" --arg p2 "$CPE2_PREFIX" '
		.server.leases as $l
		| ([$l[] | select(.prefix == $p1 and .next_hop != null and .valid_left > 0)] | length == 1)
		and ([$l[] | select(.prefix == $p2)] | length == 1)
		and ([.server.pools[] | select(.prefix == "2001:db8:100::/48" and .size == 256 and .used == 1)] | length == 1)' <<<"$j" >/dev/null
}
tap_check "show lists both leases with next hop and lifetimes, pools with size and use" status_ok

# ---- restart ------------------------------------------------------------------------
bg_stop dhcp6d
# A stopped server leaves its routes: forwarding goes on while it restarts.
routes_kept() { [ "$(srv_route_via eth0)" = "$CPE1_PREFIX" ] && [ "$(srv_route_via eth1)" = "$CPE2_PREFIX" ]; }
tap_check "the routes stay while the server is down" routes_kept
ip -n "$(ns_name srv)" -6 route del "$CPE2_PREFIX" proto $PROTO 2>/dev/null # lost meanwhile: must come back
start_server || umi_die "umigame-dhcp6d did not restart: $(tail -5 "$(bg_log dhcp6d)")"
leases_back() { status_ok; }
tap_check "after the restart the journal gives back both leases" leases_back
check_state "after the restart the server re-installs the route it lost" routes_kept
# dhcp6c forgets everything (SIGKILL, no Release) and starts over: it must
# get the same prefix (RFC 8415 §18.3.1: a client keeps its delegation).
{
	kill -KILL "${BG_PID[dhcp6c-cpe1]}"
	wait "${BG_PID[dhcp6c-cpe1]}"
} 2>/dev/null
unset "BG_PID[dhcp6c-cpe1]"
ip -n "$(ns_name cpe1)" -6 addr flush dev lan0 scope global
start_dhcp6c cpe1 1
same_prefix() { delegated cpe1 eth0 "$CPE1_LL" && [ "$(srv_route_via eth0)" = "$CPE1_PREFIX" ]; }
check_state "a restarted dhcp6c is delegated the same prefix by the restarted server" same_prefix

# ---- Release --------------------------------------------------------------------------
# WIDE dhcp6c releases its prefixes when it is stopped (RFC 8415 §18.2.7).
renewed_or_released() { [ "$(server_json '.server.counters.received.Release // 0')" -ge 1 ]; }
kill -TERM "${BG_PID[dhcp6c-cpe1]}"
no_route() { [ -z "$(srv_route_via eth0)" ]; }
# RFC 8415 §18.3.7.
check_state "dhcp6c's Release takes its route away on the server" eval 'renewed_or_released && no_route'
ended() {
	json_holds "[.server.leases[] | select(.prefix == \"$CPE1_PREFIX\")] | length == 0" show
}
tap_check "the released lease is no longer live" ended
bg_stop dhcp6c-cpe1

# ---- fuzzing -----------------------------------------------------------------------------
if command -v atk6-fuzz_dhcps6 >/dev/null; then
	malformed_before=$(server_json '[.server.counters.dropped[]] | add // 0')
	# Every fuzz test of the Solicit, Request, Renew and Information-request
	# families. The tool's own alive check (-p) is not used: it reads the
	# answer through a non-blocking pcap handle and misses an Advertise that
	# comes back within microseconds (a capture showed every alive check
	# answered at once and the tool resending after 1-2 s, then declaring a
	# crash or running past its time). Aliveness is checked here instead,
	# after each family: the process runs and its control socket answers;
	# point 15 then has a real requesting router served.
	FUZZ_LOG=$(umi_tmp fuzz.log)
	FUZZ_TIMES="" FUZZ_DEAD=""
	alive() { bg_running dhcp6d && show >/dev/null; }
	for kind in -1 -2 -4 -8; do
		t0=$SECONDS
		ip netns exec "$(ns_name cpe1)" timeout 120 atk6-fuzz_dhcps6 $kind eth0 >>"$FUZZ_LOG" 2>&1
		rc=$?
		echo "atk6-fuzz_dhcps6 $kind: exit $rc" >>"$FUZZ_LOG"
		FUZZ_TIMES+=" $kind:$((SECONDS - t0))s"
		[ "$rc" -eq 0 ] || FUZZ_DEAD+=" $kind: tool exit $rc;"
		alive || FUZZ_DEAD+=" $kind: server not answering;"
	done
	tap_diag "atk6-fuzz_dhcps6 runs:$FUZZ_TIMES"
	if [ -z "$FUZZ_DEAD" ]; then
		tap_ok "atk6-fuzz_dhcps6 (Solicit, Request, Renew, Information-request) does not crash the server"
	else
		tap_fail "atk6-fuzz_dhcps6 does not crash the server" "$FUZZ_DEAD $(tail -5 "$FUZZ_LOG"; tail -5 "$(bg_log dhcp6d)")"
	fi
	counted() { [ "$(server_json '[.server.counters.dropped[]] | add // 0')" -gt "$malformed_before" ]; }
	tap_check "what the fuzzer sent that a server must not answer is dropped and counted" counted
	tap_diag "dropped by reason: $(server_json .server.counters.dropped)"
	# A real requesting router is still served afterwards.
	ip -n "$(ns_name cpe1)" -6 addr flush dev lan0 scope global
	start_dhcp6c cpe1 1
	check_state "after the fuzzing dhcp6c is still delegated its prefix" same_prefix
else
	for i in 1 2 3; do tap_skip "atk6-fuzz_dhcps6" "not installed"; done
fi

# ---- the server's own state --------------------------------------------------------------
journal_ok() { [ -s "$SRV_DIR/state/server-leases" ] && grep -q " via=$CPE1_LL dev=eth0 " "$SRV_DIR/state/server-leases"; }
tap_check "the lease journal remembers next hop and interface for the routes" journal_ok

# ---- reload and expiry --------------------------------------------------------------------
# Short lifetimes by reload (SIGHUP path, through the control socket): no
# lease is dropped; the next grant uses them.
sed -i -e 's/^preferred_lifetime = .*/preferred_lifetime = 4/' -e 's/^valid_lifetime = .*/valid_lifetime = 6/' \
	-e 's/^t1 = .*/t1 = 2/' -e 's/^t2 = .*/t2 = 3/' "$SRV_DIR/dhcp6d.toml"
RELOAD=$(printf '{"cmd":"reload"}\n' | socat -t 5 - "UNIX-CONNECT:$SRV_DIR/control.sock")
reloaded() { jq -e .ok <<<"$RELOAD" >/dev/null && status_ok; }
tap_check "a reload with new lifetimes keeps every lease" reloaded
# dhcp6c starts over, gets its prefix for 6 s, and dies without a word.
{
	kill -KILL "${BG_PID[dhcp6c-cpe1]}"
	wait "${BG_PID[dhcp6c-cpe1]}"
} 2>/dev/null
unset "BG_PID[dhcp6c-cpe1]"
ip -n "$(ns_name cpe1)" -6 addr flush dev lan0 scope global
start_dhcp6c cpe1 1
short_lease() {
	same_prefix && json_holds "[.server.leases[] | select(.prefix == \"$CPE1_PREFIX\" and .valid_left <= 6)] | length == 1" show
}
wait_for 20 "cpe1 holds a 6 s lease" short_lease
{
	kill -KILL "${BG_PID[dhcp6c-cpe1]}"
	wait "${BG_PID[dhcp6c-cpe1]}"
} 2>/dev/null
unset "BG_PID[dhcp6c-cpe1]"
# RFC 8415 §18.3 / §7.7: a lease nobody renews ends with its valid
# lifetime; the expiry timer takes the route away.
check_state "a lease nobody renews expires and its route goes" eval 'no_route && ended'
tap_finish
