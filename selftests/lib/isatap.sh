# shellcheck shell=bash
# isatap.sh — the network of the ISATAP guest tests (selftests/vm/isatap*.sh),
# sourced after netns.sh:
#
#   host (ours)                  mid (IPv4 only, forwards)        rtr (sit ISATAP)               srv
#   h0 203.0.113.10/24 <-veth-> m0 203.0.113.1/24
#                               m1 192.0.2.254/24 <-veth-> r0 192.0.2.1/24
#                                                          is0 mode isatap local 192.0.2.1
#                                                            2001:db8:a::5efe:c000:201/64
#                                                          r1 2001:db8:b::1/64 <-veth-> s0 2001:db8:b::2/64
#
#   isatap_topology   make the namespaces and links above (rtr forwards IPv6,
#                     mid has no IPv6 at all); the host's ISATAP link is the
#                     test's own
#   in_ns NS CMD...   run CMD in NS (ip netns exec)
#   isatap_begin NAME after the skip check: debugfs and tracefs mounted
#                     ($tracing), no umigame loaded, the kernel log marked
#                     (kmsg.sh); at cleanup the umigame events are turned
#                     off and the module unloaded
#
# 203.0.113.10 is a global IPv4 address, so the host's ISATAP interface
# identifier has the u bit (::200:5efe:, RFC 5214 §6.1); 192.0.2.1
# (TEST-NET-1) is not global in the kernel's eyes, so sit's is ::0:5efe:.

# shellcheck disable=SC2034 # used by the tests that source this
{
	H_V4=203.0.113.10
	R_V4=192.0.2.1
	H_LL=fe80::200:5efe:cb00:710a
	R_LL=fe80::5efe:c000:201
	H_GUA=2001:db8:a::200:5efe:cb00:710a
	R_GUA=2001:db8:a::5efe:c000:201
	S_GUA=2001:db8:b::2
}

in_ns() {
	local ns=$1
	shift
	ns_exec "$ns" "$@"
}

isatap_topology() {
	ns_create host
	ns_create mid
	ns_create rtr
	ns_create srv
	ns_sysctl mid net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv4.ip_forward=1
	ns_sysctl rtr net.ipv6.conf.all.forwarding=1
	veth_pair host h0 mid m0
	veth_pair mid m1 rtr r0
	veth_pair rtr r1 srv s0
	in_ns host ip addr add $H_V4/24 dev h0
	in_ns host ip route add default via 203.0.113.1
	in_ns mid ip addr add 203.0.113.1/24 dev m0
	in_ns mid ip addr add 192.0.2.254/24 dev m1
	in_ns rtr ip addr add $R_V4/24 dev r0
	in_ns rtr ip route add default via 192.0.2.254
	in_ns rtr ip addr add 2001:db8:b::1/64 dev r1 nodad
	in_ns srv ip addr add $S_GUA/64 dev s0 nodad
	in_ns srv ip -6 route add default via 2001:db8:b::1
	in_ns rtr ip tunnel add is0 mode isatap local $R_V4 ttl 64
	in_ns rtr ip link set is0 up
	in_ns rtr ip addr add $R_GUA/64 dev is0
}

isatap_begin() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	tracing=/sys/kernel/tracing
	mountpoint -q $tracing || mount -t tracefs tracefs $tracing
	on_cleanup 'rmmod umigame 2>/dev/null; true'
	# shellcheck disable=SC2016
	on_cleanup 'echo 0 >$tracing/events/umigame/enable'
	rmmod umigame 2>/dev/null
	kmsg_mark "$1"
}
