// The delegating router (RFC 8415 server role for IA_PD, and IA_NA): its
// configuration ([server], docs/dhcp6.md "Delegating router") and the
// daemon-facing Server, which owns the socket, the lease journal, the
// routes towards delegated prefixes and the expiry timer. The protocol
// itself is ServerEngine (server_engine.h), kept apart from sockets so it
// can be tested and fuzzed with bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/config.h"
#include "umigame/dhcp6/duid.h"
#include "umigame/dhcp6/options.h"
#include "umigame/dhcp6d/lease_store.h"
#include "umigame/event_loop.h"
#include "umigame/rtnetlink.h"

namespace umigame::dhcp6d {

// Where a pool's clients are: on one of our interfaces (their messages
// arrive there, not relayed), or behind a relay whose link-address (RFC 8415
// §13.1: the innermost non-zero one) falls inside relay_link.
struct PoolConfig {
	LeaseKind kind = LeaseKind::prefix; // [[server.pool]] or [[server.address_pool]]
	std::string interface;              // empty when relay_link is set
	std::optional<Ipv6Prefix> relay_link;
	Ipv6Prefix prefix;
	uint8_t delegated_length = 0; // 128 for address pools
	SourceLocation where;
};

// A DUID (and optionally one IAID) that always gets this prefix.
struct Reservation {
	dhcp6::Duid duid;
	std::optional<uint32_t> iaid; // unset: any IA_PD of that client
	Ipv6Prefix prefix;
	SourceLocation where;
};

struct ServerConfig {
	// Interfaces we serve directly: ff02::1:2 is joined there. Relayed
	// messages (unicast from a relay) are accepted on any interface.
	std::vector<std::string> interfaces;
	std::vector<PoolConfig> pools;
	std::vector<Reservation> reservations;
	uint32_t preferred_lifetime = 1800;
	uint32_t valid_lifetime = 3600;
	uint32_t t1 = 900;  // default: half the preferred lifetime
	uint32_t t2 = 1440; // default: 0.8 of it (RFC 8415 §21.4 recommends)
	bool rapid_commit = true;
	std::optional<uint8_t> preference;
	std::vector<Ipv6Address> dns_servers;    // RFC 3646 §3
	std::vector<dhcp6::DomainName> domain_search; // RFC 3646 §4
	std::optional<dhcp6::AddressSelection> address_selection; // RFC 7078
	// RFC 8910 §2.2; absent: the URI our requesting router got upstream
	// (when both roles run), "" = none.
	std::optional<std::string> captive_portal;
	std::optional<dhcp6::Duid> duid; // unset: a DUID-LLT made once, kept in state_dir
	// rtm_protocol of the routes we install: only routes with it are ours
	// to replace or delete (the requesting router uses RTPROT_DHCP).
	uint8_t route_protocol = 214;
	uint32_t route_metric = 1024;
	// Ended leases are remembered this long so a returning client gets its
	// old prefix back (RFC 8415 §18.3.1 stability), then compacted away.
	uint32_t remember_ended = 7 * 86400;
	// Where Relay-Forward messages may come from (the source address of
	// the relay that sends them to us): addresses (as /128) or prefixes.
	// Unset: from anyone, as Kea does; empty: relayed messages refused.
	std::optional<std::vector<Ipv6Prefix>> relay_allow;
	// RFC 8415 §18.3.11, §20.4: give each client that sends Reconfigure
	// Accept a Reconfigure Key, and tell it to Renew at once when a reload
	// (or a restart with a changed file) leaves its lease outside the pools.
	bool reconfigure = true;
};

// Reads the [server] table; throws ConfigError naming file:line.
ServerConfig parse_server_config(ConfigTable &table);

class ServerEngine;
class ServerSocket;
class JournalFlusher;
struct Outgoing;

class Server {
public:
	// Opens the sockets and the lease journal in state_dir; throws
	// std::runtime_error naming what failed.
	Server(EventLoop &loop, Rtnetlink &rtnl, const ServerConfig &config, const std::string &state_dir);
	~Server();
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;

	// SIGHUP / `umigame dhcp6 reload`: apply a changed configuration
	// (pools, options, interfaces) without dropping a lease.
	void reconfigure(const ServerConfig &config);

	// RFC 8910: the captive portal our requesting router learned upstream,
	// passed on unless the configuration names one.
	void set_upstream_captive_portal(std::optional<std::string> uri);

	// For `umigame dhcp6 show [--json]`.
	nlohmann::json status() const;

private:
	void on_readable();
	void on_link_event(const RtnetlinkEvent &event);
	void join_interfaces();
	// RFC 8415 §18.3.3: the prefixes of the served links, from their own
	// global addresses, for Confirm; again on every address change.
	void update_link_prefixes();
	// RFC 8415 §18.3.11: queue Reconfigures for leases that no longer fit
	// (after a reload, at start), send what is due, wake up for the next.
	void schedule_reconfigures();
	void send_due_reconfigures();
	void arm_reconfigure_timer();
	// Make the kernel's routes with our protocol match the live leases:
	// add or move what is missing, delete what ended or moved away.
	void sync_routes();
	// After a batch: only the prefixes it bound, renewed or released.
	void sync_changed_routes(const std::vector<Ipv6Prefix> &changed);
	void maybe_compact();

	struct InstalledRoute {
		Ipv6Address next_hop;
		uint32_t ifindex = 0;
		bool operator==(const InstalledRoute &) const = default;
	};
	// The route a live lease on `prefix` wants, if any.
	std::optional<InstalledRoute> wanted_route(const Lease &lease, int64_t now,
						   std::map<std::string, uint32_t> &ifindex_of) const;
	// Make the kernel's route for `prefix` match `want` (nullopt: none).
	void set_route(const Ipv6Prefix &prefix, const std::optional<InstalledRoute> &want);
	void arm_expiry(int64_t expires, int64_t now);
	// if_indextoname() costs a socket, an ioctl and a close: every
	// datagram needs its arrival interface's name, so names are cached
	// until a link notification says they may have changed.
	const std::string &interface_name_of(uint32_t ifindex);
	std::map<uint32_t, std::string> interface_names_;

	EventLoop &loop_;
	Rtnetlink &rtnl_;
	ServerConfig config_;
	std::string state_dir_;
	std::unique_ptr<LeaseStore> leases_;
	// Replies (and the route changes they announce) waiting for the
	// journal lines they depend on to be on disk.
	struct Pending {
		uint64_t ticket = 0;
		std::vector<Ipv6Prefix> changed;
		std::vector<Outgoing> replies;
	};
	std::deque<Pending> pending_;
	void on_durable(uint64_t ticket);
	void release(Pending &batch);
	std::unique_ptr<ServerEngine> engine_;
	std::unique_ptr<ServerSocket> socket_;
	std::unique_ptr<JournalFlusher> flusher_; // declared after leases_: stops first
	FdWatch watch_;
	std::unique_ptr<RtnetlinkMonitor> links_;
	Timer expiry_timer_, join_retry_, reconfigure_timer_;
	std::map<Ipv6Prefix, InstalledRoute> routes_;
	int64_t next_expiry_ = std::numeric_limits<int64_t>::max();
	std::map<std::string, uint32_t> joined_; // ff02::1:2 joined: name -> ifindex
	std::set<std::string> unavailable_;      // served but not joined (yet); logged once
	uint64_t route_errors_ = 0;
	uint64_t batches_ = 0;
	uint64_t largest_batch_ = 0;
	uint64_t send_errors_ = 0; // replies the kernel would not take
};

} // namespace umigame::dhcp6d
