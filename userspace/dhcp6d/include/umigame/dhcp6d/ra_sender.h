// The requesting router's own Router Advertisements on each downstream
// interface (RFC 4861 §6.2): the prefixes carved from the delegated ones,
// with lifetimes that follow the lease and count down, RDNSS/DNSSL
// (RFC 8106), router preference (RFC 4191), MTU and source link-layer
// address.
//
// RaSchedule is the timing of §6.2.4 and §6.2.6 alone (testable without a
// socket); RaSender owns the raw ICMPv6 socket of one interface.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/dhcp6d/client_config.h"
#include "umigame/dhcp6d/client_machine.h"
#include "umigame/dhcp6d/ra_message.h"
#include "umigame/event_loop.h"

namespace umigame::dhcp6d {

// RFC 4861 §10 router constants.
inline constexpr int kMaxInitialRtrAdvertisements = 3;
inline constexpr Seconds kMaxInitialRtrAdvertInterval{16};
inline constexpr Seconds kMinDelayBetweenRas{3};
inline constexpr Seconds kMaxRaDelayTime{0.5};

class RaSchedule {
public:
	// uniform01: uniformly random values in [0, 1).
	RaSchedule(Seconds min_interval, Seconds max_interval, std::function<double()> uniform01);

	// Start over with the initial fast advertisements (interface up, or
	// what we announce changed: §6.2.4), the first one at `now`.
	void restart(Seconds now);
	// §6.2.6: a valid Router Solicitation arrived. The answer is the next
	// multicast RA, sent after a random delay of up to MAX_RA_DELAY_TIME
	// but no sooner than MIN_DELAY_BETWEEN_RAS after the last one; an RA
	// already due earlier answers it too.
	void solicited(Seconds now);
	// A multicast RA went out at `now`: schedule the next unsolicited one
	// (§6.2.4: uniformly in [Min, Max], at most 16 s during the first
	// MAX_INITIAL_RTR_ADVERTISEMENTS).
	void sent(Seconds now);

	// New Min/MaxRtrAdvInterval (a reload); the last RA still counts for
	// MIN_DELAY_BETWEEN_RAS.
	void set_intervals(Seconds min_interval, Seconds max_interval)
	{
		min_ = min_interval;
		max_ = max_interval;
	}

	Seconds next() const { return next_; }
	std::optional<Seconds> last_sent() const { return last_; }

private:
	Seconds min_, max_;
	std::function<double()> uniform01_;
	Seconds next_{0};
	std::optional<Seconds> last_;
	int initial_left_ = kMaxInitialRtrAdvertisements;
};

// What one interface announces for one prefix.
struct AnnouncedPrefix {
	Ipv6Prefix prefix;
	Lifetimes lifetimes;
	// Lifetimes that do not count down: the prefix is ours, not leased
	// (the ULA), and every RA carries the same values.
	bool steady = false;
	bool operator==(const AnnouncedPrefix &) const = default;
};

// Everything one interface announces but the router lifetime.
struct RaContent {
	std::vector<AnnouncedPrefix> prefixes; // Prefix Information (on-link, SLAAC)
	// Route Information (RFC 7084 L-3): the whole delegated prefixes and the
	// ULA /48 are reachable through us, default router or not.
	std::vector<AnnouncedPrefix> routes;
	std::vector<Ipv6Address> dns_servers; // added to the configured ones
	std::vector<dhcp6::DomainName> search_domains;
	std::optional<std::string> captive_portal; // from upstream; config wins
	bool operator==(const RaContent &) const = default;
};

// What one interface announces: the current pieces, and those that went
// away (lease lost, prefix changed), kept and announced deprecated until
// their valid lifetime has ended and the next MAX_INITIAL_RTR_ADVERTISEMENTS
// RAs have told the hosts — not silently dropped.
class Announcements {
public:
	// The pieces to announce now; true when the set of prefixes changed
	// (not merely their lifetimes, as after a renewal).
	bool update(std::vector<AnnouncedPrefix> prefixes);
	const std::vector<AnnouncedPrefix> &current() const { return current_; }
	std::vector<AnnouncedPrefix> withdrawn() const;
	// An RA carried them at `now`: count it, forget what is done.
	void sent(Seconds now);

private:
	struct Withdrawn {
		AnnouncedPrefix prefix;
		int announcements_left;
	};
	std::vector<AnnouncedPrefix> current_;
	std::vector<Withdrawn> withdrawn_;
};

// The RA for `content` at `now` (leased lifetimes counting down); pure,
// for the unit tests. `withdrawn` are announced with preferred lifetime 0
// and what is left of their valid lifetime. We are a default router only
// with a live leased prefix and `upstream_default` (a default route on
// the WAN: RFC 7084 G-4; a ULA alone is not enough: ULA-5). `final` is a
// §6.2.5 last RA: router lifetime 0 and every prefix deprecated.
RouterAdvertisement build_advertisement(const RaConfig &config, Seconds now, const RaContent &content,
					const std::vector<AnnouncedPrefix> &withdrawn, std::optional<MacAddress> mac,
					bool upstream_default, bool final);

struct RaCounters {
	uint64_t advertisements = 0;
	uint64_t solicitations = 0;
	uint64_t malformed = 0; // RS that failed §6.1.1: dropped
	uint64_t send_errors = 0;
};

class RaSender {
public:
	// Throws std::runtime_error when the socket cannot be set up.
	RaSender(EventLoop &loop, uint32_t ifindex, std::string interface, std::optional<MacAddress> mac,
		 RaConfig config);
	~RaSender();
	RaSender(const RaSender &) = delete;
	RaSender &operator=(const RaSender &) = delete;

	// What to announce now; a change triggers the initial fast RAs.
	// Prefixes that disappear are kept and announced deprecated until their
	// valid lifetime ends (and at least in the next few RAs).
	void update(RaContent content);
	// Whether the WAN has a default router. Losing it sends an RA with
	// router lifetime 0 at once (RFC 7084 G-5: "immediately", which wins
	// over §6.2.6's MIN_DELAY_BETWEEN_RAS); regaining it restarts the
	// initial fast RAs.
	void set_upstream_default(bool available);
	void set_config(RaConfig config);
	// §6.2.5: one final RA (the RFC allows up to MAX_FINAL_RTR_ADVERTISEMENTS,
	// 3; one is sent at once, as the daemon is leaving): router lifetime 0,
	// prefixes deprecated.
	void send_final();

	nlohmann::json status() const;
	const RaCounters &counters() const { return counters_; }

private:
	void on_readable();
	void on_timer();
	void arm();
	void send_now(bool final);

	EventLoop &loop_;
	uint32_t ifindex_;
	std::string interface_;
	std::optional<MacAddress> mac_;
	RaConfig config_;
	RaSchedule schedule_;
	Announcements announcements_;
	RaContent content_;
	bool upstream_default_ = false;
	RaCounters counters_;
	UniqueFd fd_;
	FdWatch watch_;
	Timer timer_;
};

Seconds monotonic_now();

} // namespace umigame::dhcp6d
