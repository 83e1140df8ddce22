// The requesting router's protocol state, RFC 8415 §18.2, without sockets
// or clocks: the caller feeds it received datagrams (receive), the time
// (tick, at deadline()), and the wish to stop (release); it answers with
// messages to send (take_outgoing) and a binding (the leases, DNS
// configuration and address-selection policy) that the caller applies to
// the system whenever changed() says so. Time is a monotonic clock in
// seconds, the random source injectable: the unit tests drive it exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6/message.h"
#include "umigame/dhcp6d/client_config.h"
#include "umigame/dhcp6d/retransmit.h"

namespace umigame::dhcp6d {

inline constexpr Seconds kForever{std::numeric_limits<double>::infinity()};

// A lifetime as received (seconds, kInfinity = forever) and when it
// started counting.
struct Lifetimes {
	uint32_t preferred = 0;
	uint32_t valid = 0;
	Seconds obtained{0};

	Seconds preferred_until() const;
	Seconds valid_until() const;
	// What is left at `now`, in whole seconds (kInfinity stays kInfinity).
	uint32_t preferred_left(Seconds now) const;
	uint32_t valid_left(Seconds now) const;
	bool operator==(const Lifetimes &) const = default;
};

struct LeasedPrefix {
	Ipv6Prefix prefix{};
	Lifetimes lifetimes{};
	// RFC 6603: the part the ISP keeps (its link to us); no LAN gets it.
	std::optional<Ipv6Prefix> excluded{};
	bool operator==(const LeasedPrefix &) const = default;
};

struct LeasedAddress {
	Ipv6Address address{};
	Lifetimes lifetimes{};
	bool operator==(const LeasedAddress &) const = default;
};

// One IA the server gave us leases in (§12).
struct IaBinding {
	bool prefix_delegation = true; // IA_PD; false: IA_NA
	uint32_t iaid = 0;
	// T1/T2 in seconds as the client uses them (the server's, or the
	// §21.4/§21.21 defaults when it sent 0), counted from `obtained`.
	uint32_t t1 = 0;
	uint32_t t2 = 0;
	Seconds obtained{0};
	std::vector<LeasedPrefix> prefixes{};
	std::vector<LeasedAddress> addresses{};

	bool empty() const { return prefixes.empty() && addresses.empty(); }
	bool operator==(const IaBinding &) const = default;
};

struct Binding {
	dhcp6::Duid server;
	std::vector<IaBinding> ias;
	// RFC 3646 from the last Reply.
	std::vector<Ipv6Address> dns_servers;
	std::vector<dhcp6::DomainName> search_domains;
	// RFC 7078 from the last Reply (empty: none sent).
	std::vector<dhcp6::AddressSelectionPolicy> address_selection;
	// RFC 8910 §2.2 from the last Reply.
	std::optional<std::string> captive_portal;
	// §20.4.1: the key from the server's Reply, and the highest replay
	// detection value seen from it (§20.3: Reconfigures must exceed it).
	std::optional<dhcp6::ReconfigureKey> reconfigure_key;
	uint64_t replay_detection = 0;

	bool empty() const;
	std::vector<const LeasedPrefix *> prefixes() const;
	const IaBinding *find(bool prefix_delegation, uint32_t iaid) const;
	bool operator==(const Binding &) const = default;
};

enum class ClientPhase {
	Starting,   // the random delay before the first Solicit (§18.2.1)
	Soliciting, // §18.2.1
	Requesting, // §18.2.2
	Bound,
	Renewing,   // §18.2.4
	Rebinding,  // §18.2.5
	Informing,  // §18.2.6, after a Reconfigure asking for it
	Declining,  // §18.2.8
	Releasing,  // §18.2.7
	Stopped,
};
std::string phase_name(ClientPhase phase);

struct ClientCounters {
	uint64_t sent = 0;
	uint64_t received = 0;
	uint64_t malformed = 0;  // did not parse: dropped
	uint64_t ignored = 0;    // parsed, but not for us or not now (§16)
	uint64_t reconfigure_accepted = 0;
	uint64_t reconfigure_rejected = 0; // bad key, replay, wrong server
	uint64_t solicits = 0, requests = 0, renews = 0, rebinds = 0, releases = 0, declines = 0,
		 information_requests = 0;
};

struct MachineOptions {
	std::vector<PrefixRequest> prefixes;
	std::optional<uint32_t> address_iaid;
	bool rapid_commit = false;
	bool reconfigure_accept = true;
	bool address_selection = true;
};

class ClientMachine {
public:
	// random32: uniformly random 32-bit values (transaction ids, RAND, the
	// first Solicit's delay).
	ClientMachine(MachineOptions options, dhcp6::Duid duid, std::function<uint32_t()> random32);

	// Begin. With leases saved by an earlier run that are still valid,
	// Rebind them (§18.2.12: a requesting router that restarts confirms its
	// delegated prefixes with Rebind); otherwise Solicit after a random
	// delay of up to SOL_MAX_DELAY (§18.2.1). `saved` lifetimes are on the
	// same clock as `now`. `link_ready` false: the upstream link-local
	// address is not usable yet (DAD); nothing can leave before it (§13),
	// so the first Solicit's delay only starts at link_ready().
	void start(Seconds now, std::optional<Binding> saved = std::nullopt, bool link_ready = true);
	// The upstream link-local address is usable (RFC 7084 W-2: the Router
	// Solicitation leaves now too), or the caller gave up waiting for it.
	void link_ready(Seconds now);
	// An upstream router's RA was heard; `options` is what the client
	// wants now (with an IA_NA when the RA set M, RFC 7084 WAA-6). During
	// the first Solicit's random delay (§18.2.1) the Solicit leaves at
	// once, so that it carries what the RA asked for. Otherwise nothing
	// is sent and an exchange in progress goes on untouched (§15: same
	// transaction-id, RT sequence and Elapsed Time): a newly wanted IA
	// goes into the Renew at T1 (§18.2.4), or into the next Solicit when
	// nothing is bound.
	void router_advertised(Seconds now, MachineOptions options);

	// A datagram from port 547. Malformed or unexpected ones are counted
	// and dropped.
	void receive(Seconds now, std::span<const uint8_t> wire);
	// Run what is due at `now` (retransmissions, T1, T2, expiry).
	void tick(Seconds now);
	// When tick() should run next; nullopt = nothing scheduled.
	std::optional<Seconds> deadline() const;

	// Stop: Release every lease (§18.2.7). finished() turns true when the
	// server answered or the retransmissions gave up (at once without
	// leases).
	void release(Seconds now);
	// Stop without a Release (RFC 9096 WPD-9: a restart must not renumber
	// the LAN): the leases stay the server's promise to us, kept on disk
	// by the caller; here they are no longer used. finished() at once.
	void stop_keeping_leases();
	bool finished() const { return phase_ == ClientPhase::Stopped; }
	// Duplicate Address Detection failed for an IA_NA address: stop using
	// it and Decline it (§18.2.8).
	void decline(Seconds now, const Ipv6Address &address);
	// The upstream link came back (carrier up): we may be on another link
	// now, so confirm the leases with Rebind (§18.2.12).
	void link_up(Seconds now);
	// A new configuration from the operator (SIGHUP: IAs, options).
	// Leases of IAs no longer wanted stay until they are renewed without
	// them; new IAs are asked for in a Renew now, or in a new Solicit if
	// unbound. (What an RA asks for goes through router_advertised().)
	void reconfigure(Seconds now, MachineOptions options);

	std::vector<dhcp6::Message> take_outgoing();
	// Whether the binding changed since the last call (which clears it).
	bool take_changed();

	const Binding &binding() const { return binding_; }
	ClientPhase phase() const { return phase_; }
	const ClientCounters &counters() const { return counters_; }
	const dhcp6::Duid &duid() const { return duid_; }
	Seconds sol_max_rt() const { return sol_max_rt_; }
	// Earliest T1 and T2 across the bound IAs (kForever when infinite).
	Seconds renew_at() const;
	Seconds rebind_at() const;

private:
	struct Exchange {
		dhcp6::MessageType type;
		dhcp6::Message message;
		Retransmission retransmission;
		Seconds next_send{0};
	};
	struct Offer {
		dhcp6::Message advertise;
		uint8_t preference = 0;
		size_t leases = 0;
	};

	double rand_factor();
	Seconds first_solicit_delay();
	uint32_t new_xid();
	dhcp6::OptionRequest option_request(bool solicit) const;
	void add_wanted_ias(dhcp6::Message &m, bool with_hints) const;
	void add_bound_ias(dhcp6::Message &m) const;

	void begin(dhcp6::MessageType type, dhcp6::Message message, RetransmitParams params, Seconds now);
	void send(Seconds now);
	void exchange_failed(Seconds now);

	void begin_solicit(Seconds now);
	void rediscover(Seconds now);
	void begin_request(Seconds now, const dhcp6::Message &advertise);
	void begin_renew(Seconds now);
	void begin_rebind(Seconds now);
	void begin_information_request(Seconds now);
	void enter_bound(Seconds now);
	void expire(Seconds now);
	void drop_binding();

	void on_advertise(Seconds now, const dhcp6::Message &m);
	void on_reply(Seconds now, const dhcp6::Message &m);
	void on_reconfigure(Seconds now, const dhcp6::Message &m, std::span<const uint8_t> wire);
	// §18.2.10: apply a Reply's IAs and options; returns false when it
	// bound nothing. Sets `no_binding` when an IA came back NoBinding.
	bool apply_reply(Seconds now, const dhcp6::Message &m, bool &no_binding);
	void apply_options(const dhcp6::Message &m);
	size_t count_leases(const dhcp6::Message &m) const;
	bool wants(bool prefix_delegation, uint32_t iaid) const;

	MachineOptions options_;
	dhcp6::Duid duid_;
	std::function<uint32_t()> random32_;
	ClientPhase phase_ = ClientPhase::Starting;
	std::optional<Exchange> exchange_;
	Seconds start_at_{0};
	// The first Solicit's random delay (§18.2.1) is running, or waits for
	// the link-local address; an RA was heard.
	bool first_delay_ = false;
	bool awaiting_link_ = false;
	bool router_heard_ = false;
	// §18.2.1: Advertises collected during the first RT of the Solicit.
	std::vector<Offer> offers_;
	Seconds first_rt_end_{0};
	bool collecting_ = false;
	Seconds sol_max_rt_ = rfc8415::solicit().mrt;
	Seconds inf_max_rt_ = rfc8415::information_request().mrt;
	Binding binding_;
	bool changed_ = false;
	std::vector<dhcp6::Message> outgoing_;
	std::vector<Ipv6Address> declining_;
	unsigned failed_rounds_ = 0; // discovery rounds that bound nothing
	ClientCounters counters_;
};

} // namespace umigame::dhcp6d
