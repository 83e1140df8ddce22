// The MLD proxy's membership logic (RFC 4605), without sockets or a clock of
// its own: the daemon feeds it parsed messages and the time, and carries
// out what it asks through Output. Tests drive it the same way.
//
// Downstream interfaces: the router side of MLDv2 (RFC 3810 §7): per group
// a filter mode, source records with timers and a filter timer (§7.2), the
// transitions of §7.4.1 (current-state records) and §7.4.2 (filter-mode and
// source-list changes), group- and group-and-source-specific queries with
// Last Listener Query Count/Interval (§7.6.3), querier election (§7.6.2),
// startup queries (§7.6), MLDv1 hosts (§8.3.2), optional fast leave.
//
// Upstream: the host side (RFC 3810 §6) for the merge of every downstream's
// state (RFC 4605 §4.1): state-change reports at once on a change, repeated
// robustness-variable times (§6.1), current-state reports answering queries
// (§6.2, §6.3), MLDv1 reports while an MLDv1 querier is present (§8.2).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "umigame/mld/message.h"
#include "umigame/net.h"

namespace umigame::mld {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

struct InterfaceConfig {
	std::string name;
	uint32_t ifindex = 0;
	bool fast_leave = false;		   // drop a group at once on leave (one listener per link)
	unsigned robustness = 2;		   // §9.1
	Millis query_interval{125000};		   // §9.2
	Millis query_response_interval{10000};	   // §9.3
	Millis last_listener_query_interval{1000}; // §9.8
	size_t max_groups = 20000;		   // state bounds: beyond them, new groups/sources are refused
	size_t max_sources = 1024;		   // per group
};

struct EngineConfig {
	InterfaceConfig upstream;
	std::vector<InterfaceConfig> downstream;
	Millis unsolicited_report_interval{1000}; // §9.11
};

class Output {
public:
	virtual ~Output() = default;
	// An MLD message for `ifindex`, to `to`; the socket adds hop limit 1,
	// the Router Alert and the link-local source (RFC 3810 §5).
	virtual void send(uint32_t ifindex, const Ipv6Address &to, std::vector<uint8_t> icmp) = 0;
	// What `group` wants on some downstream may have changed: the forwarding
	// entries of its sources are to be recomputed with wanted().
	virtual void membership_changed(const Ipv6Address &group) = 0;
};

enum class FilterMode { include, exclude };

// A membership as RFC 3810 §4.2 / RFC 4605 §4.1 merge them: INCLUDE with
// the sources wanted, or EXCLUDE with the sources not wanted.
struct Membership {
	FilterMode mode = FilterMode::include;
	std::set<Ipv6Address> sources;
	auto operator<=>(const Membership &) const = default;
};

// Why a message was not acted on, counted per interface.
struct Counters {
	uint64_t queries_received = 0, queries_sent = 0, reports_received = 0, records = 0;
	uint64_t v1_reports = 0, v1_dones = 0;
	uint64_t ignored_not_link_local = 0; // §5.1.14, §5.2.13
	uint64_t ignored_group = 0;	     // not a multicast group of scope wider than link-local
	uint64_t refused_limits = 0;	     // max_groups / max_sources reached
};

class Engine {
public:
	// `random(n)` returns a number in [0, n] (ms); tests inject their own.
	Engine(EngineConfig config, Output &out, std::function<uint32_t(uint32_t)> random);

	// New parameters for the same interfaces (a reload): state is kept.
	// False, and nothing changed, when the interfaces differ.
	bool reconfigure(const EngineConfig &config);
	// Startup queries on every downstream (§7.6: Startup Query Count at
	// Startup Query Interval).
	void start(TimePoint now);
	// Our link-local address on an interface: the source of its queries and
	// our side of the querier election.
	void set_address(uint32_t ifindex, const Ipv6Address &address);
	// A message that passed the socket's checks (hop limit 1, Router Alert).
	void receive(uint32_t ifindex, const Ipv6Address &source, const Message &m, TimePoint now);
	// The upstream link came back: report the whole state again as
	// state changes (RFC 3810 §6.1 from nothing to what is).
	void upstream_up(TimePoint now);
	void upstream_down();
	// Fire what is due. next_deadline() may be early, never late.
	void tick(TimePoint now);
	TimePoint next_deadline() const { return std::min({next_deadline_, next_state_change_, next_response_}); }

	// The forwarding decision: is (source, group) wanted on downstream
	// `ifindex`? INCLUDE with the source, or EXCLUDE without it (§7.2.3).
	bool wanted(uint32_t ifindex, const Ipv6Address &source, const Ipv6Address &group, TimePoint now) const;
	// Sources a downstream asked for by name (INCLUDE lists and EXCLUDE's
	// requested lists): known before any packet, so entries can go in at once.
	std::set<Ipv6Address> named_sources(const Ipv6Address &group, TimePoint now) const;
	// RFC 4605 §4.1: every downstream merged; what upstream was told.
	std::map<Ipv6Address, Membership> merged(TimePoint now) const;
	std::optional<Membership> interface_membership(uint32_t ifindex, const Ipv6Address &group, TimePoint now) const;
	bool querier(uint32_t ifindex) const;
	const Counters *counters(uint32_t ifindex) const;
	size_t group_count(uint32_t ifindex) const;

	// At most `max_groups` groups per interface are listed (group_count
	// says how many there are), so the answer stays bounded.
	nlohmann::json show(TimePoint now, size_t max_groups = 1000) const;

private:
	struct GroupState {
		FilterMode mode = FilterMode::include;
		TimePoint filter_timer{};
		std::map<Ipv6Address, TimePoint> sources; // timer; <= now: "0" (§7.2.3)
		TimePoint v1_host_present{};		  // §8.3.2
		unsigned group_queries_left = 0;
		std::map<Ipv6Address, unsigned> source_queries_left;
		TimePoint next_specific_query{};
	};
	struct Downstream {
		InterfaceConfig config;
		Ipv6Address address;
		bool is_querier = true;
		Ipv6Address querier_address;
		TimePoint other_querier_present{};
		TimePoint next_general_query{};
		unsigned startup_left = 0;
		unsigned robustness = 2; // adopted from the querier's QRV (§5.1.8)
		Millis query_interval{};
		std::map<Ipv6Address, GroupState> groups;
		Counters counters;
	};
	struct UpstreamGroup {
		Membership reported;
		unsigned mode_left = 0;
		std::map<Ipv6Address, unsigned> allow_left, block_left;
	};
	struct PendingResponse {
		TimePoint at;
		bool whole_group = false;
		std::set<Ipv6Address> sources;
	};

	Downstream *downstream(uint32_t ifindex);
	const Downstream *downstream(uint32_t ifindex) const;
	Millis mali(const Downstream &d) const;
	Millis llqt(const Downstream &d) const;
	void query_received(Downstream &d, const Ipv6Address &source, const Message &m, TimePoint now);
	void record(Downstream &d, const Record &r, bool v1, TimePoint now);
	void send_general_query(Downstream &d, TimePoint now);
	// Lower the timers a specific query asks about; true when the querier
	// is to send it (send_specific_queries).
	bool query_group(Downstream &d, GroupState &gs, TimePoint now);
	bool query_sources(Downstream &d, GroupState &gs, const std::set<Ipv6Address> &a, TimePoint now);
	void send_specific_queries(Downstream &d, const Ipv6Address &g, GroupState &gs, TimePoint now);
	bool expire(GroupState &gs, TimePoint now); // true when the group is gone
	void changed(const Ipv6Address &g, TimePoint now);
	Membership merge(const Ipv6Address &g, TimePoint now) const;
	void upstream_query(const Message &m, TimePoint now);
	void scan_downstream(TimePoint now);
	void send_state_changes(TimePoint now);
	void send_responses(TimePoint now);
	void send_current_state(const std::vector<Record> &records);
	void soon(TimePoint t);

	EngineConfig config_;
	Output &out_;
	std::function<uint32_t(uint32_t)> random_;
	std::vector<Downstream> downstream_;
	Counters upstream_counters_;
	unsigned upstream_robustness_;
	bool upstream_is_up_ = true;
	std::map<Ipv6Address, UpstreamGroup> upstream_;
	std::set<Ipv6Address> pending_; // groups of upstream_ with retransmissions left
	TimePoint next_state_change_{TimePoint::max()};
	std::optional<TimePoint> general_response_;
	std::map<Ipv6Address, PendingResponse> group_responses_;
	TimePoint v1_querier_present_{}; // §8.2.1
	TimePoint next_deadline_{TimePoint::max()}; // downstream timers (a scan of every group)
	TimePoint next_response_{TimePoint::max()}; // answers to upstream queries
};

} // namespace umigame::mld
