// The requesting router (RFC 8415 client role for IA_PD, and IA_NA): the
// protocol state lives in ClientMachine (client_machine.h); this class
// connects it to the upstream DHCPv6 socket, the clock, rtnetlink (the
// pieces of the delegated prefixes on the downstream interfaces, an
// unreachable route for the whole of each, IA_NA addresses, RFC 7078
// address labels), the RA senders and the state file.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "umigame/config.h"
#include "umigame/dhcp6d/client_config.h"
#include "umigame/dhcp6d/client_machine.h"
#include "umigame/dhcp6d/client_state.h"
#include "umigame/dhcp6d/firewall.h"
#include "umigame/dhcp6d/ra_sender.h"
#include "umigame/dhcp6d/upstream_routers.h"
#include "umigame/event_loop.h"
#include "umigame/rtnetlink.h"

namespace umigame::dhcp6d {

class Client {
public:
	// Opens sockets, reads the saved DUID and leases from state_dir and
	// starts (Solicit, or Rebind of saved leases). Throws
	// std::runtime_error naming what failed.
	Client(EventLoop &loop, Rtnetlink &rtnl, const ClientConfig &config, const FirewallConfig &firewall,
	       const std::string &state_dir);
	~Client();
	Client(const Client &) = delete;
	Client &operator=(const Client &) = delete;

	// SIGHUP: new IAs are asked for, downstream and RA settings applied.
	// A changed upstream interface needs a restart (logged).
	void reconfigure(const ClientConfig &config, const FirewallConfig &firewall);

	// Stop: Release the leases (RFC 8415 §18.2.7), withdraw the prefixes
	// downstream (final RAs, §6.2.5 of RFC 4861), then call done() once
	// (also when the Release gives up).
	void shutdown(std::function<void()> done);

	nlohmann::json status() const;

	// Called with the captive-portal URI from the upstream Reply (RFC 8910)
	// now and whenever it changes, for our own delegating router to pass on.
	void on_captive_portal(std::function<void(const std::optional<std::string> &)> listener);

private:
	void on_readable();
	void pump();
	void transmit(const dhcp6::Message &m);
	void apply();
	void save();
	void on_rtnetlink_event(const RtnetlinkEvent &event);
	void on_upstream_router(const UpstreamRouters::Heard &heard);
	void open_ra_senders();
	// RFC 7084 G-4/G-5: is there a default route out of the WAN (learned
	// from its RAs, W-3, or static)? Tells the RA senders when it changes.
	void refresh_upstream_default();
	// The firewall's table for what we hold now (RFC 6092; G-3 before the
	// first delegation). `must`: a failure throws (at start) instead of
	// being logged with the previous table left in force.
	void apply_firewall(const Binding &binding, bool must);
	// Take our table out of the kernel (errors logged) and forget it.
	void drop_firewall();

	EventLoop &loop_;
	Rtnetlink &rtnl_;
	ClientConfig config_;
	std::string state_dir_;
	uint32_t upstream_index_ = 0;
	std::unique_ptr<ClientMachine> machine_;
	UniqueFd socket_;
	FdWatch watch_;
	Timer timer_;
	std::unique_ptr<RtnetlinkMonitor> monitor_;
	std::map<std::string, std::unique_ptr<RaSender>> ra_;
	std::map<std::string, uint32_t> downstream_index_;
	// What we installed, to take away exactly that.
	std::set<std::tuple<uint32_t, Ipv6Address, uint8_t>> addresses_;
	std::set<Ipv6Prefix> routes_;
	std::set<Ipv6Prefix> labels_;
	std::vector<std::string> problems_;
	std::function<void()> done_;
	std::function<void(const std::optional<std::string> &)> portal_listener_;
	std::optional<std::string> portal_told_;
	bool upstream_carrier_ = true;
	std::unique_ptr<UpstreamRouters> upstream_routers_;
	bool managed_ = false; // an upstream RA said M = 1
	bool keep_saved_ = false; // stopping without Release
	bool upstream_default_ = false;
	std::optional<Ipv6Prefix> ula_;
	FirewallConfig firewall_config_;
	std::unique_ptr<Firewall> firewall_;
	uint64_t firewall_errors_ = 0;
	uint64_t send_errors_ = 0;
	uint64_t apply_errors_ = 0;
};

} // namespace umigame::dhcp6d
