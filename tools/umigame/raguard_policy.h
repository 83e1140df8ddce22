// An RA guard policy for one port, as the operator writes it in TOML, and
// its translation into the rag_* map entries bpf/raguard.bpf.c reads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "umigame/net.h"
#include "umigame/raguard.h"

namespace umigame {

struct RaGuardPolicy {
	struct Router {
		Ipv6Address address;           // link-local source of its RAs
		std::optional<MacAddress> mac; // pinned Ethernet source, if given
	};

	std::vector<Router> routers;
	std::vector<MacAddress> router_macs; // trusted by MAC, any source address
	std::vector<Ipv6Prefix> prefixes;    // empty: any PIO prefix
	bool check_prefixes = false;
	umigame_raguard_pref max_preference = UMIGAME_RAG_PREF_HIGH;
	bool allow_managed = true;
	bool allow_other_config = true;
	bool block_all = false;
	bool drop_invalid = false;
	std::vector<Ipv6Address> dhcpv6_servers;
	// Drop events per port: a burst, then a sustained rate per second.
	// The drops beyond it are counted (suppressed), not sent.
	uint32_t event_burst = UMIGAME_RAG_EVENT_BURST_DEFAULT;
	uint32_t event_rate = UMIGAME_RAG_EVENT_RATE_DEFAULT;

	uint32_t map_flags() const;
};

// The event limit in the units bpf/raguard.bpf.c compares
// (UMIGAME_RAG_EVENT_SHIFT fractions of a jiffy), for a kernel ticking hz
// times a second. The interval is rounded up: the rate is never exceeded.
struct RaGuardEventLimit {
	uint64_t interval = 0;
	uint64_t window = 0;
};
RaGuardEventLimit raguard_event_limit(uint32_t burst, uint32_t rate, uint32_t hz);

// Read and validate a policy file. Throws ConfigError naming file:line.
RaGuardPolicy load_raguard_policy(const std::string &file);

// Same, from TOML text (tests and fuzzing); `name` is used in errors.
RaGuardPolicy parse_raguard_policy(std::string_view text, const std::string &name);

const char *preference_name(umigame_raguard_pref pref);

} // namespace umigame
