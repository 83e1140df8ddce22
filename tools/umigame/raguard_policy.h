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

	uint32_t map_flags() const;
};

// Read and validate a policy file. Throws ConfigError naming file:line.
RaGuardPolicy load_raguard_policy(const std::string &file);

// Same, from TOML text (tests and fuzzing); `name` is used in errors.
RaGuardPolicy parse_raguard_policy(std::string_view text, const std::string &name);

const char *preference_name(umigame_raguard_pref pref);

} // namespace umigame
