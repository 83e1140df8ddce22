// Raw ICMPv6 sockets for Neighbor Discovery on one interface (RFC 4861):
// the RA sender's on each LAN, the requesting router's on the WAN.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "umigame/event_loop.h"
#include "umigame/net.h"

namespace umigame::dhcp6d {

// Bound to `interface`, non-blocking, sending with hop limit 255 (§6.1),
// reporting each datagram's hop limit, passing only ICMPv6 type
// `pass_type`. Throws std::runtime_error naming what failed.
UniqueFd open_nd_socket(uint32_t ifindex, const std::string &interface, uint8_t pass_type);

struct NdDatagram {
	std::span<const uint8_t> icmp; // in the caller's buffer
	Ipv6Address source;
	bool truncated = false;
	int hop_limit = -1;
	// §6.1.1, §6.1.2: hop limit 255, so it was not forwarded.
	bool from_the_link() const { return !truncated && hop_limit == 255; }
};

// The next datagram waiting on `fd`, nullopt when none is.
std::optional<NdDatagram> receive_nd(int fd, std::span<uint8_t> buffer);

// Send `icmp` to `to` (link-local scope on `ifindex`); false with errno set.
bool send_nd(int fd, uint32_t ifindex, const Ipv6Address &to, std::span<const uint8_t> icmp);

} // namespace umigame::dhcp6d
