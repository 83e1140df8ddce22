// The delegating router's protocol engine: RFC 8415 server behaviour for
// IA_PD (and IA_NA) without sockets. It takes one datagram (or parsed
// message), where it came from and the time, stages lease changes in the
// LeaseStore and returns the answer. The caller commits the store before
// sending anything (group commit: no Reply before its lease is on disk).
//
// What is discarded is counted by reason, never answered: malformed bytes,
// server messages, and what RFC 8415 §16 says a server MUST discard.
//
// Reconfigure (RFC 8415 §18.3.11, §20.4): a client that sends Reconfigure
// Accept gets a Reconfigure Key with its leases. When the pools change so
// that its lease no longer fits its link, schedule_reconfigures() queues a
// Reconfigure (Renew) for it, and due_reconfigures() hands out what is to
// be sent (and sent again, §15) until the client Renews or Rebinds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6/message.h"
#include "umigame/dhcp6d/lease_store.h"
#include "umigame/dhcp6d/retransmit.h"
#include "umigame/dhcp6d/server.h"

namespace umigame::dhcp6d {

// Where a datagram came from.
struct ReceiveContext {
	std::string interface; // arrival interface
	uint32_t ifindex = 0;
	Ipv6Address source;    // the client, or the relay nearest to us
	// The destination was a multicast group (ff02::1:2, ff05::1:3) rather
	// than one of our unicast addresses (RFC 8415 §16, §18.3.2).
	bool multicast = true;
};

// A datagram to send.
struct Outgoing {
	std::vector<uint8_t> payload;
	Ipv6Address destination;
	uint16_t port = 0;   // 546 to a client, 547 to a relay (RFC 8415 §7.2)
	uint32_t ifindex = 0; // the arrival interface
	// When ifindex is 0 (a Reconfigure, not an answer): the interface by
	// name, as the lease remembers it.
	std::string interface;
	dhcp6::MessageType type = dhcp6::MessageType::Reply; // innermost, for counters
};

struct ServerCounters {
	std::map<std::string, uint64_t> received; // by message type (innermost)
	std::map<std::string, uint64_t> sent;     // by message type (innermost)
	std::map<std::string, uint64_t> dropped;  // by reason; a fixed set of names
	std::map<std::string, uint64_t> malformed; // what the parser refused: header or option name
	// RFC 8415 §18.3.11: clients queued, answered (they Renewed or
	// Rebound), given up after REC_MAX_RC transmissions, or whose lease
	// ended meanwhile.
	std::map<std::string, uint64_t> reconfigure;
};

// A Reconfigure Key (RFC 8415 §20.4.1), from a CSPRNG; nullopt when none
// could be had (then the client is given none).
using ReconfigureKeySource = std::function<std::optional<dhcp6::ReconfigureKey>()>;

class ServerEngine {
public:
	// Throws std::invalid_argument when a pool cannot be built (the
	// configuration parser refuses those first).
	// `keys` makes Reconfigure Keys (default: OpenSSL's RAND_bytes);
	// `rand` the RAND factor of Reconfigure retransmissions (§15).
	ServerEngine(const ServerConfig &config, LeaseStore &leases, dhcp6::Duid server_duid,
		     ReconfigureKeySource keys = {}, std::function<double()> rand = {});

	// New pools, options and reservations; leases stay as they are. A
	// lease outside the new pools is answered with lifetimes 0 at its
	// next Renew or Rebind (RFC 8415 §18.3.4, §18.3.5).
	void reconfigure(const ServerConfig &config);
	void set_upstream_captive_portal(std::optional<std::string> uri) { upstream_captive_portal_ = std::move(uri); }

	// Parse and answer one UDP payload. nullopt: nothing to send (the
	// reason is counted).
	std::optional<Outgoing> handle_datagram(std::span<const uint8_t> payload,
						const ReceiveContext &context, int64_t now);
	// The same for a parsed message: the Advertise/Reply, wrapped in
	// Relay-Reply messages when `received` was a Relay-Forward.
	std::optional<dhcp6::Message> handle(const dhcp6::Message &received,
					     const ReceiveContext &context, int64_t now);

	// RFC 8415 §18.3.3: the prefixes of each link we serve directly (from
	// the interface's own global addresses), for Confirm. Replaces all.
	void set_link_prefixes(std::map<std::string, std::vector<Ipv6Prefix>> prefixes);

	// RFC 8415 §18.3.11: queue a Reconfigure (Renew) for every client with
	// a Reconfigure Key and a live lease that no longer fits its link (a
	// pool taken away or renumbered, a reservation for someone else).
	// Returns how many clients were queued.
	size_t schedule_reconfigures(Seconds now);
	// The Reconfigures due at `now` (wall clock), signed (§20.4.2) and, for
	// a relayed client, wrapped for its relays (§19.3). Each is sent again
	// after REC_TIMEOUT, doubling, up to REC_MAX_RC times (§15, §7.6).
	std::vector<Outgoing> due_reconfigures(Seconds now);
	// When due_reconfigures() next has something; nullopt: nothing queued.
	std::optional<Seconds> next_reconfigure() const;
	// Clients with a Reconfigure outstanding (DUID, transmissions so far).
	nlohmann::json reconfigure_status() const;

	const ServerCounters &counters() const { return counters_; }
	// For what the socket layer drops before the engine sees it.
	void count_dropped(const std::string &reason) { counters_.dropped[reason]++; }
	const dhcp6::Duid &duid() const { return duid_; }
	// Each pool: prefix, delegated length, where, size and live leases.
	nlohmann::json pools_status(int64_t now) const;
	// Whether a lease's prefix still belongs to a configured pool.
	bool in_any_pool(const Lease &lease) const;

	// The DUID under which Decline (RFC 8415 §18.3.8) parks an address
	// that a client found in use, so nobody gets it until it expires.
	static const std::vector<uint8_t> &declined_owner();

private:
	struct Pool {
		PoolConfig config;
		PrefixPool range;
	};
	// The link a client is on (RFC 8415 §13.1): our interface, or the
	// link-address of its nearest relay.
	struct Link {
		std::string interface;
		std::optional<Ipv6Address> relay_link_address;
		bool relayed = false;
	};
	// One IA of the client's message.
	struct IaRequest {
		LeaseKind kind = LeaseKind::prefix;
		uint32_t iaid = 0;
		std::vector<Ipv6Prefix> listed; // prefixes / addresses (as /128), host bits cleared
	};
	// What one IA of the answer carries.
	struct IaAnswer {
		LeaseKind kind = LeaseKind::prefix;
		uint32_t iaid = 0;
		std::optional<Ipv6Prefix> granted; // with the configured lifetimes
		std::vector<Ipv6Prefix> withdrawn;  // lifetimes 0
		std::optional<dhcp6::Status> status;
		std::string status_message;
	};
	struct Exchange; // one client message being answered

	std::optional<dhcp6::Message> answer(const dhcp6::Message &received, const dhcp6::Message &message,
					     const Link &link, const ReceiveContext &context, int64_t now);
	std::optional<dhcp6::Message> drop(const std::string &reason);

	dhcp6::Message solicit(const Exchange &x);
	dhcp6::Message request(const Exchange &x);
	dhcp6::Message renew_or_rebind(const Exchange &x, bool rebind);
	dhcp6::Message release(const Exchange &x);
	dhcp6::Message decline(const Exchange &x);
	std::optional<dhcp6::Message> confirm(const Exchange &x);
	dhcp6::Message information_request(const Exchange &x);

	std::vector<IaRequest> ias_of(const dhcp6::Message &message) const;
	std::vector<const Pool *> pools_for(const Link &link, LeaseKind kind) const;
	bool appropriate(const Ipv6Prefix &prefix, const Link &link, LeaseKind kind) const;
	bool all_on_link(const Exchange &x, const std::vector<Ipv6Prefix> &addresses) const;
	bool reserved_for_other(const Ipv6Prefix &prefix, const LeaseKey &key) const;
	bool usable_by(const Ipv6Prefix &prefix, const LeaseKey &key, int64_t now) const;
	std::optional<Ipv6Prefix> pick(const Exchange &x, const IaRequest &ia) const;
	void bind(const Exchange &x, const LeaseKey &key, const Ipv6Prefix &prefix);
	void add_ia(dhcp6::Message &reply, const IaAnswer &answer) const;
	void add_requested_options(dhcp6::Message &reply, const dhcp6::Message &received) const;
	LeaseKey key_of(const Exchange &x, const IaRequest &ia) const;
	bool relay_allowed(const Ipv6Address &source) const;
	// The client's Reconfigure Key, from any lease of its.
	std::optional<dhcp6::ReconfigureKey> key_of_client(const std::vector<uint8_t> &duid) const;
	// A live lease of the client with a key and a way back to it.
	const Lease *reconfigure_target(const std::vector<uint8_t> &duid, int64_t now) const;
	// Whether a lease still fits the link it was bound on.
	bool still_fits(const Lease &lease) const;
	std::optional<Outgoing> reconfigure_message(const Lease &lease, Seconds now);
	// §20.3, RDM 0: a strictly increasing counter (NTP-format time, or
	// one more than the last value when the clock did not move on).
	uint64_t next_replay_detection(Seconds now);

	ServerConfig config_;
	std::optional<std::string> upstream_captive_portal_;
	LeaseStore &leases_;
	dhcp6::Duid duid_;
	std::vector<Pool> pools_;
	// Per pool: when (time, journal generation) it was last found full.
	struct FullMark {
		int64_t now = -1;
		uint64_t generation = 0;
		bool operator==(const FullMark &) const = default;
	};
	mutable std::vector<FullMark> full_;
	ServerCounters counters_;
	std::map<std::string, std::vector<Ipv6Prefix>> link_prefixes_;
	ReconfigureKeySource keys_;
	std::function<double()> rand_;
	uint64_t last_replay_detection_ = 0;
	struct PendingReconfigure {
		Retransmission retransmission;
		Seconds next{0};
	};
	std::map<std::vector<uint8_t>, PendingReconfigure> reconfigures_; // by client DUID
};

} // namespace umigame::dhcp6d
