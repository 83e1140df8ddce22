// Raw ICMPv6 sockets: opening them with the options a protocol needs,
// receiving a datagram with what the kernel knows about it (interface,
// destination, hop limit, a Router Alert), sending one out of a given
// interface. Neighbor Discovery (RFC 4861) and MLD (RFC 2710, RFC 3810) both
// use them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "umigame/event_loop.h"
#include "umigame/net.h"

namespace umigame {

struct Icmp6SocketOptions {
	// Bind to this interface (SO_BINDTODEVICE); empty: every interface,
	// each datagram then tells its own (Icmp6Datagram::ifindex).
	std::string interface;
	// Outgoing interface for multicast; 0: none set.
	uint32_t multicast_ifindex = 0;
	// Hop limit of everything sent, unicast and multicast.
	int hop_limit = 255;
	// ICMPv6 types to receive; every other type is filtered in the kernel.
	std::vector<uint8_t> pass_types;
	// Put a Router Alert option (RFC 2711) with this value in a hop-by-hop
	// header on everything sent; MLD uses value 0 (RFC 3810 §5). Needs
	// CAP_NET_RAW.
	std::optional<uint16_t> router_alert;
	// Report the hop-by-hop options of each datagram received, so that
	// Icmp6Datagram::router_alert can be filled in.
	bool receive_hop_options = false;
	// Receive buffer in bytes (request_receive_buffer); 0: the kernel's
	// default, which holds a few hundred datagrams.
	int receive_buffer = 0;
};

// Non-blocking, close-on-exec, multicast loop off, reporting each
// datagram's hop limit and interface. Throws std::runtime_error naming the
// interface (or "ICMPv6 socket") and what failed.
UniqueFd open_icmp6_socket(const Icmp6SocketOptions &options);

// The ND socket both RA code paths of umigame-dhcp6d use: bound to
// `interface`, sending with hop limit 255 (RFC 4861 §6.1), passing only
// ICMPv6 type `pass_type`.
UniqueFd open_nd_socket(uint32_t ifindex, const std::string &interface, uint8_t pass_type);

struct Icmp6Datagram {
	std::span<const uint8_t> icmp; // in the caller's buffer
	Ipv6Address source;
	Ipv6Address destination; // from IPV6_PKTINFO; :: when not reported
	uint32_t ifindex = 0;	 // from IPV6_PKTINFO; 0 when not reported
	bool truncated = false;
	int hop_limit = -1;
	// A Router Alert option was in the hop-by-hop header (only known with
	// Icmp6SocketOptions::receive_hop_options).
	bool router_alert = false;
	// RFC 4861 §6.1.1, §6.1.2: hop limit 255, so it was not forwarded.
	bool from_the_link() const { return !truncated && hop_limit == 255; }
};
using NdDatagram = Icmp6Datagram;

// The next datagram waiting on `fd`, nullopt when none is.
std::optional<Icmp6Datagram> receive_icmp6(int fd, std::span<uint8_t> buffer);
inline std::optional<Icmp6Datagram> receive_nd(int fd, std::span<uint8_t> buffer)
{
	return receive_icmp6(fd, buffer);
}

// Send `icmp` to `to` out of `ifindex` (the scope of a link-local or
// multicast destination); from `source` when given, else the kernel picks.
// The kernel computes the checksum. False with errno set.
bool send_icmp6(int fd, uint32_t ifindex, const Ipv6Address &to, std::span<const uint8_t> icmp,
		const std::optional<Ipv6Address> &source = std::nullopt);
inline bool send_nd(int fd, uint32_t ifindex, const Ipv6Address &to, std::span<const uint8_t> icmp)
{
	return send_icmp6(fd, ifindex, to, icmp);
}

// Router Alert (RFC 2711, option type 5) in a raw hop-by-hop header as the
// kernel hands it over with IPV6_RECVHOPOPTS; false for anything malformed.
bool hop_options_have_router_alert(std::span<const uint8_t> header);

} // namespace umigame
