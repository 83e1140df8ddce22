// The kernel's IPv6 multicast routing (ip6mr) through the socket API of
// RFC 3542's ancestor, as Linux has it (<linux/mroute6.h>): MRT6_INIT on a
// raw ICMPv6 socket makes it the multicast routing socket, MIFs name the
// interfaces, MFC entries say where each (S,G) goes, and the kernel asks
// (MRT6MSG_NOCACHE, on the same socket) about an (S,G) it has no entry for.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>

#include "umigame/net.h"

namespace umigame::mldproxy {

// An upcall from the kernel: struct mrt6msg, read from the routing socket.
struct Upcall {
	uint8_t type = 0; // MRT6MSG_NOCACHE (1), MRT6MSG_WRONGMIF (2), MRT6MSG_WHOLEPKT (3)
	uint16_t mif = 0;
	Ipv6Address source, group;
};
// nullopt for anything that is not an upcall (an ICMPv6 message starts with
// a non-zero type; an upcall's first byte, im6_mbz, is zero).
std::optional<Upcall> parse_upcall(std::span<const uint8_t> bytes);

struct MfcCounters {
	uint64_t packets = 0, bytes = 0, wrong_if = 0;
};

// Multicast routing on `fd` (a raw ICMPv6 socket the caller keeps open).
// The kernel removes every MIF and entry of ours when the socket closes.
class Mroute {
public:
	// MRT6_INIT; throws std::runtime_error (EADDRINUSE: another daemon
	// routes multicast in this namespace).
	explicit Mroute(int fd);
	~Mroute();
	Mroute(const Mroute &) = delete;
	Mroute &operator=(const Mroute &) = delete;

	void add_mif(uint16_t mif, uint32_t ifindex);
	// Install or replace the entry of (source, group): packets arriving on
	// `parent` go out of `out` (a hop limit above 1 is needed to leave).
	void set_mfc(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent,
		     const std::set<uint16_t> &out);
	void delete_mfc(const Ipv6Address &source, const Ipv6Address &group, uint16_t parent);
	std::optional<MfcCounters> counters(const Ipv6Address &source, const Ipv6Address &group) const;

private:
	int fd_;
};

} // namespace umigame::mldproxy
