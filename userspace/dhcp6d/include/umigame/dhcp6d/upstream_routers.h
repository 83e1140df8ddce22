// The requesting router as a host on its WAN link (RFC 4861 §6.3.7,
// RFC 7084 W-2, WAA-6): it solicits the ISP's routers when it starts, so
// the kernel (accept_ra = 2) learns the default router without waiting
// for the next unsolicited RA, and it reads their RAs for the M and O
// flags, which decide whether DHCPv6 should also assign an address.
// The kernel keeps the routes and SLAAC addresses; this only listens.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "umigame/icmp6_socket.h"
#include "umigame/dhcp6d/ra_message.h"
#include "umigame/event_loop.h"
#include "umigame/rtnetlink.h"

namespace umigame::dhcp6d {

// RFC 4861 §6.1.2: an RA to believe — hop limit 255, a link-local source,
// and well formed (parse() checked every length). Throws RaParseError.
std::optional<RouterAdvertisement> valid_upstream_advertisement(const NdDatagram &d);

class UpstreamRouters {
public:
	struct Heard {
		Ipv6Address router;
		bool managed = false; // M: addresses from DHCPv6
		bool other = false;   // O: other configuration from DHCPv6
		uint16_t router_lifetime = 0;
	};

	// Starts soliciting at once, as soon as a link-local address has
	// passed DAD (W-2). No further random delay (RFC 4861 §6.3.7 needs none
	// after the one DAD took when the interface came up), so that the
	// answer can be in before the first DHCPv6 Solicit (WAA-6).
	// `link_ready` is called once that address is usable (just after the
	// first RS left), or when waiting for it was given up.
	UpstreamRouters(EventLoop &loop, Rtnetlink &rtnl, uint32_t ifindex, std::string interface,
			std::optional<MacAddress> mac, std::function<void(const Heard &)> listener,
			std::function<void()> link_ready = {});
	// Solicit again (the link came back), after §6.3.7's random delay.
	void restart();
	nlohmann::json status() const;

private:
	void begin(EventLoop::Duration first);
	void schedule(EventLoop::Duration wait);
	void solicit();
	bool link_local_usable();
	void tell_link_ready();
	void on_readable();

	EventLoop &loop_;
	Rtnetlink &rtnl_;
	uint32_t ifindex_;
	std::string interface_;
	std::optional<MacAddress> mac_;
	std::function<void(const Heard &)> listener_;
	std::function<void()> link_ready_;
	bool link_ready_told_ = false;
	UniqueFd fd_;
	FdWatch watch_;
	Timer timer_;
	unsigned solicitations_left_ = 0;
	unsigned link_local_waits_ = 0;
	std::optional<Heard> last_;
	struct {
		uint64_t solicitations = 0;
		uint64_t advertisements = 0;
		uint64_t malformed = 0;
	} counters_;
};

} // namespace umigame::dhcp6d
