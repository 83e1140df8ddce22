# shellcheck shell=bash
# lab.sh — the CE router lab shared by the selftests in this directory, the
# fallback benchmark and the demo. Source after ../lib/netns.sh and
# ../dhcp6/kea.sh.
#
#   inet ns               isp ns                           ce ns (ours)               host ns
#   eth0  <----------->   up0                              umigame-dhcp6d [client]
#   2001:2:0:ff::80/64    2001:2:0:ff::1/64                + firewall
#   198.51.100.80/24      198.51.100.1/24
#   www server (v6+v4)                 down0 <------------>  wan0        lan0 <------>  eth0
#                         kea-dhcp6:   2001:2:0:1::1/64      SLAAC on    /64 of the     SLAAC, RDNSS,
#                         /56s from    192.0.2.1/24          wan0 (W-1)  /56 + ULA      10.0.1.2/24
#                         2001:2:0:1000::/52,                 192.0.2.2   10.0.1.1/24
#                         DNS, captive portal (103),   + IA_NA
#                         addresses ::1000-::1fff      (WAA-6)
#                         subnet 0 of each /56 excluded (RFC 6603)
#                         radvd: default router on down0 (M, O set) and down1
#                                      down1 <------------>  wan0        lan0 <------>  eth0
#                                      2001:2:0:2::1/64    ce2 ns (the baseline):     host2 ns
#                                      192.0.3.1/24        radvd with a static config
#                                                          (2001:2:0:200::/64, static
#                                                          default route), 10.0.2.1/24
#
# 2001:2::/48 (RFC 5180 benchmarking space) stands for the Internet: the
# documentation prefix 2001:db8::/32 is one RFC 6092 REC-3 tells the
# firewall to drop at the border.
#
#   lab_up [ce_extra_toml]  build it all; returns once the LAN host of our CE
#                           has its addresses and default route
#                           (LAB_PRE_UP: a command run just before our
#                           daemon starts)
#   lab_break               the ISP's IPv6 breaks: radvd leaves (final RA,
#                           router lifetime 0) and the ISP blackholes the
#                           Internet's IPv6 silently
#   lab_restore             the ISP's IPv6 comes back
#   lab_connect NS          a getaddrinfo-order client (no Happy Eyeballs) in
#                           NS connects to www.example:80; prints
#                           "<seconds> <family>"
#   lab_cli ARGS...         the umigame CLI against our CE's daemon
#   lab_has_default NS      the LAN host in NS has an IPv6 default route

# The lab brings what it needs: the netns and Kea helpers, and the binaries
# under test (UMIGAME_DHCP6D / UMIGAME override them).
_LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$_LAB_TOP/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../dhcp6/kea.sh
source "$_LAB_TOP/selftests/dhcp6/kea.sh"
DHCP6D=${UMIGAME_DHCP6D:-$_LAB_TOP/build/release/userspace/dhcp6d/umigame-dhcp6d}
UMIGAME=${UMIGAME:-$_LAB_TOP/build/release/tools/umigame/umigame}

LAB_DNS=2001:2:0:ff::53
# The ISP's link to the CE: its RAs set M and O, Kea assigns from this.
LAB_WAN_POOL=2001:2:0:1::1000-2001:2:0:1::1fff
LAB_PORTAL=https://portal.isp.example/api
LAB_WWW6=2001:2:0:ff::80
LAB_WWW4=198.51.100.80
LAB_PY=/usr/bin/python3
# A SYN that goes nowhere: Linux retries tcp_syn_retries times (Debian's
# default 6 waits 127 s); 3 gives up after 15 s and keeps the run short.
LAB_SYN_RETRIES=${LAB_SYN_RETRIES:-3}

lab_dir() { umi_tmp ce; }

_lab_radvd_isp() {
	local conf
	conf=$(lab_dir)/radvd-isp.conf
	cat >"$conf" <<CONF
interface down0 {
	AdvSendAdvert on;
	AdvManagedFlag on;
	AdvOtherConfigFlag on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 10;
	prefix 2001:2:0:1::/64 { };
};
interface down1 {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 10;
	prefix 2001:2:0:2::/64 { };
};
CONF
	bg_start isp radvd-isp radvd -n -d 1 -m stderr -C "$conf" -p "$(lab_dir)/radvd-isp.pid"
}

_lab_radvd_ce2() {
	local conf
	conf=$(lab_dir)/radvd-ce2.conf
	cat >"$conf" <<CONF
interface lan0 {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 10;
	prefix 2001:2:0:200::/64 { };
	RDNSS $LAB_DNS { };
};
CONF
	bg_start ce2 radvd-ce2 radvd -n -d 1 -m stderr -C "$conf" -p "$(lab_dir)/radvd-ce2.pid"
}

_lab_www() {
	# A listener on both families; it accepts and closes.
	bg_start inet www "$LAB_PY" -c '
import socket, threading
def serve(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 80)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
threading.Thread(target=serve, args=(socket.AF_INET6, "'$LAB_WWW6'"), daemon=True).start()
serve(socket.AF_INET, "'$LAB_WWW4'")'
}

# The names a LAN host resolves: ip netns exec bind-mounts
# /etc/netns/<ns>/hosts over /etc/hosts for that namespace alone.
_lab_hosts_file() {
	local ns
	ns=$(ns_name "$1")
	mkdir -p "/etc/netns/$ns"
	printf '%s www.example\n%s www.example\n' "$LAB_WWW6" "$LAB_WWW4" >"/etc/netns/$ns/hosts"
	on_cleanup "rm -rf /etc/netns/$ns"
}

lab_cli() { UMIGAME_DHCP6D_SOCKET="$(lab_dir)/control.sock" "$UMIGAME" "$@"; }
lab_show() { lab_cli dhcp6 show --json; }
lab_has_default() { ip -n "$(ns_name "$1")" -6 route show default | grep -q "via fe80::"; }
lab_delegated() { lab_show | jq -r '.client.ias[0].leases[0].prefix // empty'; }
lab_subnet() { lab_show | jq -r '.client.downstream[0].subnet // empty'; }
lab_ula() { lab_show | jq -r '.client.ula // empty'; }
_lab_host_has() { ip -n "$(ns_name "$1")" -6 addr show dev eth0 scope global | grep -q "inet6 $2"; }

lab_up() {
	local ce_extra=${1:-} dir ns
	dir=$(lab_dir)
	mkdir -p "$dir/state"
	for ns in inet isp ce ce2 host host2; do
		ns_create "$ns"
		ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	for ns in isp ce ce2; do
		ns_sysctl "$ns" net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
	done
	veth_pair inet eth0 isp up0
	veth_pair isp down0 ce wan0
	veth_pair isp down1 ce2 wan0
	veth_pair ce lan0 host eth0
	veth_pair ce2 lan0 host2 eth0
	for ns in host host2; do
		ns_sysctl "$ns" net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1 \
			net.ipv4.tcp_syn_retries="$LAB_SYN_RETRIES"
		_lab_hosts_file "$ns"
	done

	ip -n "$(ns_name inet)" addr add $LAB_WWW6/64 dev eth0
	ip -n "$(ns_name inet)" addr add $LAB_WWW4/24 dev eth0
	ip -n "$(ns_name inet)" -6 route add default via 2001:2:0:ff::1
	ip -n "$(ns_name inet)" route add default via 198.51.100.1
	ip -n "$(ns_name isp)" addr add 2001:2:0:ff::1/64 dev up0
	ip -n "$(ns_name isp)" addr add 198.51.100.1/24 dev up0
	ip -n "$(ns_name isp)" addr add 2001:2:0:1::1/64 dev down0
	ip -n "$(ns_name isp)" addr add 192.0.2.1/24 dev down0
	ip -n "$(ns_name isp)" addr add 2001:2:0:2::1/64 dev down1
	ip -n "$(ns_name isp)" addr add 192.0.3.1/24 dev down1
	ip -n "$(ns_name isp)" route add 10.0.1.0/24 via 192.0.2.2
	ip -n "$(ns_name isp)" route add 10.0.2.0/24 via 192.0.3.2
	# The baseline CE's prefix, routed statically (no DHCPv6 there).
	ip -n "$(ns_name isp)" -6 route add 2001:2:0:200::/56 via 2001:2:0:2::2

	ip -n "$(ns_name ce)" addr add 192.0.2.2/24 dev wan0
	ip -n "$(ns_name ce)" addr add 10.0.1.1/24 dev lan0
	ip -n "$(ns_name ce)" route add default via 192.0.2.1
	ip -n "$(ns_name host)" addr add 10.0.1.2/24 dev eth0
	ip -n "$(ns_name host)" route add default via 10.0.1.1

	# The baseline: a static configuration, as many routers ship it.
	ip -n "$(ns_name ce2)" addr add 2001:2:0:2::2/64 dev wan0
	ip -n "$(ns_name ce2)" addr add 192.0.3.2/24 dev wan0
	ip -n "$(ns_name ce2)" addr add 2001:2:0:200::1/64 dev lan0
	ip -n "$(ns_name ce2)" addr add 10.0.2.1/24 dev lan0
	ip -n "$(ns_name ce2)" -6 route add default via 2001:2:0:2::1
	ip -n "$(ns_name ce2)" route add default via 192.0.3.1
	ip -n "$(ns_name host2)" addr add 10.0.2.2/24 dev eth0
	ip -n "$(ns_name host2)" route add default via 10.0.2.1

	_lab_www
	KEA_EXTRA_OPTIONS="{ \"name\": \"dns-servers\", \"data\": \"$LAB_DNS\" },
		{ \"name\": \"domain-search\", \"data\": \"isp.example\" },
		{ \"name\": \"v6-captive-portal\", \"data\": \"$LAB_PORTAL\" }" \
		KEA_SUBNET=2001:2:0:1::/64 KEA_ADDRESS_POOL="$LAB_WAN_POOL" KEA_PD_EXCLUDE=2001:2:0:1000::/64 kea_start isp down0 2001:2:0:1000::/52 56 || umi_die "Kea did not start: $(tail -5 "$(bg_log kea-isp)")"
	wait_for 10 "isp:down1 link-local" link_local_ready isp down1 || umi_die "down1 has no link-local address"
	_lab_radvd_isp
	wait_for 10 "ce2:lan0 link-local" link_local_ready ce2 lan0 || umi_die "ce2 lan0 has no link-local address"
	_lab_radvd_ce2

	cat >"$dir/dhcp6d.toml" <<TOML
[daemon]
control_socket = "$dir/control.sock"
state_dir = "$dir/state"

[client]
interface = "wan0"

[[client.prefix]]
iaid = 1
length_hint = 56

[[client.downstream]]
interface = "lan0"
subnet_id = 1

[client.ra]
max_interval = 10
$ce_extra
TOML
	# A hook for what a test must set up before our daemon starts.
	[ -z "${LAB_PRE_UP:-}" ] || "$LAB_PRE_UP"
	lab_start_ours || umi_die "umigame-dhcp6d did not start: $(tail -20 "$(bg_log dhcp6d-ce)")"
	wait_for 30 "a delegated /56" sh -c "[ -n \"\$(UMIGAME_DHCP6D_SOCKET='$dir/control.sock' '$UMIGAME' dhcp6 show --json | jq -r '.client.ias[0].leases[0].prefix // empty')\" ]" ||
		umi_die "no prefix delegated: $(lab_show; tail -20 "$(bg_log dhcp6d-ce)")"
	LAB_PREFIX=$(lab_delegated)
	LAB_SUBNET=$(lab_subnet)
	LAB_ULA=$(lab_ula)
	# The ISP routes what it delegated to the requesting router (Kea does
	# not install routes): via the CE's WAN link-local address.
	ip -n "$(ns_name isp)" -6 route replace "$LAB_PREFIX" via "$(link_local_of ce wan0)" dev down0
	wait_for 30 "the LAN host's global, ULA and default route" lab_host_ready host ||
		umi_die "the LAN host did not configure: $(ip -n "$(ns_name host)" -6 addr; ip -n "$(ns_name host)" -6 route; lab_show)"
	wait_for 30 "the baseline LAN host's address and default route" lab_host_ready host2 ||
		umi_die "the baseline LAN host did not configure"
}

lab_start_ours() {
	wait_for 10 "ce:wan0 link-local" link_local_ready ce wan0 || return 1
	bg_start ce dhcp6d-ce "$DHCP6D" -c "$(lab_dir)/dhcp6d.toml" -v
	wait_for 15 "umigame-dhcp6d answers on its control socket" lab_show
}

lab_host_ready() {
	if [ "$1" = host ]; then
		_lab_host_has host "${LAB_SUBNET%::/64}:" && _lab_host_has host "${LAB_ULA%::/48}:" && lab_has_default host
	else
		_lab_host_has host2 "2001:2:0:200:" && lab_has_default host2
	fi
}

lab_break() {
	# radvd's final RA says router lifetime 0 (RFC 4861 §6.2.5); the
	# Internet's IPv6 is silently gone behind the ISP.
	bg_stop radvd-isp
	ip -n "$(ns_name isp)" -6 route add blackhole $LAB_WWW6/128
}

lab_restore() {
	ip -n "$(ns_name isp)" -6 route del blackhole $LAB_WWW6/128
	_lab_radvd_isp
}

# A client the way most programs are written: getaddrinfo's order (RFC 6724
# as glibc applies it), one blocking connect after the other, no Happy
# Eyeballs (RFC 8305).
lab_connect() {
	ns_exec "$1" "$LAB_PY" -c '
import socket, time
t0 = time.monotonic()
for family, kind, proto, _, addr in socket.getaddrinfo("www.example", 80, 0, socket.SOCK_STREAM):
    s = socket.socket(family, kind, proto)
    try:
        s.connect(addr)
    except OSError:
        s.close()
        continue
    print("%.3f %s" % (time.monotonic() - t0, "IPv6" if family == socket.AF_INET6 else "IPv4"))
    s.close()
    break
else:
    print("%.3f none" % (time.monotonic() - t0))'
}
